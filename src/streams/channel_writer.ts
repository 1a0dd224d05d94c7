/**
 * {@linkcode ChannelWriter}: the sending side of a channel WebSocket, with
 * back-pressure and the empty "flush" messages Deno needs.
 *
 * Back-pressure: the WebSocket API has no drain event, so a writer waits
 * while more than {@linkcode SEND_HIGH_WATER} bytes are queued, checking
 * every few ms and at once when the socket closes or errors.
 *
 * Flush messages: Deno's `WebSocket` over `wss:` can leave the end of the
 * last message in its TLS buffer, unsent, with `bufferedAmount` already 0,
 * until the next `send()` (denoland/deno#36862; seen here as a 10 MiB
 * port-forward missing its last 64 KiB under load). So after a burst of at
 * least {@linkcode FLUSH_AFTER_BYTES}, once the writer goes quiet, it sends
 * an empty message after 10 ms, 100 ms, 1 s and 10 s (any send resets the
 * schedule). The kubelet and the API server skip empty messages (a
 * channel message has at least its channel byte); so does the test cluster.
 *
 * @module
 */
import { frame } from "./channels.ts";

/** Bytes queued on a socket above which writers wait. */
export const SEND_HIGH_WATER: number = 1024 * 1024;
/** Bytes sent since the last quiet period that arm the flush messages. */
export const FLUSH_AFTER_BYTES: number = 16 * 1024;
/** Delays of the flush messages after the last send (ms). */
const FLUSH_DELAYS = [10, 100, 1000, 10_000];
/** How often a waiting writer looks at `bufferedAmount` (ms). */
const POLL_MS = 2;

/**
 * Waits while more than `highWater` bytes are queued on the socket. Ends
 * as soon as the socket is no longer open (close or error event) or
 * `signal` aborts; never waits on a closed socket.
 *
 * @example Usage
 * ```ts
 * import { drained } from "./channel_writer.ts";
 * const ws = Object.assign(new EventTarget(), { bufferedAmount: 5, readyState: 1 });
 * const done = drained(ws as unknown as WebSocket, 1);
 * ws.readyState = 3;
 * ws.dispatchEvent(new Event("close"));
 * await done; // the close ends the wait
 * ```
 *
 * @param ws The socket.
 * @param highWater The mark (default {@linkcode SEND_HIGH_WATER}).
 * @param signal Ends the wait when aborted.
 * @returns Resolves once below the mark, closed, or aborted.
 */
export async function drained(
  ws: WebSocket,
  highWater: number = SEND_HIGH_WATER,
  signal?: AbortSignal,
): Promise<void> {
  const waiting = () =>
    ws.bufferedAmount > highWater && ws.readyState === 1 &&
    signal?.aborted !== true;
  if (!waiting()) return;
  let wake = () => {};
  const onEnd = () => wake();
  ws.addEventListener("close", onEnd);
  ws.addEventListener("error", onEnd);
  signal?.addEventListener("abort", onEnd);
  try {
    while (waiting()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, POLL_MS);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    ws.removeEventListener("close", onEnd);
    ws.removeEventListener("error", onEnd);
    signal?.removeEventListener("abort", onEnd);
  }
}

/**
 * Sends channel messages on one socket (see the module doc).
 *
 * @example Usage
 * ```ts
 * import { ChannelWriter } from "./channel_writer.ts";
 * const sent: number[][] = [];
 * const ws = Object.assign(new EventTarget(), {
 *   readyState: 1, bufferedAmount: 0,
 *   send: (m: Uint8Array) => sent.push([...m]),
 * }) as unknown as WebSocket;
 * const w = new ChannelWriter(ws);
 * await w.send(0, new Uint8Array(20_000));
 * await new Promise((r) => setTimeout(r, 50));
 * if (!(sent.length >= 2 && sent[1].length === 0)) throw new Error("not as shown"); // a flush message
 * w.close();
 * ```
 */
export class ChannelWriter {
  readonly #ws: WebSocket;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #step = 0;
  #unflushed = 0;
  #closed = false;

  /**
   * Writes on an open socket; stops its timers when the socket closes.
   *
   * @param ws The open socket.
   */
  constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.addEventListener("close", () => this.close());
  }

  /**
   * Sends one message (`channel`, then `payload`) and waits while the
   * socket's queue is above {@linkcode SEND_HIGH_WATER}.
   *
   * @param channel The channel number.
   * @param payload The bytes.
   * @param signal Ends the wait when aborted.
   */
  async send(
    channel: number,
    payload: Uint8Array,
    signal?: AbortSignal,
  ): Promise<void> {
    this.sendRaw(frame(channel, payload));
    await drained(this.#ws, SEND_HIGH_WATER, signal);
  }

  /**
   * Sends one message as it is (no channel byte added, no waiting).
   *
   * @param message The whole message.
   */
  sendRaw(message: Uint8Array): void {
    this.#ws.send(message);
    this.#unflushed += message.length;
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
    if (this.#closed || this.#ws.readyState !== 1) return;
    this.#ws.send(new Uint8Array(0));
    this.#step++;
    if (this.#step < FLUSH_DELAYS.length) this.#schedule();
    else this.#unflushed = 0;
  }
}
