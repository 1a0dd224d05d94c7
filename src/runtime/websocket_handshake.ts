/**
 * The client's side of the WebSocket opening handshake (RFC 6455 §4.1): the
 * upgrade request it writes and the checks of the server's answer.
 *
 * @module
 */

/** The GUID a server appends to the key before hashing it. */
const ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/**
 * A fresh `Sec-WebSocket-Key`: 16 random bytes, base64.
 *
 * @example Usage
 * ```ts
 * import { newHandshakeKey } from "./websocket_handshake.ts";
 * if (atob(newHandshakeKey()).length !== 16) throw new Error("not as shown");
 * ```
 *
 * @returns The key.
 */
export function newHandshakeKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes));
}

/**
 * The upgrade request for `url`: the path and query, `Host`, the upgrade
 * headers, the offered subprotocols and the caller's headers.
 *
 * @example Usage
 * ```ts
 * import { upgradeRequest } from "./websocket_handshake.ts";
 * const text = upgradeRequest(new URL("wss://k8s.test:6443/api?x=1"), "a2V5", ["v5.channel.k8s.io"], {
 *   authorization: "Bearer t",
 * });
 * if (!text.startsWith("GET /api?x=1 HTTP/1.1\r\nHost: k8s.test:6443\r\n")) throw new Error("not as shown");
 * if (!text.endsWith("authorization: Bearer t\r\n\r\n")) throw new Error("not as shown");
 * ```
 *
 * @param url The socket's URL.
 * @param key The `Sec-WebSocket-Key`.
 * @param protocols Subprotocols offered, in order.
 * @param headers Further headers.
 * @returns The request's head, ready to write.
 * @throws {TypeError} When a header name or value holds CR, LF or NUL.
 */
export function upgradeRequest(
  url: URL,
  key: string,
  protocols: readonly string[],
  headers: Readonly<Record<string, string>>,
): string {
  const lines = [
    `GET ${url.pathname}${url.search} HTTP/1.1`,
    `Host: ${url.host}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${key}`,
    "Sec-WebSocket-Version: 13",
  ];
  if (protocols.length > 0) {
    lines.push(`Sec-WebSocket-Protocol: ${protocols.join(", ")}`);
  }
  for (const [name, value] of Object.entries(headers)) {
    if (/[\r\n\0]/.test(name + value)) {
      throw new TypeError(`invalid header ${JSON.stringify(name)}`);
    }
    lines.push(`${name}: ${value}`);
  }
  return lines.join("\r\n") + "\r\n\r\n";
}

/** The server's answer, read up to the blank line. */
export interface HandshakeAnswer {
  /** The status code. */
  status: number;
  /** Header names in lower case; repeated headers joined by `, `. */
  headers: Record<string, string>;
}

/**
 * Parses the head of the server's answer (without the blank line).
 *
 * @example Usage
 * ```ts
 * import { parseAnswer } from "./websocket_handshake.ts";
 * const a = parseAnswer("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket");
 * if (a?.status !== 101 || a.headers.upgrade !== "websocket") throw new Error("not as shown");
 * ```
 *
 * @param head The status line and headers.
 * @returns The answer, or null when it is not HTTP.
 */
export function parseAnswer(head: string): HandshakeAnswer | null {
  const [statusLine, ...lines] = head.split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (m === null) return null;
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { status: Number(m[1]), headers };
}

/**
 * Checks a `101` answer the way a browser does: the upgrade headers, the
 * `Sec-WebSocket-Accept` for `key`, a subprotocol among those offered, no
 * extension (none is offered).
 *
 * @example Usage
 * ```ts
 * import { checkAnswer } from "./websocket_handshake.ts";
 * const answer = {
 *   status: 101,
 *   headers: {
 *     upgrade: "websocket",
 *     connection: "Upgrade",
 *     // RFC 6455's example key and answer.
 *     "sec-websocket-accept": "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
 *   },
 * };
 * const checked = await checkAnswer(answer, "dGhlIHNhbXBsZSBub25jZQ==", []);
 * if (checked.problem !== undefined || checked.protocol !== "") throw new Error("not as shown");
 * ```
 *
 * @param answer The parsed answer.
 * @param key The key that was sent.
 * @param offered The subprotocols offered.
 * @returns The chosen subprotocol (`""` for none), or what is wrong.
 */
export async function checkAnswer(
  answer: HandshakeAnswer,
  key: string,
  offered: readonly string[],
): Promise<{ protocol: string; problem?: string }> {
  const h = answer.headers;
  const fail = (problem: string) => ({ protocol: "", problem });
  if (answer.status !== 101) return fail(`HTTP ${answer.status}`);
  if (h.upgrade?.toLowerCase() !== "websocket") {
    return fail("no Upgrade: websocket");
  }
  if (!/(^|,)\s*upgrade\s*(,|$)/i.test(h.connection ?? "")) {
    return fail("no Connection: Upgrade");
  }
  if (h["sec-websocket-accept"] !== await acceptFor(key)) {
    return fail("a wrong Sec-WebSocket-Accept");
  }
  if (h["sec-websocket-extensions"] !== undefined) {
    return fail("an extension that was not offered");
  }
  const protocol = h["sec-websocket-protocol"] ?? "";
  if (protocol !== "" && !offered.includes(protocol)) {
    return fail(`a subprotocol that was not offered (${protocol})`);
  }
  return { protocol };
}

async function acceptFor(key: string): Promise<string> {
  const input = new TextEncoder().encode(key + ACCEPT_GUID);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", input));
  return btoa(String.fromCharCode(...digest));
}
