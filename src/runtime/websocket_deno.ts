/**
 * WebSockets on Deno. A cluster with a CA, `tls-server-name` or
 * `insecure-skip-tls-verify` gets the `node:tls` client of
 * `websocket_tls.ts` (loaded on first use): Deno's own `WebSocket` takes
 * only a `Deno.createHttpClient`, whose `caCerts` are added to Deno's root
 * store instead of being trusted alone (kubectl trusts the kubeconfig's CA
 * alone), and which can set neither of the other two. A cluster on the
 * system's roots gets `new WebSocket(url, { protocols, headers, client })`
 * with a client carrying the certificate, key and proxy, one per socket,
 * closed with it; such a `wss:` socket sends empty messages after bursts so
 * the end of the last message is not left in Deno's TLS buffer (see
 * `wss_tail_flush.ts`).
 *
 * @module
 */
import type { TransportOptions, WebSocketOptions } from "./types.ts";
import { checkIdentity, releaseOnClose } from "./websocket_options.ts";
import { flushWssTails } from "./wss_tail_flush.ts";

interface DenoHttpClientFactory {
  createHttpClient(options: {
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
 * @param tls CA, client identity, server name, verification, proxy.
 * @param options Subprotocols and headers.
 * @returns The connecting socket.
 */
export function openDenoWebSocket(
  url: string,
  tls: TransportOptions,
  options: WebSocketOptions,
): WebSocket | Promise<WebSocket> {
  if (
    tls.ca !== undefined || tls.insecureSkipVerify ||
    tls.serverName !== undefined
  ) {
    // Only node:tls trusts a given CA alone (see the module doc).
    return import("./websocket_tls.ts").then((m) =>
      m.openTlsWebSocket(url, tls, options)
    );
  }
  checkIdentity(tls);
  const D = (globalThis as unknown as { Deno: DenoHttpClientFactory }).Deno;
  const client = D.createHttpClient({
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
