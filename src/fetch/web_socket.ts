/**
 * The steps of `kube.webSocket()` that do not need the client's state:
 * turning the cluster URL into a WebSocket URL, waiting for a socket to
 * open (or fail, or be aborted), and turning the server's answer to a
 * failed upgrade into a {@linkcode WebSocketRefusedError}.
 *
 * @module
 */
import { WebSocketRefusedError } from "../errors.ts";
import { BufferedWebSocket } from "./buffered_socket.ts";

/** What `kube.webSocket()` takes besides the path. */
export interface WebSocketRequestOptions {
  /** Subprotocols offered, most preferred first. */
  protocols?: string[];
  /** Aborting before the socket is open closes it and rejects with the reason. */
  signal?: AbortSignal;
}

/** Something that opens sockets with one identity (a `SocketTransport`). */
export interface SocketOpener {
  openWebSocket(
    url: string,
    options: {
      protocols?: readonly string[];
      headers?: Record<string, string>;
    },
  ): Promise<WebSocket>;
}

/**
 * The upgrade did not complete; the runtime rarely says why, so the caller
 * asks the server with a plain request.
 */
export class HandshakeFailure extends Error {
  /**
   * Creates the failure.
   *
   * @param detail What the runtime reported.
   */
  constructor(detail: string) {
    super(detail);
    this.name = "HandshakeFailure";
  }
}

/**
 * `https:` → `wss:`, `http:` → `ws:`.
 *
 * @example Usage
 * ```ts
 * import { toWebSocketUrl } from "./web_socket.ts";
 * if (toWebSocketUrl("https://k8s.test/x?a=1") !== "wss://k8s.test/x?a=1") throw new Error("not as shown");
 * ```
 *
 * @param url An http(s) URL.
 * @returns The ws(s) URL.
 */
export function toWebSocketUrl(url: string): string {
  const u = new URL(url);
  u.protocol = u.protocol === "http:" ? "ws:" : "wss:";
  return u.href;
}

/**
 * Opens a socket on `opener` and resolves once it is open, wrapped so that
 * early messages wait for the caller's first listener.
 *
 * @example Usage
 * ```ts ignore
 * const ws = await connectSocket(transport, "wss://k8s.test/x", "Bearer t", ["v5.channel.k8s.io"]);
 * ```
 *
 * @param opener The transport of the credentials' identity.
 * @param url The `wss:` URL.
 * @param authorization The Authorization value, `""` for none.
 * @param protocols Subprotocols offered.
 * @param signal Aborts the handshake.
 * @returns The open socket.
 * @throws {HandshakeFailure} when the socket failed before opening.
 */
export async function connectSocket(
  opener: SocketOpener,
  url: string,
  authorization: string,
  protocols: readonly string[] | undefined,
  signal: AbortSignal | undefined,
): Promise<WebSocket> {
  signal?.throwIfAborted();
  const headers: Record<string, string> = {};
  if (authorization !== "") headers.authorization = authorization;
  const inner = await opener.openWebSocket(url, { protocols, headers });
  if (signal?.aborted) {
    inner.close();
    throw signal.reason;
  }
  // Wrap at once: the wrapper's listeners are attached before any event.
  const wrapped = new BufferedWebSocket(inner);
  return new Promise<WebSocket>((resolve, reject) => {
    let detail = "the connection failed";
    const cleanup = () => {
      inner.removeEventListener("open", onOpen);
      inner.removeEventListener("error", onError);
      inner.removeEventListener("close", onClose);
      signal?.removeEventListener("abort", onAbort);
    };
    const onOpen = () => {
      cleanup();
      resolve(wrapped as unknown as WebSocket);
    };
    const onError = (ev: Event) => {
      const m = (ev as ErrorEvent).message;
      if (typeof m === "string" && m !== "") detail = m;
    };
    const onClose = (ev: Event) => {
      cleanup();
      const c = ev as CloseEvent;
      if (c.reason) detail += ` (close ${c.code}: ${c.reason})`;
      reject(new HandshakeFailure(detail));
    };
    const onAbort = () => {
      cleanup();
      try {
        inner.close();
      } catch {
        // Already closing.
      }
      reject(signal?.reason);
    };
    inner.addEventListener("open", onOpen);
    inner.addEventListener("error", onError);
    inner.addEventListener("close", onClose);
    signal?.addEventListener("abort", onAbort);
  });
}

/**
 * The error for a refused upgrade, from the server's answer to the same URL
 * as a plain GET (its status and `Status` body).
 *
 * @example Usage
 * ```ts
 * import { refusal } from "./web_socket.ts";
 * const res = new Response(
 *   JSON.stringify({ kind: "Status", reason: "NotFound", message: 'pods "x" not found' }),
 *   { status: 404 },
 * );
 * const err = await refusal(res, "the connection failed");
 * if (!(err.status === 404 && err.message.includes('pods "x" not found'))) throw new Error("not as shown");
 * if (!(err.serverStatus?.reason === "NotFound")) throw new Error("not as shown");
 * ```
 *
 * @param res The server's answer.
 * @param detail What the runtime reported about the socket.
 * @returns The error to throw.
 */
export async function refusal(
  res: Response,
  detail: string,
): Promise<WebSocketRefusedError> {
  let text = "";
  try {
    text = await res.text();
  } catch {
    // No body: the status says enough.
  }
  if (res.status < 400) {
    return new WebSocketRefusedError(
      0,
      undefined,
      `${detail}; the same URL answers a plain request with HTTP ${res.status}`,
    );
  }
  let message = text.trim().slice(0, 500);
  let reason: string | undefined;
  let serverStatus: Record<string, unknown> | undefined;
  try {
    const status = JSON.parse(text) as { message?: unknown; reason?: unknown };
    if (typeof status.message === "string") message = status.message;
    if (typeof status.reason === "string") reason = status.reason;
    if (
      typeof status === "object" && status !== null && !Array.isArray(status)
    ) {
      serverStatus = status as Record<string, unknown>;
    }
  } catch {
    // Not a Status: keep the text.
  }
  return new WebSocketRefusedError(
    res.status,
    reason,
    message === "" ? (res.statusText || detail) : message,
    serverStatus === undefined ? undefined : { serverStatus },
  );
}
