/**
 * {@linkcode flushWssTails}: the empty "flush" messages Deno's `wss:`
 * WebSocket needs, installed on the socket itself.
 *
 * Deno's `WebSocket` over `wss:` can leave the end of the last message in
 * its TLS buffer, unsent, with `bufferedAmount` already 0, until the next
 * `send()` (denoland/deno#36862; seen here as a 10 MiB port-forward missing
 * its last 64 KiB under load). So after a burst of at least
 * {@linkcode FLUSH_AFTER_BYTES}, once the socket goes quiet, it sends an
 * empty message after 10 ms, 100 ms, 1 s and 10 s (any send restarts the
 * schedule). The kubelet and the API server skip empty messages (a channel
 * message has at least its channel byte). Only Deno's adapter installs it,
 * so Bun and Node send none, and every sender on a Deno socket (the
 * streams, the integrations, a caller of `kube.webSocket()`) is covered.
 *
 * @module
 */

/** Bytes sent since the last quiet period that arm the flush messages. */
export const FLUSH_AFTER_BYTES: number = 16 * 1024;
/** Delays of the flush messages after the last send (ms). */
const FLUSH_DELAYS = [10, 100, 1000, 10_000];

type SendData = Parameters<WebSocket["send"]>[0];

/**
 * Makes `socket.send` schedule flush messages after bursts (see the module
 * doc). The timers stop when the socket closes.
 *
 * @example Usage
 * ```ts
 * import { flushWssTails } from "./wss_tail_flush.ts";
 * const sent: number[] = [];
 * const ws = Object.assign(new EventTarget(), {
 *   readyState: 1,
 *   send: (m: Uint8Array) => sent.push(m.length),
 * }) as unknown as WebSocket;
 * flushWssTails(ws);
 * ws.send(new Uint8Array(20_000));
 * await new Promise((r) => setTimeout(r, 50));
 * if (!(sent.length >= 2 && sent[1] === 0)) throw new Error("not as shown"); // a flush message
 * ws.dispatchEvent(new Event("close")); // stops the schedule
 * ```
 *
 * @param socket A socket whose sender is its own `send` method.
 */
export function flushWssTails(socket: WebSocket): void {
  const send = socket.send.bind(socket);
  const flusher = new TailFlusher(socket, send);
  Object.defineProperty(socket, "send", {
    configurable: true,
    writable: true,
    value: (data: SendData) => {
      send(data);
      flusher.sent(sizeOf(data));
    },
  });
  socket.addEventListener("close", () => flusher.close());
}

/** Bytes in a message, as `send` accepts it. */
function sizeOf(data: SendData): number {
  if (typeof data === "string") return data.length;
  if (data instanceof Blob) return data.size;
  return data.byteLength;
}

/** The schedule of one socket's flush messages. */
class TailFlusher {
  readonly #socket: WebSocket;
  readonly #send: (data: SendData) => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #step = 0;
  #unflushed = 0;
  #closed = false;

  constructor(socket: WebSocket, send: (data: SendData) => void) {
    this.#socket = socket;
    this.#send = send;
  }

  /** Counts a message and restarts the schedule once armed. */
  sent(bytes: number): void {
    this.#unflushed += bytes;
    if (this.#unflushed >= FLUSH_AFTER_BYTES && !this.#closed) {
      this.#step = 0;
      this.#schedule();
    }
  }

  /** Stops the flush messages. Idempotent. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#flush(), FLUSH_DELAYS[this.#step]);
  }

  #flush(): void {
    this.#timer = undefined;
    if (this.#closed || this.#socket.readyState !== 1) return;
    this.#send(new Uint8Array(0));
    this.#step++;
    if (this.#step < FLUSH_DELAYS.length) this.#schedule();
    else this.#unflushed = 0;
  }
}
