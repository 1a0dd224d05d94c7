/**
 * A transport that also opens WebSockets with its identity, and counts
 * them as in flight: retiring the transport (a client-certificate rotation)
 * lets its sockets run on until they end or the drain deadline destroys the
 * transport, which closes them.
 *
 * @module
 */
import { closedError, KubeauthError } from "../errors.ts";
import type {
  Transport,
  TransportOptions,
  WebSocketOptions,
  WebSocketSupport,
} from "../runtime/types.ts";

/** Close code sent when the transport is destroyed under a socket. */
const GOING_AWAY = 4001;
/** How long destroy() waits for the sockets' closing handshakes. */
const DESTROY_WAIT_MS = 5_000;

/**
 * Wraps a transport with WebSocket support (see the module doc).
 *
 * @example Usage
 * ```ts
 * import { SocketTransport } from "./socket_transport.ts";
 * const inner = {
 *   inFlight: 0,
 *   closed: false,
 *   fetch: () => Promise.resolve(new Response("ok")),
 *   close: () => Promise.resolve(),
 *   destroy: () => Promise.resolve(),
 * };
 * const t = new SocketTransport(inner, undefined, {});
 * if (t.inFlight !== 0) throw new Error("not as shown");
 * await t.close();
 * if (!t.closed) throw new Error("not as shown");
 * ```
 */
export class SocketTransport implements Transport {
  readonly #inner: Transport;
  readonly #open: WebSocketSupport["openWebSocket"] | undefined;
  readonly #tls: TransportOptions;
  readonly #sockets = new Set<WebSocket>();
  #idle: (() => void) | undefined;
  #closed = false;

  /**
   * Wraps `inner`.
   *
   * @param inner The HTTP transport of one identity.
   * @param open The runtime's WebSocket primitive, if it has one.
   * @param tls The same TLS settings `inner` was created with.
   */
  constructor(
    inner: Transport,
    open: WebSocketSupport["openWebSocket"] | undefined,
    tls: TransportOptions,
  ) {
    this.#inner = inner;
    this.#open = open;
    this.#tls = tls;
  }

  /** Requests and sockets not yet ended. */
  get inFlight(): number {
    return this.#inner.inFlight + this.#sockets.size;
  }

  /** True once close() or destroy() was called. */
  get closed(): boolean {
    return this.#closed || this.#inner.closed;
  }

  /** Open WebSockets of this transport. */
  get sockets(): number {
    return this.#sockets.size;
  }

  /**
   * Sends a request on the inner transport.
   *
   * @param url The absolute URL.
   * @param init The request init.
   * @returns The response.
   */
  fetch(url: string, init: RequestInit): Promise<Response> {
    return this.#inner.fetch(url, init);
  }

  /**
   * Opens a WebSocket with this transport's identity.
   *
   * @param url A `wss:`/`ws:` URL.
   * @param options Subprotocols and headers.
   * @returns The connecting socket.
   * @throws {KubeauthError} `CLOSED` once closed; `UNSUPPORTED` without a primitive.
   */
  async openWebSocket(
    url: string,
    options: WebSocketOptions,
  ): Promise<WebSocket> {
    if (this.closed) throw closedError();
    if (this.#open === undefined) {
      throw new KubeauthError(
        "UNSUPPORTED",
        "this runtime adapter has no WebSocket support (openWebSocket)",
      );
    }
    const socket = await this.#open(url, this.#tls, options);
    if (this.closed) {
      // Closed while the runtime's client was loading.
      socket.close();
      throw closedError();
    }
    this.#sockets.add(socket);
    socket.addEventListener("close", () => {
      this.#sockets.delete(socket);
      if (this.#sockets.size === 0) this.#idle?.();
    });
    return socket;
  }

  /**
   * Refuses new requests and sockets; resolves once the requests in flight
   * and every socket have ended.
   *
   * @returns Resolves when everything is closed.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([this.#inner.close(), this.#socketsGone()]);
  }

  /**
   * Aborts requests and closes every socket now.
   *
   * @returns Resolves when the inner transport is destroyed and every socket closed.
   */
  async destroy(): Promise<void> {
    this.#closed = true;
    for (const socket of this.#sockets) {
      try {
        socket.close(GOING_AWAY, "kubeauth: connection retired");
      } catch {
        // Already closing.
      }
    }
    // A server that never answers the close frame must not hold destroy()
    // (and so kube.close()) forever: wait for the close handshakes at most
    // DESTROY_WAIT_MS.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bounded = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, DESTROY_WAIT_MS);
      (timer as { unref?: () => void }).unref?.();
    });
    await Promise.all([
      this.#inner.destroy(),
      Promise.race([this.#socketsGone(), bounded]),
    ]);
    clearTimeout(timer);
  }

  #socketsGone(): Promise<void> {
    if (this.#sockets.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const prev = this.#idle;
      this.#idle = () => {
        prev?.();
        resolve();
      };
    });
  }
}
