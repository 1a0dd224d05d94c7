/**
 * `portForward`: one connection to a pod's port over the port-forward
 * WebSocket protocol (`v4.channel.k8s.io` framing; channel 0 data, channel
 * 1 error, each opened by the port as 2 bytes little-endian).
 *
 * @module
 */
import { KubeauthError } from "../errors.ts";
import { sendChannel } from "./channel_send.ts";
import { closeAfterFailure, messageBytes, podPath } from "./channels.ts";
import type { StreamClient } from "./exec.ts";
import { Output } from "./exec_session.ts";

/** Options of {@linkcode portForward}. */
export interface PortForwardOptions {
  /** The pod's name. */
  pod: string;
  /**
   * The pod's namespace.
   *
   * @default {kube.namespace}
   */
  namespace?: string;
  /** The pod's port (1–65535). */
  port: number;
  /** Aborts the handshake, or closes the stream once open. */
  signal?: AbortSignal;
}

/** One forwarded connection: bytes to and from the pod's port. */
export interface PortForwardStream {
  /** What the pod's port sends; errors with `STREAM_FAILED` on the error channel. */
  readonly readable: ReadableStream<Uint8Array>;
  /** What to send to the pod's port. */
  readonly writable: WritableStream<Uint8Array>;
  /** Closes the connection. Idempotent. */
  close(): void;
}

const DATA = 0;
const ERROR = 1;
const PROTOCOLS = ["v4.channel.k8s.io"];

/**
 * Opens one forwarded connection to a port of a pod, as each connection
 * `kubectl port-forward` accepts does.
 *
 * @example Usage
 * ```ts ignore
 * import { createAuthedFetch, portForward } from "@kubeauth/fetch";
 * const kube = await createAuthedFetch();
 * const conn = await portForward(kube, { pod: "redis-0", port: 6379 });
 * const w = conn.writable.getWriter();
 * await w.write(new TextEncoder().encode("PING\r\n"));
 * const { value } = await conn.readable.getReader().read();
 * console.log(new TextDecoder().decode(value)); // "+PONG"
 * conn.close();
 * ```
 *
 * @param kube The authenticated client.
 * @param options Pod, namespace, port, signal.
 * @returns The duplex stream once open.
 * @throws {KubeauthError} `WEBSOCKET_REFUSED` with the server's message.
 */
export async function portForward(
  kube: StreamClient,
  options: PortForwardOptions,
): Promise<PortForwardStream> {
  const port = options.port;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new KubeauthError(
      "STREAM_FAILED",
      `port-forward needs a port from 1 to 65535, not ${port}`,
    );
  }
  const path = podPath(
    options.namespace ?? kube.namespace,
    options.pod,
    "portforward",
  );
  const ws = await kube.webSocket(`${path}?ports=${port}`, {
    protocols: PROTOCOLS,
    signal: options.signal,
  });
  return new ForwardedConnection(ws, port, options.signal);
}

/**
 * The stream behind {@linkcode portForward}.
 *
 * @example Usage
 * ```ts
 * import { ForwardedConnection } from "./port_forward.ts";
 * const ws = Object.assign(new EventTarget(), {
 *   protocol: "v4.channel.k8s.io", readyState: 1, bufferedAmount: 0,
 *   send() {}, close() {},
 * }) as unknown as WebSocket;
 * const c = new ForwardedConnection(ws, 8080);
 * const msg = (b: number[]) =>
 *   ws.dispatchEvent(new MessageEvent("message", { data: new Uint8Array(b).buffer }));
 * msg([0, 0x90, 0x1f]); // port header (8080)
 * msg([1, 0x90, 0x1f]);
 * msg([0, 104, 105]);
 * ws.dispatchEvent(new CloseEvent("close", { code: 1000 }));
 * if (await new Response(c.readable).text() !== "hi") throw new Error("not as shown");
 * ```
 */
export class ForwardedConnection implements PortForwardStream {
  readonly writable: WritableStream<Uint8Array>;
  readonly #ws: WebSocket;
  readonly #port: number;
  readonly #data = new Output();
  /** Header bytes still to strip per channel. */
  readonly #header = [2, 2];
  #error = "";
  #failure: unknown;
  #ended = false;

  /**
   * Takes over an open socket.
   *
   * @param ws The open socket.
   * @param port The pod's port (for messages).
   * @param signal Closes the stream when aborted.
   */
  constructor(ws: WebSocket, port: number, signal?: AbortSignal) {
    this.#ws = ws;
    this.#port = port;
    this.writable = new WritableStream<Uint8Array>({
      write: async (chunk) => {
        if (ws.readyState !== 1) {
          throw this.#failure ??
            new KubeauthError(
              "STREAM_FAILED",
              "the forwarded connection has ended",
            );
        }
        await sendChannel(ws, DATA, chunk, signal);
      },
      // The protocol has no half-close: the connection stays open for the
      // pod's answer until close() or the pod's side ends it.
      close: () => {},
    });
    ws.addEventListener("message", (e) => this.#onMessage(e as MessageEvent));
    ws.addEventListener("close", (e) => this.#onClose(e as CloseEvent));
    if (signal !== undefined) {
      const onAbort = () => this.#fail(signal.reason);
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    }
  }

  /** What the pod's port sends. */
  get readable(): ReadableStream<Uint8Array> {
    return this.#data.stream;
  }

  /** Closes the connection. */
  close(): void {
    if (this.#ended) return;
    try {
      this.#ws.close(1000);
    } catch {
      // Already closing.
    }
  }

  #onMessage(e: MessageEvent): void {
    const bytes = messageBytes(e.data);
    if (bytes.length === 0) return;
    const channel = bytes[0];
    if (channel !== DATA && channel !== ERROR) return;
    let payload = bytes.subarray(1);
    const skip = Math.min(this.#header[channel], payload.length);
    this.#header[channel] -= skip;
    payload = payload.subarray(skip);
    if (payload.length === 0) return;
    if (channel === DATA) this.#data.push(payload);
    else {
      this.#error += new TextDecoder().decode(payload);
      this.#fail(
        new KubeauthError(
          "STREAM_FAILED",
          `port-forward to port ${this.#port} failed: ${this.#error.trim()}`,
        ),
      );
    }
  }

  #onClose(e: Pick<CloseEvent, "code" | "reason">): void {
    if (this.#ended) return;
    this.#ended = true;
    const err = this.#failure ??
      (e.code === 1000 || e.code === 1005 ? undefined : new KubeauthError(
        "STREAM_FAILED",
        `the forwarded connection to port ${this.#port} was cut (WebSocket close ${e.code}${
          e.reason ? `: ${e.reason}` : ""
        })`,
      ));
    this.#data.end(err);
  }

  #fail(reason: unknown): void {
    if (this.#ended || this.#failure !== undefined) return;
    this.#failure = reason;
    closeAfterFailure(this.#ws, (e) => this.#onClose(e));
  }
}
