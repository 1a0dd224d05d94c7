/**
 * The `ws`-style socket client-node's `Exec`, `Attach` and `PortForward`
 * expect, over the standard WebSocket that `kube.webSocket()` opens, and the
 * `WebSocketInterface` (`connect(path, textHandler, binaryHandler)`) that
 * hands it to them.
 *
 * @module
 */
import type { AuthedFetch } from "../fetch/authed_fetch.ts";
import type { WebSocketInterface } from "./client_node_api.d.ts";

/** The subprotocols client-node offers, most preferred first. */
export const CHANNEL_PROTOCOLS: readonly string[] = [
  "v5.channel.k8s.io",
  "v4.channel.k8s.io",
  "v3.channel.k8s.io",
  "v2.channel.k8s.io",
  "channel.k8s.io",
];

/**
 * The subprotocols offered for port-forward paths: the kubelet's
 * port-forward WebSocket speaks v4 framing only. Offering v5 there would
 * make client-node end its input with a v5 close-stream frame (which
 * port-forward has no use for) instead of closing the socket.
 */
export const PORT_FORWARD_PROTOCOLS: readonly string[] = ["v4.channel.k8s.io"];

/**
 * The subprotocols to offer for `path`: {@linkcode PORT_FORWARD_PROTOCOLS}
 * for `…/portforward`, else {@linkcode CHANNEL_PROTOCOLS}.
 *
 * @example Usage
 * ```ts
 * import { protocolsFor } from "./client_node_socket.ts";
 * const pf = protocolsFor("/api/v1/namespaces/d/pods/web/portforward?ports=80");
 * if (pf.join() !== "v4.channel.k8s.io") throw new Error("not as shown");
 * if (protocolsFor("/api/v1/namespaces/d/pods/web/exec?command=ls")[0] !== "v5.channel.k8s.io") throw new Error("not as shown");
 * ```
 *
 * @param path The path with its query.
 * @returns A fresh list, most preferred first.
 */
export function protocolsFor(path: string): string[] {
  const pathname = path.split("?", 1)[0];
  return pathname.endsWith("/portforward")
    ? [...PORT_FORWARD_PROTOCOLS]
    : [...CHANNEL_PROTOCOLS];
}

/** The channel number of v5's close-stream frames (`[255, channel]`). */
const CLOSE_CHANNEL = 255;

/** What client-node's handlers receive: a Buffer where the runtime has one. */
export type Bytes = Uint8Array & { toString(encoding?: string): string };

/** A Uint8Array whose `toString("utf8")` decodes, as a Buffer's does. */
class Utf8Bytes extends Uint8Array {
  override toString(encoding?: string): string {
    if (encoding === undefined || /^utf-?8$/i.test(encoding)) {
      return new TextDecoder().decode(this);
    }
    return super.toString();
  }
}

/**
 * `bytes` as a Buffer (client-node decodes the exit Status with
 * `buff.toString("utf8")` and slices port headers off), without copying.
 */
function toBytes(bytes: Uint8Array<ArrayBuffer>): Bytes {
  const B = (globalThis as {
    Buffer?: { from(a: ArrayBufferLike, o: number, n: number): Bytes };
  }).Buffer;
  if (B) return B.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return new Utf8Bytes(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Receives text messages; returns false to close the socket. */
export type TextHandler = (text: string) => boolean;
/** Receives binary messages by channel; returns false to close the socket. */
export type BinaryHandler = (stream: number, buff: Bytes) => boolean;
/** A `ws`-style listener (arguments depend on the event). */
// deno-lint-ignore no-explicit-any
export type WsListener = (...args: any[]) => void;
/** A standard WebSocket event handler property. */
export type WsEventHandler = ((event: Event) => void) | null;
/** The events of a {@linkcode KubeauthSocket}. */
export type WsEvent = "open" | "message" | "close" | "error";

/**
 * The socket `kubeauthWebSocketHandler(kube).connect()` resolves to, and so
 * what `Exec.exec()`, `Attach.attach()` and `PortForward.portForward()`
 * return: the parts of a `ws` WebSocket that client-node and its users call
 * (`send`, `close`, `terminate`, `readyState`, `protocol`, `on`/`once`/`off`
 * with `ws`'s event arguments, and the `on…` handler properties), over a
 * socket that kube opened. Messages come as Buffers (`message` listeners get
 * `(data, isBinary)`, `close` listeners `(code, reason)`).
 *
 * @example Usage
 * ```ts ignore
 * import { Exec } from "@kubernetes/client-node";
 * const ws = await new Exec(kc, kubeauthWebSocketHandler(kube))
 *   .exec("default", "web", "app", ["date"], process.stdout, process.stderr, null, false);
 * ws.on("close", (code) => console.log("closed", code));
 * ```
 */
export class KubeauthSocket {
  /** `readyState` value: connecting. */
  static readonly CONNECTING = 0;
  /** `readyState` value: open. */
  static readonly OPEN = 1;
  /** `readyState` value: closing. */
  static readonly CLOSING = 2;
  /** `readyState` value: closed. */
  static readonly CLOSED = 3;
  /** `readyState` value: connecting. */
  readonly CONNECTING = 0;
  /** `readyState` value: open. */
  readonly OPEN = 1;
  /** `readyState` value: closing. */
  readonly CLOSING = 2;
  /** `readyState` value: closed. */
  readonly CLOSED = 3;
  /** The `on…` property handlers, called with the standard event. */
  onopen: WsEventHandler = null;
  /** Called with each `message` event. */
  onmessage: WsEventHandler = null;
  /** Called with the `close` event. */
  onclose: WsEventHandler = null;
  /** Called with an `error` event. */
  onerror: WsEventHandler = null;
  readonly #ws: WebSocket;
  readonly #listeners = new Map<WsEvent, WsListener[]>();

  /**
   * Wraps an open socket from `kube.webSocket()`.
   *
   * @param ws The open socket (`binaryType` `arraybuffer`).
   */
  constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.addEventListener("message", (ev) => this.#onMessage(ev));
    ws.addEventListener("close", (ev) => this.#onClose(ev as CloseEvent));
    ws.addEventListener("error", (ev) => this.#onError(ev));
  }

  /** The URL the socket connected to. */
  get url(): string {
    return this.#ws.url;
  }
  /** The subprotocol the server chose. */
  get protocol(): string {
    return this.#ws.protocol;
  }
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  get readyState(): number {
    return this.#ws.readyState;
  }
  /** Bytes queued by `send` and not yet sent. */
  get bufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  /**
   * Sends a message (a Buffer or bytes go binary, a string as text).
   *
   * @param data What to send.
   * @param cb Called once queued, or with an error when the socket is not open.
   */
  send(
    data: string | ArrayBuffer | ArrayBufferView,
    cb?: (err?: Error) => void,
  ): void {
    if (this.#ws.readyState !== 1) {
      cb?.(new Error("WebSocket is not open: readyState " + this.readyState));
      return;
    }
    this.#ws.send(typeof data === "string" ? data : bytesOf(data));
    cb?.();
  }

  /**
   * Starts the closing handshake.
   *
   * @param code The close code (1000 when omitted).
   * @param reason The close reason.
   */
  close(code?: number, reason?: string): void {
    try {
      this.#ws.close(code, reason);
    } catch {
      // A code the standard WebSocket refuses (ws accepts more): plain close.
      this.#ws.close();
    }
  }

  /** Closes at once (as `ws`'s `terminate`; here the closing handshake). */
  terminate(): void {
    this.close();
  }

  /**
   * Adds a `ws`-style listener.
   *
   * @param event `message` `(data, isBinary)`, `close` `(code, reason)`, `error` `(err)`, `open`.
   * @param listener The listener.
   * @returns This socket.
   */
  on(event: WsEvent, listener: WsListener): this {
    const list = this.#listeners.get(event) ?? [];
    list.push(listener);
    this.#listeners.set(event, list);
    return this;
  }

  /**
   * Same as {@linkcode KubeauthSocket.on}.
   *
   * @param event The event name.
   * @param listener The listener.
   * @returns This socket.
   */
  addListener(event: WsEvent, listener: WsListener): this {
    return this.on(event, listener);
  }

  /**
   * Adds a listener called at most once.
   *
   * @param event The event name.
   * @param listener The listener.
   * @returns This socket.
   */
  once(event: WsEvent, listener: WsListener): this {
    const once: WsListener = (...args) => {
      this.off(event, once);
      listener(...args);
    };
    return this.on(event, once);
  }

  /**
   * Removes a listener added with `on`, `addListener` or `once`... (`once`
   * wrappers are removed when they fire).
   *
   * @param event The event name.
   * @param listener The listener.
   * @returns This socket.
   */
  off(event: WsEvent, listener: WsListener): this {
    const list = this.#listeners.get(event) ?? [];
    const i = list.lastIndexOf(listener);
    if (i >= 0) list.splice(i, 1);
    return this;
  }

  /**
   * Same as {@linkcode KubeauthSocket.off}.
   *
   * @param event The event name.
   * @param listener The listener.
   * @returns This socket.
   */
  removeListener(event: WsEvent, listener: WsListener): this {
    return this.off(event, listener);
  }

  /**
   * The standard `addEventListener` of the underlying socket.
   *
   * @param type The event type.
   * @param listener The listener.
   */
  addEventListener(type: WsEvent, listener: (event: Event) => void): void {
    this.#ws.addEventListener(type, listener);
  }

  /**
   * The standard `removeEventListener` of the underlying socket.
   *
   * @param type The event type.
   * @param listener The listener.
   */
  removeEventListener(type: WsEvent, listener: (event: Event) => void): void {
    this.#ws.removeEventListener(type, listener);
  }

  #emit(event: WsEvent, ev: Event, args: unknown[]): void {
    const prop = this[`on${event}`];
    if (prop) prop.call(this, ev);
    for (const l of [...(this.#listeners.get(event) ?? [])]) l(...args);
  }

  #onMessage(ev: Event): void {
    const data = (ev as MessageEvent).data;
    if (typeof data === "string") {
      this.#emit("message", ev, [
        toBytes(new TextEncoder().encode(data)),
        false,
      ]);
    } else {
      this.#emit("message", ev, [toBytes(new Uint8Array(data)), true]);
    }
  }

  #onClose(ev: CloseEvent): void {
    const reason = toBytes(new TextEncoder().encode(ev.reason ?? ""));
    this.#emit("close", ev, [ev.code, reason]);
  }

  #onError(ev: Event): void {
    const message = (ev as ErrorEvent).message || "WebSocket error";
    this.#emit("error", ev, [new Error(message)]);
  }

  /**
   * Reports a failure of a handler (as `ws` reports its own) and closes.
   *
   * @param err What the handler threw.
   */
  fail(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    const ev = new Event("error");
    Object.assign(ev, { error, message: error.message });
    this.#emit("error", ev, [error]);
    this.close(1000);
  }
}

/** Feeds one message to client-node's handlers; false means close. */
function dispatch(
  data: unknown,
  textHandler: TextHandler | null,
  binaryHandler: BinaryHandler | null,
): boolean {
  if (typeof data === "string") {
    return textHandler ? textHandler(data) : true;
  }
  const bytes = toBytes(new Uint8Array(data as ArrayBuffer));
  if (bytes.length === 0) return true;
  // A v5 close-stream frame: the final Status ends the output streams.
  if (bytes[0] === CLOSE_CHANNEL) return true;
  return binaryHandler ? binaryHandler(bytes[0], bytes.subarray(1)) : true;
}

/**
 * client-node's `WebSocketInterface` on kube: what
 * `kubeauthWebSocketHandler(kube)` returns.
 *
 * @example Usage
 * ```ts ignore
 * import { Exec } from "@kubernetes/client-node";
 * const exec = new Exec(kc, new KubeauthWebSocketHandler(kube));
 * ```
 */
export class KubeauthWebSocketHandler implements WebSocketInterface {
  readonly #kube: AuthedFetch;

  /**
   * Creates the handler.
   *
   * @param kube The authed fetch that opens the sockets.
   */
  constructor(kube: AuthedFetch) {
    this.#kube = kube;
  }

  /**
   * Opens `path` (exec, attach, portforward…) through `kube.webSocket`,
   * offering client-node's channel subprotocols (v4 only for port-forward,
   * as the kubelet speaks it: client-node then closes the socket when its
   * input ends), and feeds each message to
   * the handlers: text to `textHandler`, binary as `(channel, rest)` to
   * `binaryHandler`; a handler returning false closes the socket.
   *
   * @param path The path with its query, e.g. `/api/v1/namespaces/default/pods/web/exec?…`.
   * @param textHandler Receives text messages.
   * @param binaryHandler Receives binary messages by channel.
   * @returns The open socket.
   */
  async connect(
    path: string,
    textHandler: TextHandler | null,
    binaryHandler: BinaryHandler | null,
  ): Promise<KubeauthSocket> {
    const ws = await this.#kube.webSocket(path, {
      protocols: protocolsFor(path),
    });
    const socket = new KubeauthSocket(ws);
    // Attached in this turn: kube holds early messages until then.
    ws.addEventListener("message", (ev) => {
      if (ws.readyState !== 1) return;
      try {
        const data = (ev as MessageEvent).data;
        if (!dispatch(data, textHandler, binaryHandler)) socket.close(1000);
      } catch (err) {
        socket.fail(err);
      }
    });
    return socket;
  }
}

/** The bytes of a binary message, without copying. */
function bytesOf(data: ArrayBuffer | ArrayBufferView): Uint8Array {
  return data instanceof ArrayBuffer
    ? new Uint8Array(data)
    : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
