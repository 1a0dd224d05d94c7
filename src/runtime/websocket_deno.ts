/**
 * Deno's WebSocket with a client identity: `new WebSocket(url, { protocols,
 * headers, client })` where the client is a `Deno.createHttpClient` with the
 * CA, certificate and key (and proxy). One client per socket, closed with it.
 * A `wss:` socket sends empty messages after bursts so the end of the last
 * message is not left in Deno's TLS buffer (see `wss_tail_flush.ts`).
 *
 * @module
 */
import { KubeauthError } from "../errors.ts";
import type { TransportOptions, WebSocketOptions } from "./types.ts";
import { checkIdentity, releaseOnClose } from "./websocket_options.ts";
import { flushWssTails } from "./wss_tail_flush.ts";

interface DenoHttpClientFactory {
  createHttpClient(options: {
    caCerts?: string[];
    cert?: string;
    key?: string;
    proxy?: { url: string };
  }): { close(): void };
}

/**
 * Opens a WebSocket on Deno (see the module doc).
 *
 * @example Usage
 * ```ts ignore
 * import { openDenoWebSocket } from "./websocket_deno.ts";
 * const ws = openDenoWebSocket("wss://k8s.test/api", { ca: "..." }, {});
 * ws.close();
 * ```
 *
 * @param url A `wss:` or `ws:` URL.
 * @param tls CA, client identity, proxy.
 * @param options Subprotocols and headers.
 * @returns The connecting socket.
 */
export function openDenoWebSocket(
  url: string,
  tls: TransportOptions,
  options: WebSocketOptions,
): WebSocket {
  if (tls.insecureSkipVerify || tls.serverName !== undefined) {
    throw new KubeauthError(
      "UNSUPPORTED",
      "insecure-skip-tls-verify and tls-server-name are not supported for WebSockets on Deno: Deno.createHttpClient can set neither. Set certificate-authority and use a server URL whose host name is on the API server certificate",
    );
  }
  checkIdentity(tls);
  const D = (globalThis as unknown as { Deno: DenoHttpClientFactory }).Deno;
  const client = D.createHttpClient({
    ...(tls.ca !== undefined ? { caCerts: [tls.ca] } : {}),
    ...(tls.cert !== undefined && tls.key !== undefined
      ? { cert: tls.cert, key: tls.key }
      : {}),
    ...(tls.proxy !== undefined ? { proxy: { url: tls.proxy } } : {}),
  });
  let socket: WebSocket;
  try {
    const Ctor = WebSocket as unknown as new (
      url: string,
      init: object,
    ) => WebSocket;
    socket = new Ctor(url, {
      protocols: [...(options.protocols ?? [])],
      headers: { ...options.headers },
      client,
    });
  } catch (err) {
    client.close();
    throw err;
  }
  socket.binaryType = "arraybuffer";
  if (socket.url.startsWith("wss:")) flushWssTails(socket);
  releaseOnClose(socket, () => client.close());
  return socket;
}
