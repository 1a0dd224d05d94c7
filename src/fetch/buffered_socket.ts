/**
 * A WebSocket that keeps what the server sent before anyone listened:
 * {@linkcode BufferedWebSocket} wraps an open runtime socket and holds its
 * messages (and the close that follows them) until the first `message`
 * listener is attached, then delivers them in order. Runtimes may deliver
 * frames sent right after the upgrade in the same turn as `open`, before a
 * caller awaiting the open socket can attach anything.
 *
 * @module
 */

type Handler = ((this: WebSocket, ev: Event) => unknown) | null;
type EventName = "open" | "message" | "error" | "close";
const EVENTS: readonly EventName[] = ["open", "message", "error", "close"];

/**
 * The wrapper handed to callers of `kube.webSocket()`. It behaves as the
 * standard `WebSocket` (same members, same events, `binaryType`
 * `arraybuffer`); see the module doc for the buffering rule.
 *
 * @example Usage
 * ```ts
 * import { BufferedWebSocket } from "./buffered_socket.ts";
 * const inner = new EventTarget() as unknown as WebSocket;
 * Object.assign(inner, { readyState: 1, protocol: "p", url: "wss://x/" });
 * const ws = new BufferedWebSocket(inner);
 * inner.dispatchEvent(new MessageEvent("message", { data: "early" }));
 * const got: string[] = [];
 * ws.addEventListener("message", (e) => got.push((e as MessageEvent).data));
 * inner.dispatchEvent(new MessageEvent("message", { data: "late" }));
 * await Promise.resolve();
 * if (got.join() !== "early,late") throw new Error("not as shown");
 * ```
 */
export class BufferedWebSocket extends EventTarget {
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
  readonly #inner: WebSocket;
  /** Events held until the first message listener; `null` once delivering. */
  #held: Event[] | null = [];
  #releasing = false;
  readonly #handlers = new Map<EventName, Handler>();
  readonly #wrappers = new Map<EventName, EventListener>();

  /**
   * Wraps a socket and starts holding its events.
   *
   * @param inner The runtime's socket (open, or about to be).
   */
  constructor(inner: WebSocket) {
    super();
    this.#inner = inner;
    for (const type of EVENTS) {
      inner.addEventListener(type, (ev) => this.#forward(type, ev));
    }
  }

  /** The URL the socket connected to. */
  get url(): string {
    return this.#inner.url;
  }
  /** The subprotocol the server chose (`""` when none). */
  get protocol(): string {
    return this.#inner.protocol;
  }
  /** The extensions the server chose. */
  get extensions(): string {
    return this.#inner.extensions;
  }
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  get readyState(): number {
    return this.#inner.readyState;
  }
  /** Bytes queued by `send()` and not yet written to the network. */
  get bufferedAmount(): number {
    return this.#inner.bufferedAmount;
  }
  /** `arraybuffer` (default here) or `blob`. */
  get binaryType(): BinaryType {
    return this.#inner.binaryType;
  }
  set binaryType(value: BinaryType) {
    this.#inner.binaryType = value;
  }

  /** The `open` handler attribute. */
  get onopen(): Handler {
    return this.#handlers.get("open") ?? null;
  }
  set onopen(h: Handler) {
    this.#setHandler("open", h);
  }
  /** The `message` handler attribute (setting it releases held messages). */
  get onmessage(): Handler {
    return this.#handlers.get("message") ?? null;
  }
  set onmessage(h: Handler) {
    this.#setHandler("message", h);
  }
  /** The `error` handler attribute. */
  get onerror(): Handler {
    return this.#handlers.get("error") ?? null;
  }
  set onerror(h: Handler) {
    this.#setHandler("error", h);
  }
  /** The `close` handler attribute. */
  get onclose(): Handler {
    return this.#handlers.get("close") ?? null;
  }
  set onclose(h: Handler) {
    this.#setHandler("close", h);
  }

  /**
   * Sends a message.
   *
   * @param data Text or bytes.
   */
  send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
    this.#inner.send(data as string);
  }

  /**
   * Starts the closing handshake.
   *
   * @param code A close code (1000, or 3000–4999).
   * @param reason A short reason.
   */
  close(code?: number, reason?: string): void {
    this.#inner.close(code, reason);
  }

  /**
   * Adds a listener; once a `message` listener is attached, the held
   * messages (and a held close) are delivered in a microtask, so listeners
   * attached in the same turn see them too.
   *
   * @param type The event type.
   * @param listener The listener.
   * @param options As for `EventTarget`.
   */
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    super.addEventListener(type, listener, options);
    if (type === "message" && listener !== null) this.#release();
  }

  #setHandler(type: EventName, h: Handler): void {
    const old = this.#wrappers.get(type);
    if (old !== undefined) super.removeEventListener(type, old);
    this.#handlers.set(type, h);
    if (typeof h !== "function") {
      this.#wrappers.delete(type);
      return;
    }
    const wrapper: EventListener = (ev) =>
      h.call(this as unknown as WebSocket, ev);
    this.#wrappers.set(type, wrapper);
    this.addEventListener(type, wrapper);
  }

  #forward(type: EventName, ev: Event): void {
    const copy = copyEvent(type, ev);
    const held = this.#held;
    if (
      held !== null &&
      (type === "message" || held.length > 0 || this.#releasing)
    ) {
      held.push(copy);
    } else this.dispatchEvent(copy);
  }

  #release(): void {
    if (this.#held === null || this.#releasing) return;
    this.#releasing = true;
    // In a microtask: the caller may still attach its other listeners
    // (close, error) in the same turn; events arriving meanwhile queue up
    // behind the held ones.
    queueMicrotask(() => {
      const held = this.#held ?? [];
      for (let i = 0; i < held.length; i++) this.dispatchEvent(held[i]);
      this.#held = null;
    });
  }
}

/** A fresh event carrying what the runtime's event carried. */
function copyEvent(type: EventName, ev: Event): Event {
  if (type === "message") {
    return new MessageEvent("message", { data: (ev as MessageEvent).data });
  }
  const copy = new Event(type);
  if (type === "close") {
    const c = ev as CloseEvent;
    Object.defineProperties(copy, {
      code: { value: c.code, enumerable: true },
      reason: { value: c.reason, enumerable: true },
      wasClean: { value: c.wasClean, enumerable: true },
    });
  } else if (type === "error") {
    const message = (ev as ErrorEvent).message;
    Object.defineProperty(copy, "message", {
      value: typeof message === "string" ? message : "",
      enumerable: true,
    });
  }
  return copy;
}
