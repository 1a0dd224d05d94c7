/**
 * `@kubeauth/fetch/cloudydeno`: a `RestClient` for cloudydeno's Kubernetes
 * client and its typed APIs (`jsr:@cloudydeno/kubernetes-apis`), sending
 * every request through one {@linkcode AuthedFetch}: exec plugins with
 * single flight and 401 refresh, rotating client certificates,
 * `tls-server-name`, `insecure-skip-tls-verify`, `proxy-url` and the
 * server's path prefix, on Deno, Bun and Node.
 *
 * The contract's types are declared here from cloudydeno's `lib/contract.ts`
 * (structurally the same; the tunnel's in both of its generations), so this
 * module needs no dependency.
 *
 * @example Usage
 * ```ts ignore
 * import { CoreV1Api } from "@cloudydeno/kubernetes-apis/core/v1";
 * import { createAuthedFetch } from "@kubeauth/fetch";
 * import { KubeauthRestClient } from "@kubeauth/fetch/cloudydeno";
 * const kube = await createAuthedFetch();
 * const core = new CoreV1Api(new KubeauthRestClient(kube));
 * console.log((await core.namespace("default").getPodList()).items.length);
 * await kube.close();
 * ```
 *
 * @module
 */
import type { AuthedFetch } from "../fetch/authed_fetch.ts";
import { KubeauthError, WebSocketRefusedError } from "../errors.ts";
import type { KubeauthErrorCode, KubeauthErrorOptions } from "../errors.ts";
import { httpError, statusError } from "../http/http_error.ts";
import type { KubernetesStatus } from "../http/http_error.ts";
import { readLines } from "../watch/lines.ts";
import { KubeauthTunnel } from "./cloudydeno_tunnel.ts";
import type { KubernetesTunnel } from "./cloudydeno_tunnel.ts";

export { KubeauthTunnel } from "./cloudydeno_tunnel.ts";
export type {
  KubernetesTunnel,
  TunnelChannel,
  TunnelChannelId,
  TunnelChannelRequest,
} from "./cloudydeno_tunnel.ts";

/** The HTTP methods the generated APIs use. */
export type HttpMethods =
  | "GET"
  | "POST"
  | "DELETE"
  | "PUT"
  | "PATCH"
  | "OPTIONS"
  | "HEAD";

/** What JSON can encode directly. */
export type JSONPrimitive = string | number | boolean | null | undefined;
/** A JSON value. */
export type JSONValue = JSONPrimitive | JSONObject | JSONArray;
/** A JSON object. */
export type JSONObject = { [key: string]: JSONValue };
/** A JSON array. */
export type JSONArray = JSONValue[];

/** One request of a generated API (cloudydeno's `RequestOptions`). */
export interface RequestOptions {
  /** The HTTP method. */
  method: HttpMethods;
  /** The API path, e.g. `/api/v1/namespaces/default/pods`. */
  path: string;
  /** Query parameters. */
  querystring?: URLSearchParams;
  /** Aborts the request (and a streamed response). */
  abortSignal?: AbortSignal;
  /** The request's content type (default for `bodyJson`: application/json). */
  contentType?: string;
  /** A body as bytes. */
  bodyRaw?: Uint8Array;
  /** A body as JSON. */
  bodyJson?: JSONValue;
  /** A body as a stream. */
  bodyStream?: ReadableStream<Uint8Array>;
  /** The Accept header (default with `expectJson`: application/json). */
  accept?: string;
  /** Subprotocols of a channel tunnel (exec, attach, port-forward). */
  expectTunnel?: string[];
  /** Answer with the body as a stream. */
  expectStream?: boolean;
  /** Answer with parsed JSON (with `expectStream`: one value per line). */
  expectJson?: boolean;
}

/** cloudydeno's `RestClient` contract (what its typed APIs call). */
export interface RestClient {
  /** Opens a channel tunnel. */
  performRequest(
    opts: RequestOptions & { expectTunnel: string[] },
  ): Promise<KubernetesTunnel>;
  /** Streams JSON values, one per line (watches). */
  performRequest(
    opts: RequestOptions & { expectStream: true; expectJson: true },
  ): Promise<ReadableStream<JSONValue>>;
  /** Streams the body (logs). */
  performRequest(
    opts: RequestOptions & { expectStream: true },
  ): Promise<ReadableStream<Uint8Array>>;
  /** Parses the body as JSON. */
  performRequest(
    opts: RequestOptions & { expectJson: true },
  ): Promise<JSONValue>;
  /** Returns the body's bytes. */
  performRequest(opts: RequestOptions): Promise<Uint8Array>;
  /** The namespace of namespaced calls that name none. */
  defaultNamespace?: string;
  /** Releases the client. */
  close?(): void;
}

/**
 * An HTTP failure, shaped as cloudydeno's own errors: `httpCode` (the HTTP
 * status) and `status` (the server's Status object), plus kubeauth's
 * `code` (`HTTP_ERROR`; `WATCH_EXPIRED` for 410) and `reason`.
 *
 * @example Usage
 * ```ts
 * import { KubeauthRestError } from "@kubeauth/fetch/cloudydeno";
 * const err = new KubeauthRestError("Error from server (NotFound): x", 404, {
 *   kind: "Status", code: 404, reason: "NotFound", message: "x",
 * });
 * if (!(err.httpCode === 404 && err.reason === "NotFound" && err.code === "HTTP_ERROR")) throw new Error("not as shown");
 * ```
 */
export class KubeauthRestError extends KubeauthError {
  /** The HTTP status code. */
  readonly httpCode: number;
  /** The server's Status object, when the body was one. */
  readonly status: JSONValue;
  /** The Status `reason`, else `""`. */
  readonly reason: string;

  /**
   * Creates the error.
   *
   * @param message The server's message (kubectl's wording).
   * @param httpCode The HTTP status code.
   * @param status The server's Status object, if any.
   * @param options The cause, if any.
   */
  constructor(
    message: string,
    httpCode: number,
    status?: KubernetesStatus,
    options?: KubeauthErrorOptions,
  ) {
    const code: KubeauthErrorCode = httpCode === 410
      ? "WATCH_EXPIRED"
      : "HTTP_ERROR";
    super(code, message, options);
    this.name = "KubeauthRestError";
    this.httpCode = httpCode;
    this.status = (status ?? null) as JSONValue;
    this.reason = status?.reason ?? "";
  }
}

/** A byte stream of JSON lines as a stream of parsed values. */
function jsonLines(
  body: ReadableStream<Uint8Array>,
): ReadableStream<JSONValue> {
  const lines = readLines(body);
  return new ReadableStream<JSONValue>({
    async pull(controller) {
      const { done, value } = await lines.next();
      if (done) controller.close();
      else controller.enqueue(JSON.parse(value) as JSONValue);
    },
    async cancel() {
      await lines.return();
    },
  });
}

function emptyStream<T>(): ReadableStream<T> {
  return new ReadableStream<T>({ start: (c) => c.close() });
}

/** The path with the query string. */
function pathOf(opts: RequestOptions): string {
  const query = opts.querystring?.toString() ?? "";
  return (opts.path || "/") + (query ? `?${query}` : "");
}

/**
 * A refused upgrade as cloudydeno's own errors are shaped (`httpCode`,
 * `status`), worded as the client's other HTTP failures; other errors
 * (credentials, an upgrade failing with no HTTP status) as they are.
 */
function refusedAsRestError(err: unknown): unknown {
  if (!(err instanceof WebSocketRefusedError) || err.status === 0) return err;
  const status: KubernetesStatus = (err.serverStatus as KubernetesStatus) ?? {
    kind: "Status",
    apiVersion: "v1",
    status: "Failure",
    code: err.status,
    reason: err.reason,
    message: err.message,
  };
  const message = statusError(status, err.status).message;
  return new KubeauthRestError(message, err.status, status, { cause: err });
}

/** The request's headers from the options, as cloudydeno sets them. */
function headersOf(opts: RequestOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const accept = opts.accept ?? (opts.expectJson ? "application/json" : "");
  if (accept) headers["accept"] = accept;
  const contentType = opts.contentType ??
    (opts.bodyJson !== undefined ? "application/json" : "");
  if (contentType) headers["content-type"] = contentType;
  return headers;
}

function bodyOf(opts: RequestOptions): BodyInit | undefined {
  if (opts.bodyStream) return opts.bodyStream;
  if (opts.bodyRaw) return opts.bodyRaw as Uint8Array<ArrayBuffer>;
  if (opts.bodyJson !== undefined) return JSON.stringify(opts.bodyJson);
  return undefined;
}

/**
 * cloudydeno's `RestClient` on kubeauth: pass it to any of cloudydeno's
 * typed API classes. Relative paths keep the server's path prefix; every
 * non-2xx answer rejects with a {@linkcode KubeauthRestError} (`httpCode`,
 * `status`, as cloudydeno's errors). `expectTunnel` (exec, attach,
 * port-forward) opens a channel WebSocket with `kube.webSocket` offering
 * exactly the subprotocols listed, and resolves to a
 * {@linkcode KubeauthTunnel} once it is open; a refused upgrade rejects
 * with a `KubeauthRestError` carrying the server's Status. `close()` (and
 * `[Symbol.dispose]`) aborts this client's requests, streams and tunnels
 * still open; the `AuthedFetch` stays open (close it yourself).
 *
 * @example Usage
 * ```ts ignore
 * import { createAuthedFetch } from "@kubeauth/fetch";
 * import { KubeauthRestClient } from "@kubeauth/fetch/cloudydeno";
 * const kube = await createAuthedFetch();
 * using client = new KubeauthRestClient(kube);
 * const list = await client.performRequest({
 *   method: "GET",
 *   path: `/api/v1/namespaces/${client.defaultNamespace}/pods`,
 *   expectJson: true,
 * });
 * console.log(list);
 * ```
 */
export class KubeauthRestClient implements RestClient {
  /** The context's namespace (`kube.namespace`). */
  defaultNamespace: string;
  readonly #kube: AuthedFetch;
  readonly #closing = new AbortController();

  /**
   * Creates a client sending through `kube`.
   *
   * @param kube The authed fetch every request goes through.
   */
  constructor(kube: AuthedFetch) {
    this.#kube = kube;
    this.defaultNamespace = kube.namespace || "default";
  }

  /**
   * Sends one request of a generated API.
   *
   * @param opts Method, path, query, body, what to expect.
   * @returns A tunnel, a stream of JSON values, a byte stream, JSON, or bytes.
   */
  performRequest(
    opts: RequestOptions & { expectTunnel: string[] },
  ): Promise<KubernetesTunnel>;
  /**
   * Streams JSON values, one per line (watches).
   *
   * @param opts The request, with `expectStream` and `expectJson`.
   * @returns The values, as they arrive.
   */
  performRequest(
    opts: RequestOptions & { expectStream: true; expectJson: true },
  ): Promise<ReadableStream<JSONValue>>;
  /**
   * Streams the body (logs).
   *
   * @param opts The request, with `expectStream`.
   * @returns The body.
   */
  performRequest(
    opts: RequestOptions & { expectStream: true },
  ): Promise<ReadableStream<Uint8Array>>;
  /**
   * Parses the body as JSON.
   *
   * @param opts The request, with `expectJson`.
   * @returns The parsed body.
   */
  performRequest(
    opts: RequestOptions & { expectJson: true },
  ): Promise<JSONValue>;
  /**
   * Returns the body's bytes.
   *
   * @param opts The request.
   * @returns The body.
   */
  performRequest(opts: RequestOptions): Promise<Uint8Array>;
  async performRequest(opts: RequestOptions): Promise<unknown> {
    if (opts.expectTunnel) return await this.#tunnel(opts, opts.expectTunnel);
    const res = await this.#send(opts);
    if (!res.ok) throw await this.#error(res);
    if (opts.expectStream) {
      const body = res.body ?? emptyStream<Uint8Array>();
      return opts.expectJson ? jsonLines(body) : body;
    }
    if (opts.expectJson) return await res.json();
    return new Uint8Array(await res.arrayBuffer());
  }

  #send(opts: RequestOptions): Promise<Response> {
    const init: RequestInit & { duplex?: "half" } = {
      method: opts.method,
      headers: headersOf(opts),
      body: bodyOf(opts),
      signal: this.#signalOf(opts),
    };
    if (opts.bodyStream) init.duplex = "half";
    return this.#kube(pathOf(opts), init);
  }

  /** The request's signal joined with this client's. */
  #signalOf(opts: RequestOptions): AbortSignal {
    const own = this.#closing.signal;
    return opts.abortSignal ? AbortSignal.any([own, opts.abortSignal]) : own;
  }

  /**
   * Opens a channel WebSocket offering `protocols` (the method and body
   * are not used: the upgrade is a GET) and wraps it in a tunnel. A server
   * choosing none of them (when some were offered) is `STREAM_FAILED`.
   */
  async #tunnel(
    opts: RequestOptions,
    protocols: string[],
  ): Promise<KubernetesTunnel> {
    const signal = this.#signalOf(opts);
    let ws: WebSocket;
    try {
      ws = await this.#kube.webSocket(pathOf(opts), { protocols, signal });
    } catch (err) {
      throw refusedAsRestError(err);
    }
    if (protocols.length > 0 && !protocols.includes(ws.protocol)) {
      ws.close(1000);
      throw new KubeauthError(
        "STREAM_FAILED",
        `the server chose the WebSocket subprotocol "${ws.protocol}", not one of ${
          protocols.join(", ")
        }`,
      );
    }
    return new KubeauthTunnel(ws, signal);
  }

  async #error(res: Response): Promise<KubeauthRestError> {
    const err = await httpError(res);
    const rest = new KubeauthRestError(
      err.message,
      res.status,
      err.serverStatus,
    );
    return rest;
  }

  /** Aborts this client's requests, open streams and tunnels. Idempotent. */
  close(): void {
    this.#closing.abort(
      new KubeauthError("CLOSED", "the KubeauthRestClient was closed"),
    );
  }

  /** The same as {@linkcode KubeauthRestClient.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
