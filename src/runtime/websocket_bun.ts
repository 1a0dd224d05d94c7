/**
 * Bun's WebSocket with a client identity: `new WebSocket(url, { protocols,
 * headers, tls: { ca, cert, key, serverName, rejectUnauthorized } })`.
 *
 * @module
 */
import type { TransportOptions, WebSocketOptions } from "./types.ts";
import { checkIdentity } from "./websocket_options.ts";

/**
 * Opens a WebSocket on Bun (see the module doc). Bun's WebSocket takes no
 * proxy: with `proxy` set it connects directly only if the runtime's own
 * proxy environment says so.
 *
 * @example Usage
 * ```ts ignore
 * import { openBunWebSocket } from "./websocket_bun.ts";
 * const ws = openBunWebSocket("wss://k8s.test/api", { ca: "..." }, {});
 * ws.close();
 * ```
 *
 * @param url A `wss:` or `ws:` URL.
 * @param tls CA, client identity, server name.
 * @param options Subprotocols and headers.
 * @returns The connecting socket.
 */
export function openBunWebSocket(
  url: string,
  tls: TransportOptions,
  options: WebSocketOptions,
): WebSocket {
  checkIdentity(tls);
  const t: Record<string, unknown> = {
    rejectUnauthorized: tls.insecureSkipVerify !== true,
  };
  if (tls.ca !== undefined) t.ca = tls.ca;
  if (tls.cert !== undefined && tls.key !== undefined) {
    t.cert = tls.cert;
    t.key = tls.key;
  }
  if (tls.serverName !== undefined) t.serverName = tls.serverName;
  const Ctor = WebSocket as unknown as new (
    url: string,
    init: object,
  ) => WebSocket;
  const init: Record<string, unknown> = {
    protocols: [...(options.protocols ?? [])],
    headers: { ...options.headers },
    tls: t,
  };
  if (tls.proxy !== undefined) init.proxy = tls.proxy;
  const socket = new Ctor(url, init);
  socket.binaryType = "arraybuffer";
  return socket;
}
