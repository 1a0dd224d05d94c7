/**
 * {@linkcode sendChannel}: sends one channel message with back-pressure.
 *
 * The WebSocket API has no drain event, so a sender waits while more than
 * {@linkcode SEND_HIGH_WATER} bytes are queued, checking every few ms and at
 * once when the socket closes or errors. (The empty messages Deno's `wss:`
 * sockets need after a burst are sent by the runtime layer's socket itself.)
 *
 * @module
 */
import { frame } from "./channels.ts";

/** Bytes queued on a socket above which writers wait. */
export const SEND_HIGH_WATER: number = 1024 * 1024;
/** How often a waiting writer looks at `bufferedAmount` (ms). */
const POLL_MS = 2;

/**
 * Waits while more than `highWater` bytes are queued on the socket. Ends
 * as soon as the socket is no longer open (close or error event) or
 * `signal` aborts; never waits on a closed socket.
 *
 * @example Usage
 * ```ts
 * import { drained } from "./channel_send.ts";
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
 * Sends one message (`channel`, then `payload`) and waits while the
 * socket's queue is above {@linkcode SEND_HIGH_WATER}.
 *
 * @example Usage
 * ```ts
 * import { sendChannel } from "./channel_send.ts";
 * const sent: number[][] = [];
 * const ws = Object.assign(new EventTarget(), {
 *   readyState: 1, bufferedAmount: 0,
 *   send: (m: Uint8Array) => sent.push([...m]),
 * }) as unknown as WebSocket;
 * await sendChannel(ws, 2, new Uint8Array([7, 8]));
 * if (sent[0].join() !== "2,7,8") throw new Error("not as shown"); // channel byte first
 * ```
 *
 * @param ws The open socket.
 * @param channel The channel number.
 * @param payload The bytes.
 * @param signal Ends the wait when aborted.
 * @returns Resolves once the socket's queue is below the mark.
 */
export async function sendChannel(
  ws: WebSocket,
  channel: number,
  payload: Uint8Array,
  signal?: AbortSignal,
): Promise<void> {
  ws.send(frame(channel, payload));
  await drained(ws, SEND_HIGH_WATER, signal);
}
