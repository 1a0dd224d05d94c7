/**
 * A {@linkcode NativePool} on `node:https`: one keep-alive `https.Agent` per
 * transport (so TLS sessions are never shared with another identity), with
 * per-transport `servername` and `rejectUnauthorized`, and a CONNECT tunnel
 * for `proxy`. Node uses it for every transport; Deno loads it (lazily) for
 * clusters that set `tls-server-name` or `insecure-skip-tls-verify`, which
 * `Deno.createHttpClient` cannot do per client.
 *
 * It sends what the caller gives (plus `accept: *\/*`, `accept-encoding`,
 * `user-agent` when absent, and `content-type` for a string body), never
 * follows redirects (the core does), and decodes `gzip`, `deflate` and `br`
 * bodies as fetch does. Header values go out one byte per character, as
 * fetch sends them.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import http from "node:http";
import type { ClientRequest, IncomingMessage } from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import type tls from "node:tls";
import type { Readable, Transform } from "node:stream";
import zlib from "node:zlib";
import { BUFFER_LIMIT, makeNodeResponse } from "./node_response.ts";
import { connectThroughProxy } from "./proxy_tunnel.ts";
import type { BodySource } from "./node_response.ts";
import type { NativePool } from "./tracked_transport.ts";
import type { TransportOptions } from "./types.ts";

const NULL_BODY = new Set([101, 103, 204, 205, 304]);
const PERMISSION_ERRORS = new Set(["NotCapable", "PermissionDenied"]);
const URL_OF: unique symbol = Symbol("kubeauth.url");

/** A Response with the `url` fetch would set. */
class HttpsResponse extends Response {
  declare [URL_OF]: string;
  override get url(): string {
    return this[URL_OF];
  }
}

/** The decoders fetch applies for `content-encoding` (none for an unknown one). */
function decoderFor(coding: string | undefined): Transform | undefined {
  switch (coding?.trim().toLowerCase()) {
    case "gzip":
    case "x-gzip":
      return zlib.createGunzip({
        flush: zlib.constants.Z_SYNC_FLUSH,
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
      });
    case "deflate":
      return zlib.createInflate({
        flush: zlib.constants.Z_SYNC_FLUSH,
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
      });
    case "br":
      return zlib.createBrotliDecompress();
    default:
      return undefined;
  }
}

/**
 * The response body: reads the message only while the consumer pulls, ends
 * with `TypeError: terminated` when the connection breaks, and destroys the
 * request when cancelled.
 */
function bodyOf(
  req: ClientRequest,
  msg: IncomingMessage,
  onEnd: () => void,
): ReadableStream<Uint8Array> {
  const decoder = decoderFor(msg.headers["content-encoding"] as string);
  const source = decoder === undefined ? msg : msg.pipe(decoder);
  let done = false;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const fail = (err: unknown) => {
        if (done) return;
        done = true;
        onEnd();
        controller.error(new TypeError("terminated", { cause: err }));
      };
      source.on("data", (chunk: Buffer) => {
        controller.enqueue(
          new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength),
        );
        if ((controller.desiredSize ?? 0) <= 0) source.pause();
      });
      source.once("end", () => {
        if (done) return;
        done = true;
        onEnd();
        controller.close();
      });
      source.once("error", fail);
      msg.once("aborted", () => fail(new Error("the connection broke")));
      msg.once("error", fail);
      source.pause();
    },
    pull() {
      source.resume();
    },
    cancel() {
      done = true;
      onEnd();
      req.destroy();
    },
  }, { highWaterMark: 65536, size: (c) => c.byteLength });
}

/** The body of a message for {@linkcode makeNodeResponse}. */
function sourceOf(
  req: ClientRequest,
  msg: IncomingMessage,
  signal: AbortSignal | undefined,
  finish: () => void,
): BodySource {
  const decoder = decoderFor(msg.headers["content-encoding"] as string);
  let readable: Readable = msg;
  if (decoder !== undefined) {
    // A broken connection must end the decoded body too.
    msg.once("error", (err) => decoder.destroy(err));
    msg.once("aborted", () => decoder.destroy(new Error("aborted")));
    readable = msg.pipe(decoder);
  }
  const length = msg.headers["content-length"];
  return {
    readable,
    abort: () => req.destroy(),
    onEnd: finish,
    failure: (cause) =>
      signal?.aborted ? signal.reason : new TypeError("terminated", { cause }),
    eager: decoder === undefined && length !== undefined &&
      Number(length) <= BUFFER_LIMIT,
  };
}

/**
 * A header value without leading and trailing HTTP whitespace (space, tab,
 * CR, LF), as fetch trims it. Not `trim()`: U+00A0 is the byte A0, e.g. the
 * last byte of "\u00e0" sent as UTF-8.
 */
function trimHttpSpace(value: string): string {
  let a = 0;
  let b = value.length;
  const space = (c: number) =>
    c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
  while (b > a && space(value.charCodeAt(b - 1))) b--;
  while (a < b && space(value.charCodeAt(a))) a++;
  return a === 0 && b === value.length ? value : value.slice(a, b);
}

/** The request's headers as one object (names lower case). */
function headersOf(
  init: RequestInit,
  https: boolean,
  userAgent: string,
  type: string | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  const given = init.headers;
  if (given !== undefined && given !== null) {
    const proto = Object.getPrototypeOf(given);
    if (proto === Object.prototype || proto === null) {
      for (const k in given as Record<string, string>) {
        const name = k.toLowerCase();
        const v = trimHttpSpace(String((given as Record<string, string>)[k]));
        out[name] = name in out ? `${out[name]}, ${v}` : v;
      }
    } else {
      for (const [k, v] of new Headers(given)) out[k] = v;
    }
  }
  if (type !== undefined && out["content-type"] === undefined) {
    out["content-type"] = type;
  }
  out.accept ??= "*/*";
  out["accept-encoding"] ??= https ? "gzip, deflate, br" : "gzip, deflate";
  out["user-agent"] ??= userAgent;
  // (`delete` would turn the object into a slow dictionary.)
  if (out.host !== undefined) return withoutHost(out);
  return out;
}

function withoutHost(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in headers) if (k !== "host") out[k] = headers[k];
  return out;
}

/** Where a URL points, as `http.request` options, and the response's `url`. */
interface Target {
  secure: boolean;
  hostname: string;
  port: string;
  path: string;
  /** The URL without its fragment. */
  href: string;
}

let lastUrl = "";
let lastTarget: Target | undefined;

/** The target of `url`; the last one is kept (a client sends to few URLs). */
function targetOf(url: string): Target {
  if (url === lastUrl && lastTarget !== undefined) return lastTarget;
  const u = new URL(url);
  const secure = u.protocol === "https:";
  if (!secure && u.protocol !== "http:") {
    throw new TypeError(`unsupported URL: ${u.href}`);
  }
  const target = {
    secure,
    hostname: u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname,
    port: u.port,
    path: u.pathname + u.search,
    href: u.hash === "" ? u.href : u.href.slice(0, u.href.indexOf("#")),
  };
  lastUrl = url;
  lastTarget = target;
  return target;
}

/** The body to send: bytes, a stream, or none; with fetch's content type. */
async function bodyToSend(
  url: string,
  init: RequestInit,
): Promise<
  {
    bytes?: Uint8Array;
    stream?: ReadableStream<Uint8Array>;
    type?: string;
  }
> {
  const body = init.body;
  if (body === undefined || body === null) return {};
  if (typeof body === "string") {
    return {
      bytes: Buffer.from(body, "utf8"),
      type: "text/plain;charset=UTF-8",
    };
  }
  if (body instanceof Uint8Array) return { bytes: body };
  if (body instanceof ArrayBuffer) return { bytes: new Uint8Array(body) };
  // Blobs, forms, URLSearchParams, streams: as fetch would encode them.
  const request = new Request(url, {
    method: "POST",
    body,
    duplex: "half",
  } as RequestInit);
  const type = request.headers.get("content-type") ?? undefined;
  if (body instanceof ReadableStream) return { stream: request.body!, type };
  return { bytes: new Uint8Array(await request.arrayBuffer()), type };
}

/** Writes a streamed request body, honouring backpressure. */
async function pump(
  stream: ReadableStream<Uint8Array>,
  req: ClientRequest,
): Promise<void> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!req.write(value)) {
        // A request that fails meanwhile never drains: it closes.
        await new Promise<void>((resolve) => {
          const done = () => {
            req.off("drain", done);
            req.off("close", done);
            resolve();
          };
          req.on("drain", done);
          req.on("close", done);
        });
      }
      if (req.destroyed) break;
    }
    if (!req.destroyed) req.end();
    else await reader.cancel();
  } catch (err) {
    req.destroy(err as Error);
  }
}

/**
 * Creates the `node:https` pool of one transport.
 *
 * @example Usage
 * ```ts
 * import { createHttpsPool } from "./https_pool.ts";
 * import { createTrackedTransport } from "./tracked_transport.ts";
 * const transport = createTrackedTransport(
 *   createHttpsPool({ insecureSkipVerify: true }, "example"),
 * );
 * await transport.close();
 * if (!transport.closed) throw new Error("not as shown");
 * ```
 *
 * @param options The transport's TLS settings.
 * @param userAgent The `user-agent` sent when the caller sets none.
 * @param light Answer with Node's light responses (src/runtime/node_response.ts)
 *   instead of standard ones.
 * @returns The pool (abort mode `"pool"`).
 */
export function createHttpsPool(
  options: TransportOptions,
  userAgent: string,
  light = false,
): NativePool {
  return new HttpsPool(options, userAgent, light);
}

/** `Agent.createConnection`: returns the socket, or reports it later. */
type Connect = (
  options: tls.ConnectionOptions,
  callback?: (err: Error | null, socket: Socket) => void,
) => Socket | undefined;

/** One keep-alive agent, every socket it opened, and the request loop. */
class HttpsPool implements NativePool {
  /**
   * destroy() destroys the requests in flight itself: following a signal
   * costs Node's EventTarget ~17 µs per request (measured: 155 vs 138 µs
   * per keep-alive request), a Set entry costs nothing measurable.
   */
  readonly abort = "pool";
  readonly #active = new Set<ClientRequest>();
  readonly #agent: https.Agent;
  /** The agent for `http:` URLs (a cluster without TLS), made on first use. */
  #plain: http.Agent | undefined;
  /** The proxy every connection goes through, if any. */
  readonly #proxy: URL | undefined;
  readonly #sockets = new Set<Socket>();
  readonly #userAgent: string;
  readonly #light: boolean;

  constructor(options: TransportOptions, userAgent: string, light: boolean) {
    this.#userAgent = userAgent;
    this.#light = light;
    const tlsOptions: https.AgentOptions = {
      keepAlive: true,
      rejectUnauthorized: options.insecureSkipVerify !== true,
    };
    if (options.ca !== undefined) tlsOptions.ca = options.ca;
    // Nothing is verified: no roots to load (on Deno, loading the system's
    // needs --allow-sys=ca).
    else if (options.insecureSkipVerify) tlsOptions.ca = [];
    if (options.cert !== undefined && options.key !== undefined) {
      tlsOptions.cert = options.cert;
      tlsOptions.key = options.key;
    }
    if (options.serverName !== undefined) {
      tlsOptions.servername = options.serverName;
    }
    const agent = new https.Agent(tlsOptions);
    const proxy = options.proxy === undefined
      ? undefined
      : new URL(options.proxy);
    this.#proxy = proxy;
    const patchable = agent as unknown as { createConnection: Connect };
    const base = patchable.createConnection.bind(agent);
    const track = this.#track;
    // Every socket is tracked, so that close() can wait for them and
    // destroy() reaches those still connecting.
    patchable.createConnection = (opts, callback) => {
      if (proxy === undefined) {
        const socket = base(opts, callback) as Socket;
        track(socket);
        return socket;
      }
      connectThroughProxy(proxy, { ...opts }, true, (err, socket) => {
        if (socket !== undefined) track(socket);
        callback?.(err, socket as Socket);
      });
      return undefined;
    };
    this.#agent = agent;
  }

  readonly #track = (socket: Socket): void => {
    this.#sockets.add(socket);
    socket.once("close", () => this.#sockets.delete(socket));
  };

  #plainAgent(): http.Agent {
    if (this.#plain === undefined) {
      const agent = new http.Agent({ keepAlive: true });
      const patchable = agent as unknown as { createConnection: Connect };
      const base = patchable.createConnection.bind(agent);
      const proxy = this.#proxy;
      patchable.createConnection = (opts, callback) => {
        if (proxy === undefined) {
          const socket = base(opts, callback) as Socket;
          this.#track(socket);
          return socket;
        }
        connectThroughProxy(proxy, { ...opts }, false, (err, socket) => {
          if (socket !== undefined) this.#track(socket);
          callback?.(err, socket as Socket);
        });
        return undefined;
      };
      this.#plain = agent;
    }
    return this.#plain;
  }

  fetch(
    url: string,
    init: RequestInit,
    signal: AbortSignal | undefined,
  ): Promise<Response> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const body = init.body;
    if (
      body === undefined || body === null || typeof body === "string" ||
      body instanceof Uint8Array
    ) {
      // The common case, without a promise in between.
      const bytes = typeof body === "string"
        ? Buffer.from(body, "utf8")
        : body ?? undefined;
      const type = typeof body === "string"
        ? "text/plain;charset=UTF-8"
        : undefined;
      return this.#send(url, init, signal, { bytes, type });
    }
    return bodyToSend(url, init).then((b) => this.#send(url, init, signal, b));
  }

  #send(
    url: string,
    init: RequestInit,
    signal: AbortSignal | undefined,
    body: {
      bytes?: Uint8Array;
      stream?: ReadableStream<Uint8Array>;
      type?: string;
    },
  ): Promise<Response> {
    let target: Target;
    try {
      target = targetOf(url);
    } catch (err) {
      return Promise.reject(err);
    }
    const secure = target.secure;
    const method = (init.method ?? "GET").toUpperCase();
    return new Promise<Response>((resolve, reject) => {
      let settled = false;
      let ended = false;
      const onAbort = () => {
        const reason = signal!.reason;
        if (!settled) {
          settled = true;
          reject(reason);
        }
        req.destroy(reason instanceof Error ? reason : new Error("aborted"));
      };
      const finish = () => {
        if (ended) return;
        ended = true;
        this.#active.delete(req);
        signal?.removeEventListener("abort", onAbort);
      };
      const req = (secure ? https : http).request({
        hostname: target.hostname,
        port: target.port,
        path: target.path,
        method,
        headers: headersOf(init, secure, this.#userAgent, body.type),
        agent: secure ? this.#agent : this.#plainAgent(),
      });
      this.#active.add(req);
      req.once("response", (msg: IncomingMessage) => {
        if (settled) {
          msg.resume();
          return;
        }
        settled = true;
        let res: Response;
        try {
          res = this.#respond(req, msg, method, target, signal, finish);
        } catch (err) {
          finish();
          req.destroy();
          reject(new TypeError("fetch failed", { cause: err }));
          return;
        }
        resolve(res);
      });
      req.once("error", (err) => {
        finish();
        if (!settled) {
          settled = true;
          reject(
            signal?.aborted ? signal.reason : PERMISSION_ERRORS.has(err.name)
              // A missing Deno permission, whose message names the flag.
              ? err
              : new TypeError("fetch failed", { cause: err }),
          );
        }
      });
      signal?.addEventListener("abort", onAbort, { once: true });
      if (body.stream !== undefined) void pump(body.stream, req);
      else req.end(body.bytes);
    });
  }

  /** The Response of a message: Node's light one, or a standard one. */
  #respond(
    req: ClientRequest,
    msg: IncomingMessage,
    method: string,
    target: Target,
    signal: AbortSignal | undefined,
    finish: () => void,
  ): Response {
    const status = msg.statusCode ?? 0;
    const bodiless = method === "HEAD" || NULL_BODY.has(status);
    if (bodiless) {
      msg.resume();
      finish();
    }
    const url = target.href;
    if (this.#light) {
      return makeNodeResponse(
        {
          status,
          statusText: msg.statusMessage ?? "",
          raw: msg.rawHeaders,
          url,
        },
        bodiless ? null : sourceOf(req, msg, signal, finish),
      );
    }
    const headers = new Headers();
    const raw = msg.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) headers.append(raw[i], raw[i + 1]);
    const res = new HttpsResponse(bodiless ? null : bodyOf(req, msg, finish), {
      status,
      statusText: msg.statusMessage ?? "",
      headers,
    });
    res[URL_OF] = url;
    return res;
  }

  close(): Promise<void> {
    // Idle sockets now; busy ones in closeDrained(), once their request ended.
    for (const agent of [this.#agent, this.#plain]) {
      for (const list of Object.values(agent?.freeSockets ?? {})) {
        for (const socket of list ?? []) socket.destroy();
      }
    }
    return Promise.resolve();
  }

  closeDrained(): Promise<void> {
    return this.destroy();
  }

  destroy(): Promise<void> {
    const reason = new Error("the transport was destroyed");
    for (const req of this.#active) req.destroy(reason);
    this.#active.clear();
    this.#agent.destroy();
    this.#plain?.destroy();
    const closing: Promise<void>[] = [];
    for (const socket of this.#sockets) {
      if (!socket.destroyed) socket.destroy();
      closing.push(
        new Promise<void>((resolve) => {
          if (!this.#sockets.has(socket)) resolve();
          else socket.once("close", () => resolve());
        }),
      );
    }
    return Promise.all(closing).then(() => {});
  }
}
