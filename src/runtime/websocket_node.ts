/**
 * Node's WebSocket with a client identity: undici 7's `WebSocket` with a
 * `dispatcher` (an `Agent` whose connector carries the CA, certificate, key
 * and server name; a `ProxyAgent` for `proxy`). One dispatcher per socket,
 * destroyed when the socket closes.
 *
 * undici is loaded with `require` (`createRequire`), on first use, not with
 * an `import`: Deno puts every import it can analyse, dynamic ones included,
 * into the module graph it builds for `mod.ts`, so a literal `"undici"`
 * would make every Deno user of the JSR package download it although only
 * Node runs this file. esbuild (npm build) and `bun build --compile` leave
 * the call as written; the npm package lists undici as a dependency.
 *
 * @module
 */
import { createRequire } from "node:module";
import { KubeauthError } from "../errors.ts";
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
  const undici = loadUndici();
  const dispatcher = dispatcherFor(undici, tls);
  let socket: globalThis.WebSocket;
  try {
    socket = new undici.WebSocket(url, {
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

/** The part of undici 7 this file uses (no type import: see the module doc). */
interface Dispatcher {
  destroy(): Promise<void>;
}
type Connector = (
  options: Record<string, unknown>,
  callback: (...args: unknown[]) => void,
) => void;
interface Undici {
  Agent: new (options: { connect: object | Connector }) => Dispatcher;
  ProxyAgent: new (options: { uri: string; requestTls: unknown }) => Dispatcher;
  buildConnector(tls: unknown): Connector;
  WebSocket: new (url: string, init: {
    protocols: string[];
    headers: Record<string, string>;
    dispatcher: Dispatcher;
  }) => unknown;
}

let undiciModule: Undici | undefined;

function loadUndici(): Undici {
  if (undiciModule !== undefined) return undiciModule;
  try {
    undiciModule = createRequire(import.meta.url)("undici") as Undici;
  } catch (err) {
    throw new KubeauthError(
      "UNSUPPORTED",
      "WebSockets on Node need the npm package undici (a dependency of the " +
        "npm package @kubeauth/fetch): install it with `npm install undici@7`",
      { cause: err },
    );
  }
  return undiciModule;
}

function dispatcherFor(undici: Undici, options: TransportOptions): Dispatcher {
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
    return new undici.ProxyAgent({ uri: options.proxy, requestTls: tls });
  }
  if (options.serverName !== undefined) {
    const connector = undici.buildConnector(tls);
    const servername = options.serverName;
    return new undici.Agent({
      connect: (opts, callback) => connector({ ...opts, servername }, callback),
    });
  }
  return new undici.Agent({ connect: tls });
}
