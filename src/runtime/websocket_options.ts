/**
 * Shared checks for the per-runtime WebSocket primitives.
 *
 * @module
 */
import { KubeauthError } from "../errors.ts";
import type { TransportOptions } from "./types.ts";

/**
 * Throws `CERT_INVALID` for a certificate without its key (the same rule as
 * transports).
 *
 * @example Usage
 * ```ts
 * import { checkIdentity } from "./websocket_options.ts";
 * checkIdentity({ cert: "c", key: "k" }); // fine
 * let code = "";
 * try {
 *   checkIdentity({ cert: "c" });
 * } catch (err) {
 *   code = (err as { code: string }).code;
 * }
 * if (code !== "CERT_INVALID") throw new Error("not as shown");
 * ```
 *
 * @param tls The TLS settings of the socket.
 */
export function checkIdentity(tls: TransportOptions): void {
  if (tls.cert !== undefined && tls.key === undefined) {
    throw new KubeauthError(
      "CERT_INVALID",
      "a client certificate was given without its private key",
    );
  }
}

/**
 * Runs `release` once, when the socket has closed (or right away if it
 * already has).
 *
 * @example Usage
 * ```ts
 * import { releaseOnClose } from "./websocket_options.ts";
 * const target = new EventTarget() as unknown as WebSocket;
 * Object.defineProperty(target, "readyState", { value: 1 });
 * let released = 0;
 * releaseOnClose(target, () => released++);
 * target.dispatchEvent(new Event("close"));
 * target.dispatchEvent(new Event("close"));
 * if (released !== 1) throw new Error("not as shown");
 * ```
 *
 * @param socket The socket.
 * @param release Frees what the socket's connection used (a client, an agent).
 */
export function releaseOnClose(socket: WebSocket, release: () => void): void {
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    try {
      release();
    } catch {
      // Already released by the runtime.
    }
  };
  if (socket.readyState === 3 /* CLOSED */) return once();
  socket.addEventListener("close", once);
}
