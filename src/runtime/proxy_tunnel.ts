/**
 * {@linkcode connectThroughProxy}: an HTTP CONNECT tunnel to the cluster,
 * for the `node:https` pool and the `node:tls` WebSocket.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import tls from "node:tls";

/**
 * A CONNECT tunnel through `proxy` to `host:port`, then TLS over it when
 * `secure` (plain HTTP clusters use the tunnel as it is). Reports the socket
 * (or the error) through `report`, once.
 *
 * @example Usage
 * ```ts ignore
 * import { connectThroughProxy } from "./proxy_tunnel.ts";
 * const proxy = new URL("http://proxy.test:3128");
 * connectThroughProxy(proxy, { host: "k8s.test", port: 443 }, true, (err, socket) => {
 *   if (err === null) socket!.destroy();
 * });
 * ```
 *
 * @param proxy The proxy (`http:` or `https:`, with credentials if any).
 * @param options Where to connect and, for TLS, the TLS settings.
 * @param secure Whether to start TLS over the tunnel.
 * @param report Gets the socket, or the error.
 */
export function connectThroughProxy(
  proxy: URL,
  options: tls.ConnectionOptions & { host?: string; port?: number },
  secure: boolean,
  report: (err: Error | null, socket?: Socket) => void,
): void {
  // Reported once: a later error belongs to the socket's own user.
  let reported = false;
  const callback = (err: Error | null, socket?: Socket) => {
    if (reported) return;
    reported = true;
    report(err, socket);
  };
  const target = `${options.host}:${options.port}`;
  const auth = proxy.username === "" ? {} : {
    "proxy-authorization": "Basic " +
      Buffer.from(
        `${decodeURIComponent(proxy.username)}:${
          decodeURIComponent(proxy.password)
        }`,
      ).toString("base64"),
  };
  const request = (proxy.protocol === "https:" ? https : http).request({
    host: proxy.hostname.replace(/^\[|\]$/g, ""),
    port: proxy.port || (proxy.protocol === "https:" ? 443 : 80),
    method: "CONNECT",
    path: target,
    headers: { host: target, ...auth },
    agent: false,
  });
  request.once("connect", (res, socket) => {
    if (res.statusCode !== 200) {
      socket.destroy();
      callback(
        new Error(`the proxy refused the tunnel: HTTP ${res.statusCode}`),
      );
      return;
    }
    if (!secure) {
      callback(null, socket);
      return;
    }
    const wrapped = tls.connect({ ...options, socket });
    wrapped.once("secureConnect", () => callback(null, wrapped));
    wrapped.once("error", (err) => callback(err));
  });
  request.once("error", (err) => callback(err));
  request.end();
}
