/**
 * `@kubeauth/fetch/client-node`: puts kubeauth under
 * [@kubernetes/client-node](https://github.com/kubernetes-client/javascript)
 * 1.x and 2.x (an optional peer dependency). Its generated APIs, its
 * `KubernetesObjectApi`, its watches and informers then send every request
 * through one {@linkcode AuthedFetch}: the exec plugin runs once for all of
 * them, credentials refresh on expiry and on 401, connections opened with a
 * rotated client certificate are retired, on Deno, Bun and Node alike.
 *
 * `Exec`, `Attach` and `PortForward` open their WebSockets through kube
 * with {@linkcode kubeauthWebSocketHandler}.
 *
 * Still outside kubeauth (they build their own connections from a
 * `KubeConfig`): `Log`, `Metrics`, `Health`, `Cp`, `ProtoClient`. See the
 * README's "Use with your client" section for how to cover them.
 *
 * @example Usage
 * ```ts ignore
 * import { CoreV1Api } from "@kubernetes/client-node";
 * import { createAuthedFetch } from "@kubeauth/fetch";
 * import { kubeauthConfiguration } from "@kubeauth/fetch/client-node";
 * const kube = await createAuthedFetch();
 * const core = new CoreV1Api(kubeauthConfiguration(kube));
 * console.log((await core.listNamespacedPod({ namespace: "default" })).items.length);
 * await kube.close();
 * ```
 *
 * @module
 */
// @ts-types="./client_node_api.d.ts"
import {
  createConfiguration,
  ListWatch,
  ResponseContext,
  ServerConfiguration,
  Watch,
  wrapHttpLibrary,
} from "@kubernetes/client-node";
// @ts-types="./client_node_api.d.ts"
import type {
  Configuration,
  ErrorCallback,
  HttpLibrary,
  Informer,
  KubeConfig,
  KubernetesListObject,
  KubernetesObject,
  ListPromise,
  ObjectCache,
  ObjectCallback,
  RequestContext,
  ResponseBody,
  WebSocketInterface,
} from "@kubernetes/client-node";
import type { AuthedFetch } from "../fetch/authed_fetch.ts";
import { KubeauthError } from "../errors.ts";
import { httpError } from "../http/http_error.ts";
import { readLines } from "../watch/lines.ts";
import {
  KubeauthSocket,
  KubeauthWebSocketHandler,
} from "./client_node_socket.ts";

/** What `ResponseBody.binary()` returns: a Buffer where the runtime has one. */
type BinaryBody = Awaited<ReturnType<ResponseBody["binary"]>>;

function toBinary(bytes: ArrayBuffer): BinaryBody {
  const B = (globalThis as {
    Buffer?: { from(data: ArrayBuffer): BinaryBody };
  }).Buffer;
  return B ? B.from(bytes) : new Uint8Array(bytes) as unknown as BinaryBody;
}

/** The body client-node hands over, as a fetch body. */
function requestBody(ctx: RequestContext): BodyInit | undefined {
  const body: unknown = ctx.getBody();
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string" || body instanceof URLSearchParams) return body;
  if (body instanceof Uint8Array) return body as Uint8Array<ArrayBuffer>;
  throw new KubeauthError(
    "UNSUPPORTED",
    "kubeauth's client-node adapter sends string and URLSearchParams bodies " +
      "(what the generated APIs use); serialize other bodies to a string first",
  );
}

/** The response's headers as the record client-node expects. */
function headerRecord(res: Response): Record<string, string> {
  const out: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    out[name] = value;
  });
  return out;
}

/** client-node's promise-based HTTP library, sending through `kube`. */
class KubeauthHttpLibrary {
  readonly #kube: AuthedFetch;

  constructor(kube: AuthedFetch) {
    this.#kube = kube;
  }

  async send(ctx: RequestContext): Promise<ResponseContext> {
    const res = await this.#kube(ctx.getUrl(), {
      method: ctx.getHttpMethod(),
      headers: ctx.getHeaders(),
      body: requestBody(ctx),
      signal: ctx.getSignal(),
    });
    const body = {
      text: (): Promise<string> => res.text(),
      binary: async (): Promise<BinaryBody> =>
        toBinary(await res.arrayBuffer()),
      stream: (): ReadableStream<Uint8Array> | null => res.body,
    };
    return new ResponseContext(res.status, headerRecord(res), body);
  }
}

/** The cluster URL without a trailing slash, as client-node joins paths. */
function serverUrl(kube: AuthedFetch): string {
  return kube.server.href.replace(/\/+$/, "");
}

/**
 * A client-node `Configuration` whose `httpApi` sends every generated API
 * call through `kube`: method, headers, body and abort signal go out;
 * status, headers and the body (as text, binary or stream) come back. The
 * server is `kube.server` (path prefix kept); no client-node auth method is
 * set: the credentials are kubeauth's.
 *
 * @example Usage
 * ```ts ignore
 * import { CoreV1Api, KubernetesObjectApi } from "@kubernetes/client-node";
 * import { createAuthedFetch } from "@kubeauth/fetch";
 * import { kubeauthConfiguration } from "@kubeauth/fetch/client-node";
 * const kube = await createAuthedFetch();
 * const config = kubeauthConfiguration(kube);
 * const core = new CoreV1Api(config);
 * const objects = new KubernetesObjectApi(config);
 * await core.listNamespace();
 * await objects.read({ apiVersion: "v1", kind: "Namespace", metadata: { name: "default" } });
 * ```
 *
 * @param kube The authed fetch every request goes through.
 * @returns A configuration for any generated API class.
 */
export function kubeauthConfiguration(kube: AuthedFetch): Configuration {
  return createConfiguration({
    baseServer: new ServerConfiguration<Record<string, string>>(
      serverUrl(kube),
      {},
    ),
    httpApi: wrapHttpLibrary(new KubeauthHttpLibrary(kube)),
    authMethods: {},
  });
}

/** Receives each event of a `Watch.watch()` call: type, object, the whole event. */
export type WatchCallback = (
  phase: string,
  // deno-lint-ignore no-explicit-any
  apiObj: any,
  // deno-lint-ignore no-explicit-any
  watchObj?: any,
) => void;
/** Called once when a `Watch.watch()` call ends: `null`, or the error. */
// deno-lint-ignore no-explicit-any
export type DoneCallback = (err: any) => void;

// The client-node types in this module's signatures, for convenience.
export type {
  Configuration,
  ErrorCallback,
  HttpLibrary,
  Informer,
  KubernetesListObject,
  KubernetesObject,
  ListPromise,
  ObjectCache,
  ObjectCallback,
  RequestContext,
  WebSocketInterface,
};
export type {
  BinaryHandler,
  Bytes,
  TextHandler,
  WsEvent,
  WsEventHandler,
  WsListener,
} from "./client_node_socket.ts";
export { KubeauthSocket, KubeauthWebSocketHandler, Watch };

/** One running watch request of a {@linkcode KubeauthWatch}. */
class WatchRun {
  readonly controller: AbortController = new AbortController();
  #done: DoneCallback | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #timeoutMs: number;

  constructor(done: DoneCallback, timeoutMs: number) {
    this.#done = done;
    this.#timeoutMs = timeoutMs;
  }

  /** Restarts the inactivity timer (client-node 2.x's `requestTimeoutMs`). */
  touch(): void {
    if (!(this.#timeoutMs > 0)) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.finish(
        new DOMException(
          "The operation was aborted due to timeout",
          "TimeoutError",
        ),
      );
    }, this.#timeoutMs);
  }

  /** Calls `done` once, stops the timer and the request. */
  finish(err: unknown): void {
    const done = this.#done;
    if (done === undefined) return;
    this.#done = undefined;
    clearTimeout(this.#timer);
    this.controller.abort();
    done(err);
  }

  /** Feeds each event line to `callback`; ends with `finish`. */
  async pump(
    body: ReadableStream<Uint8Array>,
    callback: WatchCallback,
  ): Promise<void> {
    const signal = this.controller.signal;
    try {
      for await (const line of readLines(body)) {
        this.touch();
        let data: { type: string; object: unknown };
        try {
          data = JSON.parse(line);
        } catch {
          continue; // as client-node: lines that are not JSON are skipped
        }
        callback(data.type, data.object, data);
      }
      this.finish(null);
    } catch (err) {
      this.finish(signal.aborted ? signal.reason : err);
    }
  }
}

/**
 * A client-node `Watch` whose requests go through `kube`, so `ListWatch`
 * and informers run on kubeauth. Same contract as `Watch.watch()`: the
 * callback gets `(type, object, event)` per event; `done(err)` is called
 * once, with `null` when the server ends the stream; a non-200 answer calls
 * `done` with a {@linkcode KubeauthHttpError} that also has `statusCode`
 * (so `ListWatch` relists after a 410); the returned controller aborts it.
 *
 * @example Usage
 * ```ts ignore
 * import { createAuthedFetch } from "@kubeauth/fetch";
 * import { KubeauthWatch } from "@kubeauth/fetch/client-node";
 * const kube = await createAuthedFetch();
 * const w = new KubeauthWatch(kube);
 * const req = await w.watch("/api/v1/namespaces/default/pods", {},
 *   (type, obj) => console.log(type, obj.metadata.name),
 *   (err) => console.log("done", err));
 * req.abort();
 * ```
 */
export class KubeauthWatch extends Watch {
  readonly #kube: AuthedFetch;

  /**
   * Creates a watch bound to `kube`.
   *
   * @param kube The authed fetch the watch requests go through.
   */
  constructor(kube: AuthedFetch) {
    // The KubeConfig is never read: every request goes through kube.
    super(undefined as unknown as KubeConfig);
    this.#kube = kube;
  }

  /**
   * Watches `path` (`watch=true` and the query parameters are added).
   *
   * @param path The collection path, e.g. `/api/v1/namespaces/default/pods`.
   * @param queryParams resourceVersion, labelSelector…; undefined ones are skipped.
   * @param callback Called with `(type, object, event)` for each event.
   * @param done Called once when the watch ends (`null`) or fails.
   * @returns The controller that aborts the watch.
   */
  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: WatchCallback,
    done: DoneCallback,
  ): Promise<AbortController> {
    const url = new URL(serverUrl(this.#kube) + path);
    url.searchParams.set("watch", "true");
    for (const [key, value] of Object.entries(queryParams ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const timeoutMs = (this as unknown as { requestTimeoutMs?: number })
      .requestTimeoutMs ?? 0;
    const run = new WatchRun(done, timeoutMs);
    try {
      run.touch();
      const res = await this.#kube(url, { signal: run.controller.signal });
      if (res.status !== 200) {
        const err = await httpError(res);
        throw Object.assign(err, { statusCode: res.status });
      }
      run.touch();
      const body = res.body ?? new ReadableStream({ start: (c) => c.close() });
      void run.pump(body, callback);
    } catch (err) {
      const signal = run.controller.signal;
      run.finish(signal.aborted && signal.reason ? signal.reason : err);
    }
    return run.controller;
  }
}

/**
 * client-node's `makeInformer`, on kubeauth: a `ListWatch` (not started)
 * whose watch goes through `kube`. `listFn` is usually a generated API call
 * on {@linkcode kubeauthConfiguration}.
 *
 * @example Usage
 * ```ts ignore
 * import { CoreV1Api } from "@kubernetes/client-node";
 * import { createAuthedFetch } from "@kubeauth/fetch";
 * import { kubeauthConfiguration, makeKubeauthInformer } from "@kubeauth/fetch/client-node";
 * const kube = await createAuthedFetch();
 * const core = new CoreV1Api(kubeauthConfiguration(kube));
 * const informer = makeKubeauthInformer(kube, "/api/v1/namespaces/default/pods",
 *   () => core.listNamespacedPod({ namespace: "default" }));
 * informer.on("add", (pod) => console.log("added", pod.metadata?.name));
 * await informer.start();
 * ```
 *
 * @param kube The authed fetch the watch goes through.
 * @param path The collection path.
 * @param listFn Lists the collection (the informer's initial state and relists).
 * @param labelSelector An optional label selector.
 * @returns The informer and its object cache.
 */
export function makeKubeauthInformer<T extends KubernetesObject>(
  kube: AuthedFetch,
  path: string,
  listFn: ListPromise<T>,
  labelSelector?: string,
): Informer<T> & ObjectCache<T> {
  return new ListWatch<T>(
    path,
    new KubeauthWatch(kube),
    listFn,
    false,
    labelSelector,
  );
}

/**
 * client-node's `WebSocketInterface` on kube, for `Exec`, `Attach` and
 * `PortForward`: each socket opens through `kube.webSocket` (kube's
 * credentials, origin and path-prefix rules; a rotated client certificate
 * retires it like any connection; `kube.close()` closes it), offering
 * client-node's channel subprotocols (`v5.channel.k8s.io` first, so ending
 * stdin half-closes instead of closing). What they return is a
 * {@linkcode KubeauthSocket}: `send`, `close`, `readyState`, `on("close")`…
 * as on a `ws` socket. Server close-stream frames (`[255, n]`) are not
 * passed on: the exit Status ends the output streams.
 *
 * @example Usage
 * ```ts ignore
 * import { Exec, KubeConfig, PortForward } from "@kubernetes/client-node";
 * import { createAuthedFetch } from "@kubeauth/fetch";
 * import { kubeauthWebSocketHandler } from "@kubeauth/fetch/client-node";
 * const kube = await createAuthedFetch();
 * const handler = kubeauthWebSocketHandler(kube);
 * const kc = new KubeConfig(); // not read: the handler opens the sockets
 * await new Exec(kc, handler).exec("default", "web", "app", ["date"],
 *   process.stdout, process.stderr, null, false,
 *   (status) => console.log(status.status));
 * await new PortForward(kc, true, handler).portForward("default", "web", [8080],
 *   output, null, input);
 * ```
 *
 * @param kube The authed fetch that opens the sockets.
 * @returns The handler to give `new Exec(kc, handler)`,
 *   `new Attach(kc, handler)`, `new PortForward(kc, true, handler)`.
 */
export function kubeauthWebSocketHandler(
  kube: AuthedFetch,
): KubeauthWebSocketHandler {
  return new KubeauthWebSocketHandler(kube);
}
