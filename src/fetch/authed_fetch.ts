/**
 * `authedFetch`: a `fetch` bound to one Kubernetes cluster and user.
 *
 * Each request gets the user's current credentials (exec plugin, token,
 * token file, client certificate, basic auth or in-cluster service account)
 * and goes out on the connection pool of the current client certificate
 * (see {@linkcode ConnectionRegistry}); a 401 refreshes the credentials and
 * retries once; credentials never leave the cluster's origin.
 *
 * @module
 */
import { ClusterClient } from "./client.ts";
import { parseServer, transportOptions } from "./cluster_server.ts";
import { ConnectionRegistry } from "./connection_registry.ts";
import type { TransportEvent } from "./connection_registry.ts";
import { createCredentialSource } from "./credential_source.ts";
import type { CredentialSourceOptions } from "./credential_source.ts";
import { clusterTarget } from "./request.ts";
import { SocketTransport } from "./socket_transport.ts";
import type { WebSocketRequestOptions } from "./web_socket.ts";
import type { CredentialSource } from "../credentials/credentials.ts";
import type { ExecEvent } from "../exec/events.ts";
import { resolveDefaultContext } from "../kubeconfig/mod.ts";
import type { Kubeconfig } from "../kubeconfig/types.ts";
import { getRuntimeAdapter } from "../runtime/mod.ts";
import type { RuntimeAdapter } from "../runtime/types.ts";

/**
 * Everything {@linkcode AuthedFetchOptions.onEvent} receives: exec plugin
 * events (`plugin-run`, `credentials-rotated`) and transport events
 * (`transport-created`, `transport-retired`, `transport-closed`).
 *
 * @example Usage
 * ```ts
 * import type { AuthedFetchEvent } from "@kubeauth/fetch";
 * const onEvent = (e: AuthedFetchEvent) => {
 *   if (e.type === "transport-retired") console.log("draining", e.inFlight);
 * };
 * onEvent({ type: "transport-retired", generation: 1, inFlight: 0 });
 * ```
 */
export type AuthedFetchEvent = ExecEvent | TransportEvent;

/** Options of {@linkcode createAuthedFetch}. */
export interface AuthedFetchOptions {
  /**
   * A kubeconfig file path or a parsed kubeconfig object.
   *
   * @default {$KUBECONFIG, then ~/.kube/config, then the in-cluster service account}
   */
  kubeconfig?: string | Kubeconfig;
  /**
   * The context to use.
   *
   * @default {the kubeconfig's current-context}
   */
  context?: string;
  /**
   * The service-account directory used for in-cluster configuration.
   *
   * @default {"/var/run/secrets/kubernetes.io/serviceaccount"}
   */
  inClusterDir?: string;
  /**
   * The runtime adapter (tests inject their own).
   *
   * @default {the adapter of the running runtime}
   */
  adapter?: RuntimeAdapter;
  /**
   * A credential source to use instead of the kubeconfig user's (the
   * cluster still comes from the kubeconfig). The caller keeps ownership:
   * {@linkcode AuthedFetch.close} does not close it.
   *
   * @default {the source for the context's user (see createCredentialSource)}
   */
  credentialSource?: CredentialSource;
  /**
   * How long one exec plugin run may take before it is killed.
   *
   * @default {the exec authenticator's default}
   */
  execTimeoutMs?: number;
  /**
   * Further exec plugin settings: `stdinUnavailable` (stdin carries a
   * request body), `interactiveTimeoutMs`, `maxOutputBytes`, backoff and
   * early-refresh margins (see the exec authenticator's options).
   *
   * @default {{}}
   */
  execOptions?: CredentialSourceOptions["execOptions"];
  /**
   * After a client-certificate rotation, how long requests still running on
   * the old certificate's connections (watches, slow responses) may go on
   * before those connections are force-closed. `Infinity` never forces.
   *
   * @default {30000}
   */
  drainTimeoutMs?: number;
  /**
   * Whether a request answered 401 is sent once more with refreshed
   * credentials (when the source has newer ones and the body can be
   * replayed). When false, the 401 still triggers the refresh (so later
   * requests succeed) and is returned, as client-go does.
   *
   * @default {true}
   */
  retryOnUnauthorized?: boolean;
  /**
   * How many same-origin redirects are followed for one request.
   *
   * @default {10}
   */
  maxRedirects?: number;
  /**
   * How long a request may wait for the response headers (credentials,
   * connection, TLS handshake and the server's answer included) before it
   * fails with `REQUEST_TIMEOUT`. The body is not covered, so watches may
   * run on. The caller's own `signal` still aborts with its own reason.
   *
   * @default {undefined (no deadline)}
   */
  requestTimeoutMs?: number;
  /**
   * Receives exec plugin and transport events. Exceptions it throws are ignored.
   *
   * @default {undefined}
   */
  onEvent?: (event: AuthedFetchEvent) => void;
  /**
   * The credential cache shared by processes (off by default): exec plugin
   * output is kept on disk, per exec configuration, until shortly before it
   * expires, so other processes (other CLI runs, `kubeauth cached` under
   * kubectl) skip the plugin. `true` uses `$KUBECACHEDIR/kubeauth`, else
   * `~/.kube/cache/kubeauth`. The files are as sensitive as the kubeconfig
   * (README: "Credential cache").
   *
   * @default {false}
   */
  credentialCache?: boolean | { dir: string };
}

/**
 * A `fetch` bound to one cluster and user. Relative URLs
 * (`/api/v1/namespaces`, `api/v1/namespaces`) resolve against the cluster
 * server, keeping its path prefix. HTTP errors are returned as responses.
 *
 * @example Usage
 * ```ts ignore
 * import { createAuthedFetch } from "@kubeauth/fetch";
 * const kube = await createAuthedFetch({ context: "prod" });
 * const res = await kube("/api/v1/namespaces/default/pods");
 * console.log(kube.server.href, res.status);
 * await kube.close();
 * ```
 */
export interface AuthedFetch {
  /**
   * Sends a request to the cluster with the user's credentials.
   *
   * - Credentials: `Authorization: Bearer <token>` (or `Basic` for
   *   username/password users) unless the request already has an
   *   `Authorization` header, which then wins (no credential lookup, no 401
   *   handling, as client-go); the client certificate goes on the TLS
   *   connection.
   * - 401: the credential source refreshes (once for all concurrent
   *   requests) and the request is sent once more if its body can be
   *   replayed: none, string, `ArrayBuffer`/typed array, `Blob`, `FormData`,
   *   `URLSearchParams`. A `ReadableStream` body (or a `Request`'s body) is
   *   not replayed: the 401 is returned. A failed refresh rejects with its
   *   credential error.
   * - Redirects (`redirect: "follow"`, the default): 301/302/303/307/308
   *   within the cluster's origin are followed (at most `maxRedirects`),
   *   with credentials; a redirect to another origin is returned to the
   *   caller as the 3xx response, unfollowed. `"manual"` returns every 3xx;
   *   `"error"` rejects with a `TypeError`.
   * - Only `method`, `headers`, `body`, `signal` and `redirect` of `init`
   *   (or of a `Request`) are used; runtime-specific options (`client`,
   *   `dispatcher`, `tls`…) are ignored: the connection is kubeauth's.
   * - HTTP errors are returned as responses; response bodies stream.
   *
   * @throws {KubeauthError} `ORIGIN_REFUSED` for a URL of another origin;
   *   `CLOSED` after {@linkcode AuthedFetch.close}; credential errors
   *   (`EXEC_FAILED`, …); the abort reason when the signal aborts.
   */
  (input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /** The cluster's server URL (with its path prefix, if any). */
  readonly server: URL;
  /** The context's name (`""` for in-cluster configuration). */
  readonly context: string;
  /** The context's default namespace. */
  readonly namespace: string;
  /**
   * Closes every connection (aborting requests and response bodies still
   * in flight), clears every timer and releases the credential source
   * (killing a plugin run only this client was waiting for). Later calls
   * reject with `CLOSED`. Idempotent.
   */
  close(): Promise<void>;
  /**
   * Opens a WebSocket to the cluster with the current credentials: the
   * Bearer token as a header, the client certificate on the TLS connection,
   * the same origin and path-prefix rules as the fetch. Resolves once the
   * socket is open (`binaryType` `arraybuffer`); messages the server sends
   * before the caller's first `message` listener are held for it.
   *
   * - A refused upgrade rejects with a `WebSocketRefusedError`
   *   (`WEBSOCKET_REFUSED`) carrying the HTTP status and the server's Status
   *   message; a 401 refreshes the credentials and tries once more.
   * - A socket opened with a client certificate that has since rotated is
   *   closed at the drain deadline (`drainTimeoutMs`), like a watch;
   *   {@linkcode AuthedFetch.close} closes every socket.
   *
   * @example Usage
   * ```ts ignore
   * import { createAuthedFetch } from "@kubeauth/fetch";
   * const kube = await createAuthedFetch();
   * const ws = await kube.webSocket(
   *   "/api/v1/namespaces/default/pods/web/exec?command=date&stdout=true",
   *   { protocols: ["v5.channel.k8s.io"] },
   * );
   * ws.onmessage = (e) => console.log(new Uint8Array(e.data));
   * ```
   */
  webSocket(
    path: string | URL,
    options?: WebSocketRequestOptions,
  ): Promise<WebSocket>;
}

/**
 * Creates a fetch bound to one kubeconfig context (or to the in-cluster
 * service account).
 *
 * Resolution and transport setup errors surface here (a missing context, a
 * proxy or TLS option the runtime cannot honour: `UNSUPPORTED`); credentials
 * are obtained lazily, on the first request.
 *
 * @example Usage
 * ```ts ignore
 * import { createAuthedFetch } from "@kubeauth/fetch";
 * const kube = await createAuthedFetch({ kubeconfig: "./kubeconfig", context: "dev" });
 * try {
 *   const res = await kube("/api/v1/namespaces/default/pods?watch=true");
 *   for await (const chunk of res.body!) console.log(new TextDecoder().decode(chunk));
 * } finally {
 *   await kube.close();
 * }
 * ```
 *
 * @param options Kubeconfig, context, timeouts, hooks.
 * @returns The bound fetch.
 */
export async function createAuthedFetch(
  options: AuthedFetchOptions = {},
): Promise<AuthedFetch> {
  const adapter = options.adapter ?? await getRuntimeAdapter();
  const ctx = await resolveDefaultContext({
    kubeconfig: options.kubeconfig,
    context: options.context,
    adapter,
    inClusterDir: options.inClusterDir,
  });
  const server = parseServer(ctx);
  const tls = transportOptions(ctx);
  // Let a TLS or proxy setting this runtime cannot honour fail now, not as
  // an odd first request.
  await adapter.createTransport(tls).close();
  const onEvent = options.onEvent;
  const source = options.credentialSource ??
    createCredentialSource(ctx, {
      adapter,
      execTimeoutMs: options.execTimeoutMs,
      execOptions: options.execOptions,
      onEvent,
      credentialCache: options.credentialCache,
    });
  const registry = new ConnectionRegistry({
    createTransport: (o) =>
      new SocketTransport(
        adapter.createTransport(o),
        adapter.openWebSocket,
        o,
      ),
    tls,
    drainTimeoutMs: options.drainTimeoutMs ?? 30_000,
    onEvent,
  });
  const client = new ClusterClient({
    target: clusterTarget(
      server,
      ctx.contextName,
      ctx.cluster.disableCompression,
    ),
    source,
    ownsSource: options.credentialSource === undefined,
    registry,
    retryOnUnauthorized: options.retryOnUnauthorized ?? true,
    maxRedirects: options.maxRedirects ?? 10,
    requestTimeoutMs: options.requestTimeoutMs,
  });
  return Object.defineProperties(client.fetch.bind(client), {
    server: { value: server, enumerable: true },
    context: { value: ctx.contextName, enumerable: true },
    namespace: { value: ctx.namespace, enumerable: true },
    close: { value: () => client.close() },
    webSocket: {
      value: (path: string | URL, o?: WebSocketRequestOptions) =>
        client.webSocket(path, o),
    },
  }) as AuthedFetch;
}

let defaultInstance: Promise<AuthedFetch> | undefined;

/**
 * `fetch` on a lazily created default client: the default kubeconfig
 * (`$KUBECONFIG`, `~/.kube/config`, else in-cluster) and its current
 * context, created on first use and kept for the life of the process.
 *
 * @example Usage
 * ```ts ignore
 * import { authedFetch } from "@kubeauth/fetch";
 * const res = await authedFetch("/version");
 * console.log(await res.json());
 * ```
 *
 * @param input A path (resolved against the cluster server), a URL of the cluster's origin, or a Request.
 * @param init As for `fetch`.
 * @returns The response.
 */
export function authedFetch(
  input: string | URL | Request,
  init?: RequestInit,
): Promise<Response> {
  const instance = defaultInstance ??= createAuthedFetch().catch((err) => {
    defaultInstance = undefined; // a later call may succeed (kubeconfig fixed)
    throw err;
  });
  return instance.then((kube) => kube(input, init));
}
