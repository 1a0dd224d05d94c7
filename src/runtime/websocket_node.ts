/**
 * Node's WebSocket with a client identity: undici 7's `WebSocket` with a
 * `dispatcher` (an `Agent` whose connector carries the CA, certificate, key
 * and server name; a `ProxyAgent` for `proxy`). One dispatcher per socket,
 * destroyed when the socket closes.
 *
 * @module
 */
import { Agent, buildConnector, ProxyAgent, WebSocket } from "undici";
import type { Dispatcher } from "undici";
import type { TransportOptions, WebSocketOptions } from "./types.ts";
import { checkIdentity, releaseOnClose } from "./websocket_options.ts";

/**
 * Opens a WebSocket on Node (see the module doc).
 *
 * @example Usage
 * ```ts ignore
 * import { openNodeWebSocket } from "./websocket_node.ts";
 * const ws = openNodeWebSocket("wss://k8s.test/api", { ca: "..." }, {});
 * ws.close();
 * ```
 *
 * @param url A `wss:` or `ws:` URL.
 * @param tls CA, client identity, server name, proxy.
 * @param options Subprotocols and headers.
 * @returns The connecting socket.
 */
export function openNodeWebSocket(
  url: string,
  tls: TransportOptions,
  options: WebSocketOptions,
): globalThis.WebSocket {
  checkIdentity(tls);
  const dispatcher = dispatcherFor(tls);
  let socket: globalThis.WebSocket;
  try {
    socket = new WebSocket(url, {
      protocols: [...(options.protocols ?? [])],
      headers: { ...options.headers },
      dispatcher,
    }) as unknown as globalThis.WebSocket;
  } catch (err) {
    void dispatcher.destroy();
    throw err;
  }
  socket.binaryType = "arraybuffer";
  releaseOnClose(socket, () => void dispatcher.destroy().catch(() => {}));
  return socket;
}

function dispatcherFor(options: TransportOptions): Dispatcher {
  const tls: {
    ca?: string;
    cert?: string;
    key?: string;
    rejectUnauthorized: boolean;
    servername?: string;
  } = { rejectUnauthorized: options.insecureSkipVerify !== true };
  if (options.ca !== undefined) tls.ca = options.ca;
  if (options.cert !== undefined && options.key !== undefined) {
    tls.cert = options.cert;
    tls.key = options.key;
  }
  if (options.proxy !== undefined) {
    if (options.serverName !== undefined) tls.servername = options.serverName;
    return new ProxyAgent({ uri: options.proxy, requestTls: tls });
  }
  if (options.serverName !== undefined) {
    const connector = buildConnector(tls);
    const servername = options.serverName;
    return new Agent({
      connect: (opts, callback) => connector({ ...opts, servername }, callback),
    });
  }
  return new Agent({ connect: tls });
}
