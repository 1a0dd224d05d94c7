/**
 * The channel framing of Kubernetes stream WebSockets (`channel.k8s.io`):
 * every binary message starts with one byte naming its channel. Exec and
 * attach use 0 stdin, 1 stdout, 2 stderr, 3 error (a `Status` in v4 and
 * v5), 4 resize; v5 adds 255 (close: `[255, channel]` ends that channel,
 * used for stdin EOF). Port-forward uses 0 data and 1 error, each starting
 * with the port as 2 bytes little-endian.
 *
 * @module
 */
import { KubeauthError } from "../errors.ts";

/** The exec/attach subprotocol with the close channel (Kubernetes ≥ 1.30). */
export const V5_CHANNEL = "v5.channel.k8s.io";
/** The exec/attach subprotocol without it. */
export const V4_CHANNEL = "v4.channel.k8s.io";
/** Exec/attach channel: the command's stdin. */
export const STDIN = 0;
/** Exec/attach channel: the command's stdout (port-forward: error is 1). */
export const STDOUT = 1;
/** Exec/attach channel: the command's stderr. */
export const STDERR = 2;
/** Exec/attach channel: the final `Status`. */
export const ERROR = 3;
/** Exec/attach channel: terminal size changes (`{"Width":w,"Height":h}`). */
export const RESIZE = 4;
/** v5's close channel. */
export const CLOSE = 255;

/**
 * One message: the channel byte, then the payload.
 *
 * @example Usage
 * ```ts
 * import { frame } from "./channels.ts";
 * const m = frame(0, new Uint8Array([7, 8]));
 * if (m.join() !== "0,7,8") throw new Error("not as shown");
 * ```
 *
 * @param channel The channel number.
 * @param payload The bytes.
 * @returns The message.
 */
export function frame(channel: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + 1);
  out[0] = channel;
  out.set(payload, 1);
  return out;
}

/**
 * The bytes of a binary message (text messages are UTF-8 encoded).
 *
 * @example Usage
 * ```ts
 * import { messageBytes } from "./channels.ts";
 * if (messageBytes(new Uint8Array([1, 2]).buffer).length !== 2) throw new Error("not as shown");
 * ```
 *
 * @param data A message event's data.
 * @returns The bytes.
 */
export function messageBytes(data: unknown): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  return new TextEncoder().encode(String(data));
}

/**
 * Starts a normal close of a session's socket after a local failure. The
 * socket's close event settles the session; a socket that is already closed
 * sends none, so `onClose` is called at once with a normal close.
 *
 * @example Usage
 * ```ts
 * import { closeAfterFailure } from "./channels.ts";
 * const closed = { readyState: 3, close() {} } as unknown as WebSocket;
 * let codes = "";
 * closeAfterFailure(closed, (e) => (codes += e.code));
 * if (codes !== "1000") throw new Error("not as shown");
 * ```
 *
 * @param ws The session's socket.
 * @param onClose The session's close handler.
 */
export function closeAfterFailure(
  ws: WebSocket,
  onClose: (e: Pick<CloseEvent, "code" | "reason">) => void,
): void {
  try {
    ws.close(1000);
  } catch {
    // Already closing.
  }
  if (ws.readyState === 3) onClose({ code: 1000, reason: "" });
}

/** The parts of a Kubernetes `Status` the error channel carries. */
interface Status {
  status?: string;
  message?: string;
  reason?: string;
  details?: { causes?: { reason?: string; message?: string }[] };
}

/**
 * The exit code in the error channel's `Status`: `Success` → 0,
 * `NonZeroExitCode` → its `ExitCode` cause. Any other failure throws a
 * `STREAM_FAILED` error with the server's message.
 *
 * @example Usage
 * ```ts
 * import { exitCodeOf } from "./channels.ts";
 * if (exitCodeOf('{"status":"Success"}') !== 0) throw new Error("not as shown");
 * const failed = JSON.stringify({
 *   status: "Failure", reason: "NonZeroExitCode",
 *   details: { causes: [{ reason: "ExitCode", message: "3" }] },
 * });
 * if (exitCodeOf(failed) !== 3) throw new Error("not as shown");
 * ```
 *
 * @param text The error channel's text.
 * @returns The exit code.
 * @throws {KubeauthError} `STREAM_FAILED` for other failures.
 */
export function exitCodeOf(text: string): number {
  let status: Status;
  try {
    status = JSON.parse(text) as Status;
  } catch {
    throw new KubeauthError(
      "STREAM_FAILED",
      `the remote command failed: ${text.trim().slice(0, 500)}`,
    );
  }
  if (status.status === "Success") return 0;
  if (status.reason === "NonZeroExitCode") {
    const cause = status.details?.causes?.find((c) => c.reason === "ExitCode");
    const code = Number(cause?.message);
    if (Number.isInteger(code)) return code;
  }
  throw new KubeauthError(
    "STREAM_FAILED",
    `the remote command failed: ${status.message ?? text.trim().slice(0, 500)}`,
  );
}

/**
 * A query string from pairs, skipping undefined values.
 *
 * @example Usage
 * ```ts
 * import { query } from "./channels.ts";
 * if (query([["command", "ls"], ["command", "-l"], ["container", undefined]]) !== "command=ls&command=-l") throw new Error("not as shown");
 * ```
 *
 * @param pairs Name and value pairs.
 * @returns The encoded query.
 */
export function query(pairs: [string, string | undefined][]): string {
  return pairs.filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v!)}`)
    .join("&");
}

/**
 * The API path of a pod subresource.
 *
 * @example Usage
 * ```ts
 * import { podPath } from "./channels.ts";
 * if (podPath("ns", "web", "exec") !== "/api/v1/namespaces/ns/pods/web/exec") throw new Error("not as shown");
 * ```
 *
 * @param namespace The namespace.
 * @param pod The pod name.
 * @param sub The subresource.
 * @returns The path.
 */
export function podPath(namespace: string, pod: string, sub: string): string {
  if (pod === "") {
    throw new KubeauthError("STREAM_FAILED", "a pod name is required");
  }
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${
    encodeURIComponent(pod)
  }/${sub}`;
}
