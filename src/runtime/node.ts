/**
 * The Node adapter: `node:child_process` for processes, an undici 7 `Agent`
 * per transport for TLS, driven by {@linkcode dispatchFetch} (the same
 * exchange as Node's `fetch`, about 1.4× as fast) or by `fetch` itself.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { spawn as nodeSpawn } from "node:child_process";
import type { ChildProcess as NodeChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import process from "node:process";
import type { Readable } from "node:stream";
import { Transform } from "node:stream";
import { isatty } from "node:tty";
import zlib from "node:zlib";
import { Agent, buildConnector, Pool, ProxyAgent } from "undici";
import type { Dispatcher } from "undici";
import { KubeauthError } from "../errors.ts";
import { resolveCommand } from "./command_path.ts";
import { probeExecutable, spawnErrorFromCode } from "./node_common.ts";
import { createTrackedTransport } from "./tracked_transport.ts";
import { openNodeWebSocket } from "./websocket_node.ts";
import { createNodeStreamsSupport } from "./streams_node.ts";
import type {
  ChildProcess,
  ExitStatus,
  RuntimeAdapter,
  SpawnOptions,
  Transport,
  TransportOptions,
} from "./types.ts";

/**
 * Creates the Node runtime adapter.
 *
 * @example Usage
 * ```ts ignore
 * import { createNodeAdapter } from "./node.ts";
 * const adapter = createNodeAdapter();
 * ```
 *
 * @returns The adapter.
 */
export function createNodeAdapter(): RuntimeAdapter {
  const os = process.platform === "win32" ? "windows" : process.platform;
  return {
    name: "node",
    os,
    spawn: (options) => spawnNode(os, options),
    stdinIsTerminal: () => isatty(0),
    writeStderr(chunk) {
      process.stderr.write(chunk);
    },
    env: () => ({ ...process.env }) as Record<string, string>,
    getEnv: (name) => process.env[name],
    readFile: (path) => readFile(path),
    homeDir: () => homedir() || undefined,
    cwd: () => process.cwd(),
    createTransport: createNodeTransport,
    openWebSocket: openNodeWebSocket,
    streams: createNodeStreamsSupport(),
  };
}

function spawnNode(os: string, options: SpawnOptions): Promise<ChildProcess> {
  let child: NodeChildProcess;
  try {
    const path = resolveCommand(options.command, options.env, options.cwd, {
      os,
      cwd: process.cwd(),
      probe: probeExecutable,
    });
    child = nodeSpawn(path, [...options.args], {
      cwd: options.cwd,
      env: { ...options.env },
      stdio: [
        options.stdin === "null" ? "ignore" : "inherit",
        "pipe",
        options.stderr === "piped" ? "pipe" : "inherit",
      ],
      // setsid(): the child leads its own process group.
      detached: os !== "windows",
      windowsHide: true,
    });
  } catch (err) {
    return Promise.reject(spawnErrorFromCode(options.command, err));
  }
  // Node reports a failed exec asynchronously: wait for `spawn` or `error`.
  return new Promise<ChildProcess>((resolve, reject) => {
    const onError = (err: Error) => {
      child.off("spawn", onSpawn);
      reject(spawnErrorFromCode(options.command, err));
    };
    const onSpawn = () => {
      child.off("error", onError);
      resolve(wrapChild(child, os, options.signal));
    };
    child.once("error", onError);
    child.once("spawn", onSpawn);
  });
}

function wrapChild(
  child: NodeChildProcess,
  os: string,
  signal: AbortSignal | undefined,
): ChildProcess {
  const pid = child.pid as number;
  let exited = false;
  const onAbort = () => kill("SIGKILL");
  const status = new Promise<ExitStatus>((resolve) => {
    child.once("exit", (code, sig) => {
      exited = true;
      signal?.removeEventListener("abort", onAbort);
      resolve(
        sig !== null ? { code: null, signal: sig } : { code, signal: null },
      );
    });
  });
  // Errors after a successful spawn (e.g. a failed kill) must not crash.
  child.on("error", () => {});
  function kill(sig: "SIGTERM" | "SIGKILL" = "SIGTERM"): void {
    if (os !== "windows") {
      try {
        process.kill(-pid, sig);
        return;
      } catch {
        // No group left: fall through.
      }
    }
    if (!exited) child.kill(sig);
  }
  if (signal !== undefined) {
    if (signal.aborted) kill("SIGKILL");
    else signal.addEventListener("abort", onAbort, { once: true });
  }
  return {
    pid,
    stdout: readableToWeb(child.stdout as Readable),
    stderr: child.stderr === null ? null : readableToWeb(child.stderr),
    status,
    kill,
  };
}

/**
 * A byte stream over a Node readable that reads only while the consumer
 * pulls (so an unread pipe neither buffers without bound nor keeps the event
 * loop alive), and destroys the readable when cancelled.
 */
function readableToWeb(readable: Readable): ReadableStream<Uint8Array> {
  let attached = false;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (!attached) {
        attached = true;
        readable.on("data", (chunk: Uint8Array) => {
          controller.enqueue(
            new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength),
          );
          if ((controller.desiredSize ?? 0) <= 0) readable.pause();
        });
        readable.once("end", () => controller.close());
        readable.once("error", (err) => controller.error(err));
      }
      readable.resume();
    },
    cancel() {
      readable.destroy();
    },
  }, {
    highWaterMark: 65536,
    size: (chunk) => chunk.byteLength,
  });
}

function createNodeTransport(options: TransportOptions): Transport {
  if (options.cert !== undefined && options.key === undefined) {
    throw new KubeauthError(
      "CERT_INVALID",
      "a client certificate was given without its private key",
    );
  }
  const tls: {
    ca?: string;
    cert?: string;
    key?: string;
    rejectUnauthorized: boolean;
    servername?: string;
  } = { rejectUnauthorized: options.insecureSkipVerify !== true };
  if (options.ca !== undefined) tls.ca = options.ca;
  if (options.cert !== undefined && options.key !== undefined) {
    tls.cert = options.cert;
    tls.key = options.key;
  }
  // Every pool the agent creates, so that destroy() reaches them even
  // after close(): undici's Agent forgets its pools when it starts closing,
  // and its destroy() then aborts nothing.
  const pools = new Set<Pool>();
  const factory = (origin: string | URL, opts: object): Dispatcher => {
    for (const p of pools) if (p.destroyed) pools.delete(p);
    const pool = new Pool(origin, opts);
    pools.add(pool);
    return pool;
  };
  let dispatcher: Agent | ProxyAgent;
  if (options.proxy !== undefined) {
    if (options.serverName !== undefined) tls.servername = options.serverName;
    dispatcher = new ProxyAgent({
      uri: options.proxy,
      requestTls: tls,
      factory,
    });
  } else if (options.serverName !== undefined) {
    // undici takes the server name from the request's host unless the
    // connector overrides it, so override it per connection.
    const connector = buildConnector(tls);
    const servername = options.serverName;
    dispatcher = new Agent({
      connect: (opts, callback) => connector({ ...opts, servername }, callback),
      factory,
    });
  } else {
    dispatcher = new Agent({ connect: tls, factory });
  }
  return createTrackedTransport({
    // dispatchFetch() sends what fetch would send, faster; fetch itself
    // takes the requests it does not cover. A request without the caller's
    // signal goes out without one ("pool" mode below: destroying the pools
    // aborts it), as a signal costs Node's fetch a listener, a WeakRef and
    // a FinalizationRegistry entry per request.
    fetch: (url, init, signal) =>
      dispatchFetch(dispatcher, url, init, signal) ??
        fetch(
          url,
          (signal === undefined
            ? { ...init, dispatcher }
            : { ...init, dispatcher, signal }) as RequestInit & {
              dispatcher: Dispatcher;
            },
        ),
    // Graceful: refuses new requests, closes idle sockets now and busy ones
    // once their request has ended; resolves when all are closed.
    close: () => dispatcher.close(),
    closeDrained: () => Promise.resolve(),
    // Destroying the pools themselves errors the requests in flight (and
    // their response bodies) and closes their sockets at once.
    destroy: async () => {
      await Promise.all([
        dispatcher.destroy(),
        ...[...pools].map((p) => p.destroy()),
      ]);
    },
    abort: "pool",
  });
}

// ---------------------------------------------------------------------------
// fetch over undici's dispatcher API
//
// Node 20's fetch spends more time in its own machinery (the fetch
// algorithm's request, controller and stream plumbing) than undici spends
// on the exchange itself. dispatchFetch() sends the very request Node's
// fetch (undici 6.24) would send, on the same Agent, and builds the same
// Response: the same request headers (the caller's, then fetch's defaults),
// response headers decoded as latin1, the body as a byte stream decoded as
// fetch decodes `content-encoding` (gzip, x-gzip, deflate, br; nothing at
// all for an unknown coding), the same errors (`TypeError: fetch failed`
// with the cause, `TypeError: terminated` when a body fails, the signal's
// reason on abort), `url` and `type` as fetch sets them. It covers requests
// with `redirect: "manual"` and no body or a string or byte body; anything
// else goes to fetch itself, and so does everything on a Node whose fetch
// is not the one this was checked against (see FETCH_MATCHES).

/**
 * Whether this Node's fetch is the one dispatchFetch() reproduces: the
 * undici 6.24+ of Node 20 (request defaults, decoding and errors were
 * compared with it case by case). Elsewhere fetch itself is used.
 */
const FETCH_MATCHES = /^6\.(2[4-9]|[3-9]\d)\./.test(
  process.versions.undici ?? "",
);
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);
const NORMALIZED_METHODS = new Set([
  "DELETE",
  "GET",
  "HEAD",
  "OPTIONS",
  "POST",
  "PUT",
]);
const CONDITIONAL_HEADERS = [
  "if-modified-since",
  "if-none-match",
  "if-unmodified-since",
  "if-match",
  "if-range",
];
/** Unread body bytes queued before the connection is paused (fetch: 16 KiB). */
const QUEUE_LIMIT = 16384;
const ZLIB_OPTIONS = {
  flush: zlib.constants.Z_SYNC_FLUSH,
  finishFlush: zlib.constants.Z_SYNC_FLUSH,
};
/** RFC 9110 `tchar`, the characters of a header name. */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = TCHAR[c + 0x20] = 1;
const RESPONSE_URL: unique symbol = Symbol("kubeauth.responseUrl");

/** A Response with what fetch sets on its own: `url` and `type: "basic"`. */
class FetchedResponse extends Response {
  declare [RESPONSE_URL]: string;
  constructor(body: BodyInit | null, init: ResponseInit, url: string) {
    super(body, init);
    this[RESPONSE_URL] = url;
  }
}
Object.defineProperties(FetchedResponse.prototype, {
  // `res.constructor === Response`, as for fetch's own responses.
  constructor: {
    configurable: true,
    writable: true,
    value: Response,
  },
  url: {
    configurable: true,
    enumerable: true,
    get(this: FetchedResponse): string {
      return this[RESPONSE_URL];
    },
  },
  type: {
    configurable: true,
    enumerable: true,
    get(): ResponseType {
      return "basic";
    },
  },
  clone: {
    configurable: true,
    enumerable: true,
    writable: true,
    value(this: FetchedResponse): Response {
      const copy = Response.prototype.clone.call(this) as FetchedResponse;
      Object.setPrototypeOf(copy, FetchedResponse.prototype);
      copy[RESPONSE_URL] = this[RESPONSE_URL];
      return copy;
    },
  },
});

/**
 * Aborts the exchange of a dropped response whose connection waits for its
 * body to be read, as fetch does, so that the connection is not held
 * forever. The held value is undici's abort function (it does not reach the
 * response).
 */
const pausedBodies = new FinalizationRegistry<(reason: Error) => void>(
  (abort) => abort(new Error("Response object has been garbage collected")),
);

function isHttpSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/**
 * A header record's entries as fetch would store them (lowercased names,
 * values trimmed of HTTP whitespace, same-name values joined by ", "), or
 * `undefined` if any entry is one to leave to `Headers` (which converts or
 * refuses it as fetch does).
 */
function recordEntries(
  record: Record<string, unknown>,
): Map<string, string> | undefined {
  const out = new Map<string, string>();
  for (const key in record) {
    const raw = record[key];
    if (typeof raw !== "string" || key.length === 0) return undefined;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      if (c >= 128 || TCHAR[c] !== 1) return undefined;
    }
    let a = 0;
    let b = raw.length;
    while (b > a && isHttpSpace(raw.charCodeAt(b - 1))) b--;
    while (b > a && isHttpSpace(raw.charCodeAt(a))) a++;
    const value = a === 0 && b === raw.length ? raw : raw.slice(a, b);
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c > 0xff || c === 0 || c === 0x0a || c === 0x0d) return undefined;
    }
    const name = key.toLowerCase();
    const before = out.get(name);
    out.set(name, before === undefined ? value : before + ", " + value);
  }
  return out;
}

/** The caller's headers as fetch would store them; throws what fetch throws. */
function callerHeaders(init: HeadersInit | undefined): Map<string, string> {
  if (init === undefined || init === null) return new Map();
  const proto = typeof init === "object" ? Object.getPrototypeOf(init) : 0;
  if (proto === Object.prototype || proto === null) {
    const fast = recordEntries(init as Record<string, unknown>);
    if (fast !== undefined) return fast;
  }
  const out = new Map<string, string>();
  for (const [name, value] of new Headers(init)) {
    const before = out.get(name);
    out.set(name, before === undefined ? value : before + ", " + value);
  }
  return out;
}

/**
 * `deflate` as fetch reads it: zlib-wrapped or raw, told apart by the first
 * byte.
 */
class InflateAny extends Transform {
  #inflate: Transform | undefined;
  override _transform(
    chunk: Buffer,
    encoding: BufferEncoding,
    callback: (err?: Error | null) => void,
  ): void {
    if (this.#inflate === undefined) {
      if (chunk.length === 0) {
        callback();
        return;
      }
      const inflate = (chunk[0] & 15) === 8
        ? zlib.createInflate(ZLIB_OPTIONS)
        : zlib.createInflateRaw(ZLIB_OPTIONS);
      inflate.on("data", (data: Buffer) => this.push(data));
      inflate.on("end", () => this.push(null));
      inflate.on("error", (err) => this.destroy(err));
      this.#inflate = inflate;
    }
    this.#inflate.write(chunk, encoding, callback);
  }
  override _final(callback: (err?: Error | null) => void): void {
    this.#inflate?.end();
    this.#inflate = undefined;
    callback();
  }
}

/** The decoders fetch would apply to this `content-encoding`, in order. */
function decodersFor(contentEncoding: string | undefined): Transform[] {
  if (contentEncoding === undefined) return [];
  const codings = contentEncoding.toLowerCase().split(",");
  if (codings.length > 5) {
    throw new Error(
      `too many content-encodings in response: ${codings.length}, maximum allowed is 5`,
    );
  }
  const decoders: Transform[] = [];
  for (let i = codings.length - 1; i >= 0; --i) {
    const coding = codings[i].trim();
    if (coding === "x-gzip" || coding === "gzip") {
      decoders.push(zlib.createGunzip(ZLIB_OPTIONS));
    } else if (coding === "deflate") {
      decoders.push(new InflateAny());
    } else if (coding === "br") {
      decoders.push(zlib.createBrotliDecompress({
        flush: zlib.constants.BROTLI_OPERATION_FLUSH,
        finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH,
      }));
    } else {
      return []; // an unknown coding: fetch decodes nothing
    }
  }
  return decoders;
}

/** The body bytes fetch would send for `body`, `undefined` for other bodies. */
function bytesOf(
  body: BodyInit,
): { bytes: Uint8Array; type: string | undefined } | undefined {
  if (typeof body === "string") {
    return {
      bytes: Buffer.from(body, "utf8"),
      type: "text/plain;charset=UTF-8",
    };
  }
  if (body instanceof ArrayBuffer) {
    return { bytes: new Uint8Array(body.slice(0)), type: undefined };
  }
  if (ArrayBuffer.isView(body)) {
    const copy = new Uint8Array(body.byteLength);
    copy.set(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
    return { bytes: copy, type: undefined };
  }
  return undefined;
}

/** What fetch would send: method, target, body bytes. */
interface DispatchRequest {
  method: string;
  target: URL;
  https: boolean;
  /** The response's `url`: the request URL without its fragment. */
  responseUrl: string;
  payload: { bytes: Uint8Array; type: string | undefined } | undefined;
}

/**
 * One request over `dispatcher`, as Node's fetch would make it;
 * `undefined` when the request is not one this covers (the caller then
 * uses fetch).
 */
function dispatchFetch(
  dispatcher: Dispatcher,
  url: string,
  init: RequestInit,
  signal: AbortSignal | undefined,
): Promise<Response> | undefined {
  const request = coveredRequest(url, init);
  if (request === undefined) return undefined;
  const headers = requestHeaders(init.headers, request);
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<Response>((resolve, reject) => {
    const exchange = new DispatchExchange(
      request.method,
      request.responseUrl,
      signal,
      resolve,
      reject,
    );
    dispatcher.dispatch({
      origin: request.target.origin,
      path: request.target.pathname + request.target.search,
      method: request.method,
      headers,
      body: request.payload?.bytes,
    }, exchange);
  });
}

/** The request fetch would send, or `undefined` when fetch itself must. */
function coveredRequest(
  url: string,
  init: RequestInit,
): DispatchRequest | undefined {
  if (!FETCH_MATCHES || init.redirect !== "manual") return undefined;
  let payload: DispatchRequest["payload"];
  if (init.body !== undefined && init.body !== null) {
    payload = bytesOf(init.body);
    if (payload === undefined) return undefined;
  }
  const asked = init.method ?? "GET";
  const upper = asked.toUpperCase();
  let method: string;
  if (NORMALIZED_METHODS.has(upper)) method = upper;
  else if (asked === "PATCH") method = asked;
  else return undefined; // fetch's own checks (and warnings) apply
  if (payload !== undefined && (method === "GET" || method === "HEAD")) {
    return undefined;
  }
  const target = new URL(url);
  const https = target.protocol === "https:";
  if (
    (!https && target.protocol !== "http:") || target.username !== "" ||
    target.password !== ""
  ) return undefined;
  const href = target.href;
  const hash = href.indexOf("#");
  const responseUrl = hash < 0 ? href : href.slice(0, hash);
  return { method, target, https, responseUrl, payload };
}

/** The caller's headers, then fetch's defaults, as undici's flat list. */
function requestHeaders(
  init: HeadersInit | undefined,
  request: DispatchRequest,
): string[] {
  const h = callerHeaders(init);
  // Added where fetch adds them, and only where the caller did not.
  const type = request.payload?.type;
  if (type !== undefined && !h.has("content-type")) h.set("content-type", type);
  if (!h.has("accept")) h.set("accept", "*/*");
  if (!h.has("accept-language")) h.set("accept-language", "*");
  h.set("sec-fetch-mode", "cors");
  if (!h.has("user-agent")) h.set("user-agent", "node");
  if (CONDITIONAL_HEADERS.some((name) => h.has(name))) {
    if (!h.has("pragma")) h.set("pragma", "no-cache");
    if (!h.has("cache-control")) h.set("cache-control", "no-cache");
  }
  const acceptEncoding = h.get("accept-encoding");
  if (h.has("range")) {
    h.set(
      "accept-encoding",
      acceptEncoding === undefined ? "identity" : acceptEncoding + ", identity",
    );
  } else if (acceptEncoding === undefined) {
    h.set(
      "accept-encoding",
      request.https ? "br, gzip, deflate" : "gzip, deflate",
    );
  }
  h.delete("host");
  const headers: string[] = [];
  for (const [name, value] of h) headers.push(name, value);
  return headers;
}

/**
 * One exchange on undici's dispatcher: the handler undici drives, which
 * settles fetch's promise and feeds the response body stream.
 */
class DispatchExchange implements Dispatcher.DispatchHandler {
  // Held in fields the exchange drops: it lives as long as the exchange,
  // and must not keep the response (through its promise) from the
  // garbage collector.
  #settle: ((res: Response) => void) | undefined;
  #fault: ((err: unknown) => void) | undefined;
  #abortDispatch: ((err: Error) => void) | undefined;
  #resumeDispatch: (() => void) | undefined;
  #stream: ReadableByteStreamController | undefined;
  #decoders: Transform[] = [];
  /** The body ended, failed or was cancelled. */
  #ended = false;
  #paused = false;
  /** The response, until its connection pauses or its body ends. */
  #response: Response | undefined;
  readonly #method: string;
  readonly #responseUrl: string;
  readonly #signal: AbortSignal | undefined;

  constructor(
    method: string,
    responseUrl: string,
    signal: AbortSignal | undefined,
    settle: (res: Response) => void,
    fault: (err: unknown) => void,
  ) {
    this.#method = method;
    this.#responseUrl = responseUrl;
    this.#signal = signal;
    this.#settle = settle;
    this.#fault = fault;
    signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abortDispatch = abort;
    if (this.#signal?.aborted) abort(this.#signal.reason);
  }

  onHeaders(
    status: number,
    rawHeaders: Buffer[],
    resume: () => void,
    statusText: string,
  ): boolean {
    if (status < 200) return true;
    this.#resumeDispatch = resume;
    const bodiless = this.#method === "HEAD" || NULL_BODY_STATUSES.has(status);
    let res: FetchedResponse;
    try {
      res = this.#buildResponse(status, rawHeaders, statusText, bodiless);
    } catch (err) {
      // A header, coding list, status or reason phrase fetch would not
      // have turned into a response either.
      this.#rejectOnce(new TypeError("fetch failed", { cause: err }));
      this.#end();
      this.#abortDispatch?.(err as Error);
      return false;
    }
    if (bodiless) this.#end();
    else {
      this.#response = res;
      if (this.#decoders.length > 0) this.#pipeDecoders();
    }
    this.#settle?.(res);
    this.#settle = this.#fault = undefined;
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#ended) return true; // no body (HEAD, 204…), or cancelled
    if (this.#decoders.length > 0) this.#decoders[0].write(chunk);
    else this.#enqueue(chunk);
    if ((this.#stream!.desiredSize ?? 0) > -QUEUE_LIMIT) return true;
    // Paused until the reader catches up: if the response is dropped
    // meanwhile, abort the exchange once it is collected.
    if (!this.#paused) {
      this.#paused = true;
      if (this.#response !== undefined && this.#abortDispatch !== undefined) {
        pausedBodies.register(this.#response, this.#abortDispatch);
        this.#response = undefined;
      }
    }
    return false;
  }

  onComplete(): void {
    this.#signal?.removeEventListener("abort", this.#onAbort);
    if (this.#ended) return;
    if (this.#decoders.length > 0) {
      this.#decoders[0].end();
      return;
    }
    this.#end();
    this.#stream?.close();
  }

  onError(err: Error): void {
    const signal = this.#signal;
    signal?.removeEventListener("abort", this.#onAbort);
    const reason = signal?.aborted ? signal.reason : undefined;
    if (this.#settle !== undefined) {
      this.#rejectOnce(reason ?? new TypeError("fetch failed", { cause: err }));
      this.#end();
      return;
    }
    this.#fail(reason ?? new TypeError("terminated", { cause: err }));
  }

  /** The Response fetch would build: latin1 headers, a byte-stream body. */
  #buildResponse(
    status: number,
    rawHeaders: Buffer[],
    statusText: string,
    bodiless: boolean,
  ): FetchedResponse {
    const responseHeaders = new Headers();
    let contentEncoding: string | undefined;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i].toString("latin1");
      const value = rawHeaders[i + 1].toString("latin1");
      responseHeaders.append(name, value);
      if (name.length === 16 && name.toLowerCase() === "content-encoding") {
        contentEncoding = contentEncoding === undefined
          ? value
          : contentEncoding + ", " + value;
      }
    }
    let body: ReadableStream<Uint8Array> | null = null;
    if (!bodiless) {
      this.#decoders = decodersFor(contentEncoding);
      body = this.#bodyStream();
    }
    return new FetchedResponse(
      body,
      { status, statusText, headers: responseHeaders },
      this.#responseUrl,
    );
  }

  #bodyStream(): ReadableStream<Uint8Array> {
    return new ReadableStream({
      type: "bytes",
      start: (controller) => {
        this.#stream = controller;
      },
      pull: () => {
        if (this.#paused) {
          this.#paused = false;
          this.#resumeDispatch?.();
        }
      },
      cancel: (reason) => {
        this.#end();
        for (const d of this.#decoders) d.destroy();
        this.#abortDispatch?.(
          reason instanceof Error
            ? reason
            : new Error("the response body was cancelled"),
        );
      },
    });
  }

  /** Chains the decoders; the last one feeds the body stream. */
  #pipeDecoders(): void {
    const decoders = this.#decoders;
    for (let i = 0; i + 1 < decoders.length; i++) {
      decoders[i].pipe(decoders[i + 1]);
    }
    const last = decoders[decoders.length - 1];
    last.on("data", this.#enqueue);
    last.on("end", () => {
      if (this.#ended) return;
      this.#end();
      this.#stream!.close();
    });
    for (const d of decoders) {
      d.on("error", (err) => {
        this.#fail(new TypeError("terminated", { cause: err }));
        this.#abortDispatch?.(err);
      });
    }
  }

  #rejectOnce(err: unknown): void {
    this.#fault?.(err);
    this.#settle = this.#fault = undefined;
  }

  #end(): void {
    this.#ended = true;
    this.#response = undefined;
    this.#signal?.removeEventListener("abort", this.#onAbort);
  }

  /** Ends the body with an error (fetch's `terminated`, or the abort reason). */
  #fail(err: unknown): void {
    if (this.#ended) return;
    this.#end();
    for (const d of this.#decoders) d.destroy();
    try {
      this.#stream?.error(err);
    } catch {
      // Already closed.
    }
  }

  readonly #onAbort = (): void => {
    const reason = this.#signal!.reason;
    if (this.#settle !== undefined) this.#rejectOnce(reason);
    else this.#fail(reason);
    this.#abortDispatch?.(reason);
  };

  /** A copy, as fetch makes: undici's chunks share pooled memory. */
  readonly #enqueue = (chunk: Uint8Array): void => {
    if (!this.#ended && chunk.byteLength > 0) {
      this.#stream!.enqueue(new Uint8Array(chunk));
    }
  };
}
