/**
 * A client `WebSocket` on a `node:tls` connection (`node:net` for `ws:`,
 * an HTTP CONNECT tunnel for a proxy): the upgrade written by hand
 * (./websocket_handshake.ts), then frames (./websocket_frames.ts). It
 * behaves as the standard `WebSocket` does for what kubeauth and its users
 * touch: `open`, `message`, `error` and `close` events, `readyState`,
 * `protocol`, `bufferedAmount`, `binaryType`, `send`, `close`.
 *
 * Deno uses it for clusters with a CA, `tls-server-name` or
 * `insecure-skip-tls-verify`: its own `WebSocket` takes a
 * `Deno.createHttpClient`, which adds the CA to Deno's root store instead of
 * trusting it alone and can set neither of the other two.
 *
 * @module
 */
import net from "node:net";
import tls from "node:tls";
import type { Socket } from "node:net";
import type { TransportOptions, WebSocketOptions } from "./types.ts";
import { checkIdentity } from "./websocket_options.ts";
import {
  encodeFrame,
  FrameError,
  FrameReader,
  OPCODE,
  type ReadFrame,
} from "./websocket_frames.ts";
import {
  checkAnswer,
  newHandshakeKey,
  parseAnswer,
  upgradeRequest,
} from "./websocket_handshake.ts";
import { connectThroughProxy } from "./proxy_tunnel.ts";
import { concatBytes } from "../tls/der.ts";

/** The largest message accepted from the server. */
const MAX_MESSAGE = 64 * 1024 * 1024;
/** The largest handshake answer head. */
const MAX_HEAD = 64 * 1024;
/** How long a closing socket waits for the server's close before cutting. */
const CLOSE_TIMEOUT_MS = 5000;

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/**
 * Opens a WebSocket over `node:tls` (see the module doc).
 *
 * @example Usage
 * ```ts ignore
 * import { openTlsWebSocket } from "./websocket_tls.ts";
 * const ws = openTlsWebSocket("wss://k8s.test/api", { ca: "..." }, {});
 * ws.close();
 * ```
 *
 * @param url A `wss:` or `ws:` URL.
 * @param tls CA, client identity, server name, verification, proxy.
 * @param options Subprotocols and headers.
 * @returns The connecting socket.
 */
export function openTlsWebSocket(
  url: string,
  tls: TransportOptions,
  options: WebSocketOptions,
): WebSocket {
  checkIdentity(tls);
  return new TlsWebSocket(url, tls, options) as unknown as WebSocket;
}

/** The socket's connection: TLS or TCP, direct or through the proxy. */
function connect(url: URL, o: TransportOptions): Promise<Socket> {
  const secure = url.protocol === "wss:" || url.protocol === "https:";
  const options: tls.ConnectionOptions = {
    host: url.hostname.replace(/^\[|\]$/g, ""),
    port: Number(url.port || (secure ? 443 : 80)),
    rejectUnauthorized: o.insecureSkipVerify !== true,
    ALPNProtocols: ["http/1.1"],
    // Nothing is verified: no roots to load (Deno would need --allow-sys=ca).
    ...(o.ca !== undefined
      ? { ca: o.ca }
      : o.insecureSkipVerify
      ? { ca: [] }
      : {}),
    ...(o.cert !== undefined && o.key !== undefined
      ? { cert: o.cert, key: o.key }
      : {}),
    ...(o.serverName !== undefined ? { servername: o.serverName } : {}),
  };
  return new Promise((resolve, reject) => {
    if (o.proxy !== undefined) {
      connectThroughProxy(new URL(o.proxy), options, secure, (err, s) => {
        if (err === null && s !== undefined) resolve(s);
        else reject(err);
      });
      return;
    }
    const socket = secure ? tls.connect(options) : net.connect(
      options as net.NetConnectOpts,
    );
    socket.once(secure ? "secureConnect" : "connect", () => {
      socket.off("error", reject);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

/** Reads the answer's head; resolves with it and the bytes after it. */
function readHead(socket: Socket): Promise<{ head: string; rest: Uint8Array }> {
  return new Promise((resolve, reject) => {
    let seen: Uint8Array = new Uint8Array(0);
    const cleanup = () => {
      socket.off("data", onData);
      socket.off("close", onEnd);
      socket.off("error", onEnd);
    };
    const onEnd = (err?: unknown) => {
      cleanup();
      reject(err instanceof Error ? err : new Error("the connection closed"));
    };
    const onData = (chunk: Uint8Array) => {
      seen = concatBytes([seen, chunk]);
      const end = headEnd(seen);
      if (end < 0 && seen.length <= MAX_HEAD) return;
      // Frames may follow at once: hold them until a reader is attached.
      socket.pause();
      cleanup();
      if (end < 0) return reject(new Error("the answer's head is too long"));
      const head = new TextDecoder("latin1").decode(seen.subarray(0, end));
      resolve({ head, rest: seen.subarray(end + 4) });
    };
    socket.on("data", onData);
    socket.once("close", onEnd);
    socket.once("error", onEnd);
  });
}

function headEnd(b: Uint8Array): number {
  for (let i = 3; i < b.length; i++) {
    if (b[i] === 10 && b[i - 1] === 13 && b[i - 2] === 10 && b[i - 3] === 13) {
      return i - 3;
    }
  }
  return -1;
}

function closeEvent(code: number, reason: string, wasClean: boolean): Event {
  if (typeof CloseEvent === "function") {
    return new CloseEvent("close", { code, reason, wasClean });
  }
  return Object.assign(new Event("close"), { code, reason, wasClean });
}

/** The socket (see the module doc). */
class TlsWebSocket extends EventTarget {
  readonly url: string;
  readonly extensions = "";
  binaryType: BinaryType = "arraybuffer";
  #protocol = "";
  #state = CONNECTING;
  #socket: Socket | undefined;
  readonly #reader = new FrameReader(MAX_MESSAGE);
  #closeSent = false;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #code = 1006;
  #reason = "";
  #clean = false;

  constructor(url: string, tls: TransportOptions, options: WebSocketOptions) {
    super();
    this.url = new URL(url).href;
    this.#start(tls, options).catch(() => this.#fail());
  }

  get readyState(): number {
    return this.#state;
  }
  get protocol(): string {
    return this.#protocol;
  }
  get bufferedAmount(): number {
    return this.#socket?.writableLength ?? 0;
  }

  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void {
    if (this.#state === CONNECTING) {
      throw new DOMException(
        "the socket is still connecting",
        "InvalidStateError",
      );
    }
    if (this.#state !== OPEN) return;
    if (typeof data === "string") {
      this.#write(OPCODE.text, new TextEncoder().encode(data));
    } else if (data instanceof Blob) {
      throw new TypeError("Blob messages are not supported");
    } else if (ArrayBuffer.isView(data)) {
      const view = new Uint8Array(
        data.buffer,
        data.byteOffset,
        data.byteLength,
      );
      this.#write(OPCODE.binary, view);
    } else this.#write(OPCODE.binary, new Uint8Array(data));
  }

  close(code?: number, reason = ""): void {
    if (code !== undefined && code !== 1000 && (code < 3000 || code > 4999)) {
      throw new DOMException(
        `invalid close code ${code}`,
        "InvalidAccessError",
      );
    }
    const reasonBytes = new TextEncoder().encode(reason);
    if (reasonBytes.length > 123) {
      throw new DOMException("the close reason is too long", "SyntaxError");
    }
    if (this.#state === CONNECTING) {
      return this.#fail();
    }
    if (this.#state !== OPEN) return;
    this.#sendClose(code, reasonBytes);
  }

  async #start(o: TransportOptions, options: WebSocketOptions): Promise<void> {
    const url = new URL(this.url);
    const socket = await connect(url, o);
    if (this.#state !== CONNECTING) return void socket.destroy();
    this.#socket = socket;
    socket.setNoDelay(true);
    // Until open, an error or close ends the handshake (readHead rejects).
    socket.on("error", () => {
      if (this.#state !== CONNECTING) this.dispatchEvent(new Event("error"));
    });
    socket.on("close", () => {
      if (this.#state !== CONNECTING) this.#finish();
    });
    const key = newHandshakeKey();
    const offered = options.protocols ?? [];
    socket.write(upgradeRequest(url, key, offered, options.headers ?? {}));
    const { head, rest } = await readHead(socket);
    const answer = parseAnswer(head);
    const checked = answer === null
      ? { protocol: "", problem: "the answer is not HTTP" }
      : await checkAnswer(answer, key, offered);
    if (checked.problem !== undefined) throw new Error(checked.problem);
    if (this.#state !== CONNECTING) return;
    if (socket.destroyed) throw new Error("the connection closed");
    this.#protocol = checked.protocol;
    this.#state = OPEN;
    this.dispatchEvent(new Event("open"));
    if (rest.length > 0) this.#onData(rest);
    socket.on("data", (chunk: Uint8Array) => this.#onData(chunk));
    socket.resume();
  }

  #write(opcode: number, payload: Uint8Array): void {
    this.#socket?.write(encodeFrame(opcode, payload));
  }

  #sendClose(code: number | undefined, reason: Uint8Array): void {
    const payload = code === undefined
      ? new Uint8Array(0)
      : new Uint8Array([code >> 8, code & 0xff, ...reason]);
    this.#write(OPCODE.close, payload);
    this.#closeSent = true;
    this.#state = CLOSING;
    this.#closeTimer ??= setTimeout(
      () => this.#socket?.destroy(),
      CLOSE_TIMEOUT_MS,
    );
  }

  #onData(chunk: Uint8Array): void {
    let frames: ReadFrame[];
    try {
      frames = this.#reader.push(chunk);
    } catch (err) {
      const code = err instanceof FrameError ? err.closeCode : 1002;
      this.dispatchEvent(new Event("error"));
      if (!this.#closeSent) this.#sendClose(code, new Uint8Array(0));
      this.#socket?.destroy();
      return;
    }
    for (const frame of frames) this.#onFrame(frame);
  }

  #onFrame({ opcode, payload }: ReadFrame): void {
    if (opcode === OPCODE.ping) {
      if (!this.#closeSent) this.#write(OPCODE.pong, payload);
    } else if (opcode === OPCODE.close) {
      this.#onClose(payload);
    } else if (opcode === OPCODE.text || opcode === OPCODE.binary) {
      if (this.#state !== OPEN) return;
      this.dispatchEvent(
        new MessageEvent("message", { data: this.#dataOf(opcode, payload) }),
      );
    }
  }

  #dataOf(opcode: number, payload: Uint8Array): string | ArrayBuffer | Blob {
    if (opcode === OPCODE.text) return new TextDecoder().decode(payload);
    if (this.binaryType === "blob") {
      return new Blob([payload as Uint8Array<ArrayBuffer>]);
    }
    return payload.buffer as ArrayBuffer;
  }

  #onClose(payload: Uint8Array): void {
    this.#code = payload.length >= 2 ? (payload[0] << 8) | payload[1] : 1005;
    this.#reason = new TextDecoder().decode(payload.subarray(2));
    this.#clean = true;
    if (!this.#closeSent) {
      this.#sendClose(
        payload.length >= 2 ? this.#code : undefined,
        payload.subarray(2),
      );
    }
    this.#socket?.end();
  }

  #fail(): void {
    if (this.#state === CLOSED) return;
    this.#state = CLOSING;
    this.dispatchEvent(new Event("error"));
    this.#socket?.destroy();
    this.#finish();
  }

  #finish(): void {
    if (this.#state === CLOSED) return;
    this.#state = CLOSED;
    clearTimeout(this.#closeTimer);
    this.#socket?.destroy();
    const clean = this.#clean;
    this.dispatchEvent(
      closeEvent(clean ? this.#code : 1006, clean ? this.#reason : "", clean),
    );
  }
}
