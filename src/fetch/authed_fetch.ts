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
import { ConnectionRegistry } from "./connection_registry.ts";
import type { Generation, TransportEvent } from "./connection_registry.ts";
import { createCredentialSource } from "./credential_source.ts";
import type { CredentialSourceOptions } from "./credential_source.ts";
import type {
  Credentials,
  CredentialSource,
} from "../credentials/credentials.ts";
import { makeCredentials } from "../credentials/credentials.ts";
import { KubeauthError, KubeconfigError } from "../errors.ts";
import type { ExecEvent } from "../exec/events.ts";
import { resolveDefaultContext } from "../kubeconfig/mod.ts";
import type { Kubeconfig, ResolvedContext } from "../kubeconfig/types.ts";
import { getRuntimeAdapter } from "../runtime/mod.ts";
import type { RuntimeAdapter, TransportOptions } from "../runtime/types.ts";

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
   * Receives exec plugin and transport events. Exceptions it throws are ignored.
   *
   * @default {undefined}
   */
  onEvent?: (event: AuthedFetchEvent) => void;
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
    });
  const registry = new ConnectionRegistry({
    createTransport: (o) => adapter.createTransport(o),
    tls,
    drainTimeoutMs: options.drainTimeoutMs ?? 30_000,
    onEvent,
  });
  return bind(ctx, server, source, options.credentialSource === undefined, {
    registry,
    retryOnUnauthorized: options.retryOnUnauthorized ?? true,
    maxRedirects: options.maxRedirects ?? 10,
  });
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

// ---------------------------------------------------------------------------

interface Settings {
  registry: ConnectionRegistry;
  retryOnUnauthorized: boolean;
  maxRedirects: number;
}

/** Credentials bound to the generation they go out on, with their header cached. */
interface Binding {
  readonly creds: Credentials;
  readonly gen: Generation;
  /** The Authorization value, `""` when the credentials have none. */
  readonly auth: string;
  /** Headers for a request without caller headers. */
  readonly headers: Record<string, string> | undefined;
  /** The whole init of a plain GET (no caller init). */
  readonly plainInit: RequestInit;
}

/** One request, normalised. */
interface Prepared {
  url: string;
  method: string;
  /** The caller's headers (without ours), `undefined` when none. */
  headers: Record<string, string> | Headers | undefined;
  /** The caller set Authorization: no credentials, no 401 handling. */
  callerAuth: boolean;
  body: BodyInit | null | undefined;
  /** The body can be sent again (401 retry, 307/308). */
  replayable: boolean;
  /** The body is a stream (needs `duplex: "half"`). */
  stream: boolean;
  signal: AbortSignal | null | undefined;
  redirect: RequestRedirect;
}

type Init = RequestInit & { duplex?: "half" };

/**
 * How often one request may re-pick credentials or transport because a
 * rotation overtook it (each re-pick waits for the source, so a burst of
 * rotations settles well within this).
 */
const MAX_REPICKS = 8;

const SCHEME = /^[a-zA-Z][a-zA-Z\d+.-]*:/;
const NO_CREDENTIALS: Credentials = makeCredentials({});
const BODY_HEADERS = [
  "content-type",
  "content-length",
  "content-encoding",
  "content-language",
  "content-location",
];

function bind(
  ctx: ResolvedContext,
  server: URL,
  source: CredentialSource,
  ownsSource: boolean,
  settings: Settings,
): AuthedFetch {
  const { registry, retryOnUnauthorized, maxRedirects } = settings;
  const origin = server.origin;
  const originSlash = origin + "/";
  const base = origin + server.pathname.replace(/\/+$/, "");
  const contextName = ctx.contextName;
  const identity = ctx.cluster.disableCompression;
  let bound: Binding | undefined;
  let passthrough: Binding | undefined;
  let closing: Promise<void> | undefined;

  function makeBinding(creds: Credentials, gen: Generation): Binding {
    const auth = authorizationOf(creds);
    let headers: Record<string, string> | undefined;
    if (auth !== "") headers = { authorization: auth };
    if (identity) headers = { ...headers, "accept-encoding": "identity" };
    const plainInit: RequestInit = headers === undefined
      ? { redirect: "manual" }
      : { headers, redirect: "manual" };
    return { creds, gen, auth, headers, plainInit };
  }

  /** Current credentials and the generation to send them on. */
  async function acquire(
    signal: AbortSignal | null | undefined,
  ): Promise<Binding> {
    let creds: Credentials;
    try {
      creds = await source.get(signal ?? undefined);
    } catch (err) {
      if (closing !== undefined) throw closedError(err);
      throw err;
    }
    const b = bound;
    if (b !== undefined && b.creds === creds && !b.gen.retired) return b;
    return bindSlow(creds, signal);
  }

  async function bindSlow(
    creds: Credentials,
    signal: AbortSignal | null | undefined,
  ): Promise<Binding> {
    if (closing !== undefined) throw closedError();
    let gen = registry.select(creds.clientCertificate);
    for (let attempt = 0; gen === undefined; attempt++) {
      // The certificate belongs to a retired generation: these credentials
      // were overtaken while this request waited. Take the current ones.
      const fresh = await source.get(signal ?? undefined);
      if (closing !== undefined) throw closedError();
      gen = fresh === creds || attempt >= MAX_REPICKS
        ? registry.adopt(fresh.clientCertificate)
        : registry.select(fresh.clientCertificate);
      creds = fresh;
    }
    const b = makeBinding(creds, gen);
    bound = b;
    return b;
  }

  /** For requests carrying the caller's Authorization: no credential lookup. */
  function passthroughBinding(): Binding {
    if (closing !== undefined) throw closedError();
    const gen = registry.current ?? registry.adopt(undefined);
    const p = passthrough;
    if (p !== undefined && p.gen === gen) return p;
    return passthrough = makeBinding(NO_CREDENTIALS, gen);
  }

  function resolveUrl(input: string | URL): string {
    if (typeof input === "string") {
      if (input.charCodeAt(0) === 47 /* / */) {
        // "/path": appended to the server URL, so the authority cannot change.
        if (input.charCodeAt(1) !== 47) return base + input;
      } else if (input.startsWith(originSlash)) {
        return input;
      } else if (!SCHEME.test(input)) {
        return base + "/" + input;
      }
      return checkOrigin(new URL(input, originSlash));
    }
    return checkOrigin(input);
  }

  function checkOrigin(url: URL): string {
    if (url.origin !== origin) {
      const where = url.origin === "null" ? url.protocol : url.origin;
      throw new KubeauthError(
        "ORIGIN_REFUSED",
        `refusing to send a request to ${where}: this client only talks to its cluster, ${origin} (context "${contextName}"); use the runtime's fetch for other servers`,
      );
    }
    return url.href;
  }

  function prepare(
    input: string | URL | Request,
    init?: RequestInit,
  ): Prepared {
    let url: string;
    let method: string | undefined;
    let headers: HeadersInit | undefined;
    let body: BodyInit | null | undefined;
    let signal: AbortSignal | null | undefined;
    let redirect: RequestRedirect | undefined;
    if (typeof input === "string" || input instanceof URL) {
      url = resolveUrl(input);
      if (init !== undefined) {
        method = init.method;
        headers = init.headers;
        body = init.body;
        signal = init.signal;
        redirect = init.redirect;
      }
    } else {
      const r = input as Request;
      url = resolveUrl(new URL(r.url));
      method = init?.method ?? r.method;
      headers = init?.headers ?? r.headers;
      body = init !== undefined && init.body !== undefined ? init.body : r.body;
      signal = init !== undefined && init.signal !== undefined
        ? init.signal
        : r.signal;
      redirect = init?.redirect ?? r.redirect;
    }
    const h = normaliseHeaders(headers);
    const callerAuth = h !== undefined && hasHeader(h, "authorization");
    let finalHeaders = h;
    if (identity && (h === undefined || !hasHeader(h, "accept-encoding"))) {
      finalHeaders = withHeader(h, "accept-encoding", "identity");
    }
    const kind = bodyKind(body);
    return {
      url,
      method: method ?? "GET",
      headers: finalHeaders,
      callerAuth,
      body,
      replayable: kind !== "stream",
      stream: kind === "stream",
      signal,
      redirect: redirect ?? "follow",
    };
  }

  function send(p: Prepared, b: Binding): Promise<Response> {
    if (
      p.headers === undefined && p.body == null && p.signal == null &&
      p.method === "GET"
    ) {
      return b.gen.transport.fetch(p.url, b.plainInit);
    }
    let headers: HeadersInit | undefined = p.headers;
    if (b.auth !== "" && !p.callerAuth) {
      headers = p.headers === undefined
        ? b.headers
        : withHeader(p.headers, "authorization", b.auth);
    }
    const init: Init = { method: p.method, redirect: "manual" };
    if (headers !== undefined) init.headers = headers;
    if (p.body != null) init.body = p.body;
    if (p.stream) init.duplex = "half";
    if (p.signal != null) init.signal = p.signal;
    return b.gen.transport.fetch(p.url, init);
  }

  /** Sends, re-picking the generation if it was retired under our feet. */
  async function dispatch(
    p: Prepared,
    state: { b: Binding },
  ): Promise<Response> {
    for (let attempt = 0;; attempt++) {
      const b = state.b;
      try {
        return await send(p, b);
      } catch (err) {
        if (closing !== undefined) throw closedError(err);
        // The transport refused the request before sending it (it was
        // retired between the pick and the send): try the current one. A
        // destroyed transport aborted a request already sent: report it.
        if (
          attempt >= MAX_REPICKS || !isClosedError(err) || b.gen.destroyed ||
          (p.stream && !unusedStream(p.body))
        ) throw err;
        state.b = p.callerAuth ? passthroughBinding() : await acquire(p.signal);
      }
    }
  }

  async function refresh(
    used: Credentials,
    res: Response,
    signal: AbortSignal | null | undefined,
  ): Promise<Credentials | null> {
    const header: Record<string, string[]> = {};
    res.headers.forEach((value, name) => {
      (header[name] ??= []).push(value);
    });
    try {
      return await source.refreshAfterUnauthorized(
        used,
        { code: res.status, header },
        signal ?? undefined,
      );
    } catch (err) {
      if (signal?.aborted || closing !== undefined || retryOnUnauthorized) {
        await discard(res);
        if (closing !== undefined) throw closedError(err);
        throw err;
      }
      return null; // client-go only logs a failed refresh and returns the 401
    }
  }

  /** The general path: credentials, send, then {@linkcode follow}. */
  async function run(p: Prepared): Promise<Response> {
    if (p.signal?.aborted) throw p.signal.reason;
    const state = {
      b: p.callerAuth ? passthroughBinding() : await acquire(p.signal),
    };
    return follow(p, state, await dispatch(p, state));
  }

  /** Handles a 401 (refresh, retry once) and same-origin redirects. */
  async function follow(
    p: Prepared,
    state: { b: Binding },
    res: Response,
  ): Promise<Response> {
    let refreshed = false;
    let hops = 0;
    for (;;) {
      const status = res.status;
      if (status === 401 && !p.callerAuth && !refreshed) {
        refreshed = true;
        const next = await refresh(state.b.creds, res, p.signal);
        if (next === null || !retryOnUnauthorized || !p.replayable) return res;
        await discard(res);
        state.b = await bindCredentials(next, p.signal);
        res = await dispatch(p, state);
        continue;
      }
      if (!isRedirect(status) || p.redirect === "manual") return res;
      const location = res.headers.get("location");
      if (location === null) return res;
      if (p.redirect === "error") {
        await discard(res);
        throw new TypeError(
          `the server answered ${status} (a redirect) and the request's redirect mode is "error"`,
        );
      }
      let target: URL;
      try {
        target = new URL(location, p.url);
      } catch {
        return res;
      }
      // Never carry credentials (or the client certificate) elsewhere: a
      // redirect to another origin is handed back to the caller as is.
      if (target.origin !== origin) return res;
      if (++hops > maxRedirects) {
        await discard(res);
        throw new TypeError(
          `too many redirects (more than ${maxRedirects}); the last one pointed to ${target.pathname}`,
        );
      }
      const m = p.method.toUpperCase();
      if ((status === 303 && m !== "HEAD") || (status <= 302 && m === "POST")) {
        p = {
          ...p,
          url: target.href,
          method: "GET",
          body: undefined,
          replayable: true,
          stream: false,
          headers: withoutBodyHeaders(p.headers),
        };
      } else if (p.replayable) {
        p = { ...p, url: target.href };
      } else {
        return res; // a stream body cannot be sent a second time
      }
      await discard(res);
      state.b = p.callerAuth ? passthroughBinding() : await acquire(p.signal);
      res = await dispatch(p, state);
    }
  }

  /** A binding for credentials already in hand (the refreshed ones). */
  function bindCredentials(
    creds: Credentials,
    signal: AbortSignal | null | undefined,
  ): Promise<Binding> {
    const b = bound;
    if (b !== undefined && b.creds === creds && !b.gen.retired) {
      return Promise.resolve(b);
    }
    return bindSlow(creds, signal);
  }

  async function kube(
    input: string | URL | Request,
    init?: RequestInit,
  ): Promise<Response> {
    if (closing !== undefined) throw closedError();
    if (init !== undefined || typeof input !== "string") {
      return run(prepare(input, init));
    }
    // The hot path: a plain GET of a path, nothing allocated but the URL
    // (and acquire() inlined: one async frame and one tick fewer).
    const url = resolveUrl(input);
    let creds: Credentials;
    try {
      creds = await source.get();
    } catch (err) {
      if (closing !== undefined) throw closedError(err);
      throw err;
    }
    let b = bound;
    if (b === undefined || b.creds !== creds || b.gen.retired) {
      b = await bindSlow(creds, undefined);
    }
    let res: Response;
    try {
      res = await b.gen.transport.fetch(url, b.plainInit);
    } catch (err) {
      if (closing !== undefined) throw closedError(err);
      if (!isClosedError(err) || b.gen.destroyed) throw err;
      return run(plain(url)); // retired between pick and send: pick again
    }
    const status = res.status;
    if (status !== 401 && !isRedirect(status)) return res;
    return follow(plain(url), { b }, res);
  }

  function close(): Promise<void> {
    closing ??= Promise.allSettled([
      registry.close(),
      ownsSource ? source.close() : undefined,
    ]).then(() => {});
    return closing;
  }

  return Object.defineProperties(kube, {
    server: { value: server, enumerable: true },
    context: { value: contextName, enumerable: true },
    namespace: { value: ctx.namespace, enumerable: true },
    close: { value: close },
  }) as AuthedFetch;
}

function plain(url: string): Prepared {
  return {
    url,
    method: "GET",
    headers: undefined,
    callerAuth: false,
    body: undefined,
    replayable: true,
    stream: false,
    signal: undefined,
    redirect: "follow",
  };
}

/** The Authorization value for these credentials, `""` for none. */
function authorizationOf(creds: Credentials): string {
  const token = creds.token;
  if (token !== undefined && token !== "") return "Bearer " + token;
  const basic = creds.basic;
  if (basic !== undefined) {
    const bytes = new TextEncoder().encode(
      basic.username + ":" + basic.password,
    );
    let binary = "";
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return "Basic " + btoa(binary);
  }
  return "";
}

/** A record stays a record (cheapest for fetch); anything else becomes Headers. */
function normaliseHeaders(
  headers: HeadersInit | undefined,
): Record<string, string> | Headers | undefined {
  if (headers === undefined || headers === null) return undefined;
  if (headers instanceof Headers) return headers;
  if (Array.isArray(headers) || isIterable(headers)) {
    return new Headers(headers);
  }
  return headers as Record<string, string>;
}

function isIterable(value: unknown): boolean {
  return typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] ===
    "function";
}

function hasHeader(
  headers: Record<string, string> | Headers,
  name: string,
): boolean {
  if (headers instanceof Headers) return headers.has(name);
  for (const key in headers) {
    if (key.length === name.length && key.toLowerCase() === name) return true;
  }
  return false;
}

/** A copy of `headers` with `name` set (the caller's object is never changed). */
function withHeader(
  headers: Record<string, string> | Headers | undefined,
  name: string,
  value: string,
): Record<string, string> | Headers {
  if (headers instanceof Headers) {
    const copy = new Headers(headers);
    copy.set(name, value);
    return copy;
  }
  const copy: Record<string, string> = {};
  for (const key in headers) {
    if (key.toLowerCase() !== name) copy[key] = headers[key];
  }
  copy[name] = value;
  return copy;
}

/** The headers minus those describing a body (redirect turned into a GET). */
function withoutBodyHeaders(
  headers: Record<string, string> | Headers | undefined,
): Record<string, string> | Headers | undefined {
  if (headers === undefined) return undefined;
  if (headers instanceof Headers) {
    const copy = new Headers(headers);
    for (const name of BODY_HEADERS) copy.delete(name);
    return copy;
  }
  const copy: Record<string, string> = {};
  for (const key in headers) {
    if (!BODY_HEADERS.includes(key.toLowerCase())) copy[key] = headers[key];
  }
  return copy;
}

/**
 * `replayable` bodies can be handed to fetch again (fetch copies them);
 * `stream` bodies are consumed by the first send.
 */
function bodyKind(
  body: BodyInit | null | undefined,
): "none" | "replayable" | "stream" {
  if (body === undefined || body === null) return "none";
  if (
    typeof body === "string" || body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) || body instanceof Blob ||
    body instanceof URLSearchParams || body instanceof FormData
  ) return "replayable";
  return "stream";
}

/** A stream body the refused attempt did not start reading. */
function unusedStream(body: BodyInit | null | undefined): boolean {
  return body instanceof ReadableStream && !body.locked;
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 ||
    status === 307 || status === 308;
}

function isClosedError(err: unknown): boolean {
  return err instanceof KubeauthError && err.code === "CLOSED";
}

/** Reads and drops a response we will not return, so its connection is freed. */
async function discard(res: Response): Promise<void> {
  try {
    await res.arrayBuffer();
  } catch {
    // The body failed: nothing to free.
  }
}

function closedError(cause?: unknown): KubeauthError {
  return new KubeauthError(
    "CLOSED",
    "this kubeauth client is closed: create a new one with createAuthedFetch()",
    cause === undefined ? undefined : { cause },
  );
}

function parseServer(ctx: ResolvedContext): URL {
  const name = ctx.cluster.name === "" ? "in-cluster" : ctx.cluster.name;
  let url: URL;
  try {
    url = new URL(ctx.cluster.server);
  } catch {
    // No `cause`: the runtime's message quotes the URL, which may hold a password.
    throw new KubeconfigError(
      "KUBECONFIG_INVALID",
      `cluster "${name}" has no valid server URL: set clusters[].cluster.server to e.g. https://host:6443`,
      { file: ctx.source },
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new KubeconfigError(
      "KUBECONFIG_INVALID",
      `cluster "${name}" has a server URL with scheme ${url.protocol}: only https: and http: are supported`,
      { file: ctx.source },
    );
  }
  if (url.username !== "" || url.password !== "") {
    throw new KubeconfigError(
      "KUBECONFIG_INVALID",
      `cluster "${name}" has user information in its server URL: put credentials in the kubeconfig user instead`,
      { file: ctx.source },
    );
  }
  url.search = "";
  url.hash = "";
  return url;
}

function transportOptions(ctx: ResolvedContext): TransportOptions {
  const c = ctx.cluster;
  const tls: TransportOptions = {};
  if (c.caPem !== undefined) tls.ca = c.caPem;
  if (c.insecureSkipTlsVerify) tls.insecureSkipVerify = true;
  if (c.tlsServerName !== undefined) tls.serverName = c.tlsServerName;
  if (c.proxyUrl !== undefined) tls.proxy = c.proxyUrl;
  return tls;
}
