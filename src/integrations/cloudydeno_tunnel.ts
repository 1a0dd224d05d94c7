/**
 * {@linkcode KubeauthTunnel}: cloudydeno's `KubernetesTunnel` (what
 * `performRequest({ expectTunnel })` resolves to) over one channel
 * WebSocket opened by `kube.webSocket()`. Each binary message carries one
 * channel's bytes behind a channel byte (`channel.k8s.io` framing); exec
 * and attach use 0 stdin, 1 stdout, 2 stderr, 3 the final `Status`, 4
 * resize; port-forward uses two channels per port (data, error), each
 * opened by the port as 2 bytes little-endian. The tunnel only routes
 * bytes: the typed APIs built on it read the Status and strip the ports.
 *
 * Both generations of the contract are served by the same object:
 * `getChannel` / `ready` / `stop` (`@cloudydeno/kubernetes-client` 0.7,
 * used by `@cloudydeno/kubernetes-apis` 0.5) and `getReadableStream` /
 * `getWritableStream` / `whenReady` / `close` (the later releases).
 *
 * @module
 */
import { KubeauthError } from "../errors.ts";
import { CLOSE, messageBytes, V5_CHANNEL } from "../streams/channels.ts";
import { sendChannel } from "../streams/channel_send.ts";
import { Output } from "../streams/exec_session.ts";

/** A channel of a tunnel, as the later contract names it. */
export interface TunnelChannelId {
  /** The channel number (WebSocket framing); required here. */
  index?: number;
  /** SPDY stream headers; ignored over a WebSocket. */
  spdyHeaders?: Record<string, string | number>;
}

/** A channel request of the 0.7 contract (`getChannel`). */
export interface TunnelChannelRequest<
  Treadable extends boolean,
  Twritable extends boolean,
> {
  /** The channel number (WebSocket framing); required here. */
  streamIndex?: number;
  /** SPDY stream headers; ignored over a WebSocket. */
  spdyHeaders?: Record<string, string | number>;
  /** Whether to return the channel's readable side. */
  readable: Treadable;
  /** Whether to return the channel's writable side. */
  writable: Twritable;
}

/** What `getChannel` resolves to: the sides asked for, else `null`. */
export interface TunnelChannel<
  Treadable extends boolean,
  Twritable extends boolean,
> {
  /** The bytes the server sends on the channel. */
  readable: Treadable extends true ? ReadableStream<Uint8Array> : null;
  /** Bytes to send on the channel. */
  writable: Twritable extends true ? WritableStream<Uint8Array> : null;
}

/**
 * cloudydeno's `KubernetesTunnel` (declared here from its source, both
 * generations): a multiplexed stream to exec, attach or port-forward.
 */
export interface KubernetesTunnel {
  /** The transport in use (here always `WebSocket`). */
  readonly transportProtocol: "SPDY" | "WebSocket" | "Opaque";
  /** The subprotocol the server chose from those offered. */
  readonly subProtocol: string;
  /** The readable side of a channel (later contract). */
  getReadableStream(id: TunnelChannelId): ReadableStream<Uint8Array>;
  /** The writable side of a channel (later contract). */
  getWritableStream(id: TunnelChannelId): WritableStream<Uint8Array>;
  /** Resolves once the tunnel is connected (later contract). */
  whenReady(): Promise<void>;
  /** Disconnects (later contract). */
  close(): Promise<void>;
  /** Sets up a channel's sides (0.7 contract). */
  getChannel<Treadable extends boolean, Twritable extends boolean>(
    opts: TunnelChannelRequest<Treadable, Twritable>,
  ): Promise<TunnelChannel<Treadable, Twritable>>;
  /** Called once the initial channels are set up (0.7 contract). */
  ready(): Promise<void>;
  /** Disconnects (0.7 contract). */
  stop(): Promise<void>;
}

/** Unread bytes over all channels above which the tunnel fails. */
const MAX_UNREAD = 64 * 1024 * 1024;

/** How the tunnel ended: `error` undefined for a clean end. */
interface Ending {
  error?: unknown;
}

function channelIndex(index: number | undefined): number {
  if (
    index === undefined || !Number.isInteger(index) || index < 0 || index > 254
  ) {
    throw new KubeauthError(
      "STREAM_FAILED",
      `a WebSocket tunnel channel needs an index from 0 to 254, not ${index}`,
    );
  }
  return index;
}

/**
 * The tunnel {@linkcode KubeauthRestClient} returns for `expectTunnel`,
 * over an open channel WebSocket.
 *
 * - Bytes the server sends before a channel is asked for are kept for it
 *   (port-forward's port headers arrive at once); more than 64 MiB unread
 *   over all channels fails the tunnel with `STREAM_FAILED`.
 * - Closing a channel's writable sends the close-channel message
 *   (`[255, channel]`) when `v5.channel.k8s.io` was negotiated (stdin EOF);
 *   other subprotocols have no such message and it does nothing.
 * - A clean close by the server (1000, or 1005: no code) ends every readable; any other
 *   close errors them with `STREAM_FAILED`; the abort signal errors them
 *   with its reason; {@linkcode KubeauthTunnel.close} (or `stop()`, or
 *   `using`) closes the socket and ends them.
 *
 * @example Usage
 * ```ts
 * import { KubeauthTunnel } from "@kubeauth/fetch/cloudydeno";
 * const sent: number[][] = [];
 * const ws = Object.assign(new EventTarget(), {
 *   protocol: "v5.channel.k8s.io", readyState: 1, bufferedAmount: 0,
 *   send: (m: Uint8Array) => sent.push([...m]), close() {},
 * }) as unknown as WebSocket;
 * const tunnel = new KubeauthTunnel(ws);
 * const stdin = tunnel.getWritableStream({ index: 0 });
 * const stdout = tunnel.getReadableStream({ index: 1 });
 * const status = tunnel.getReadableStream({ index: 3 });
 * await tunnel.whenReady();
 * await stdin.close();
 * if (sent[0].join() !== "255,0") throw new Error("not as shown");
 * const msg = (s: string) =>
 *   ws.dispatchEvent(new MessageEvent("message", { data: new TextEncoder().encode(s).buffer }));
 * msg("\x01hi");
 * msg('\x03{"status":"Success"}');
 * ws.dispatchEvent(new CloseEvent("close", { code: 1000 }));
 * if (await new Response(stdout).text() !== "hi") throw new Error("not as shown");
 * if ((await new Response(status).json()).status !== "Success") throw new Error("not as shown");
 * ```
 */
export class KubeauthTunnel implements KubernetesTunnel {
  /** Always `WebSocket`. */
  readonly transportProtocol: "WebSocket" = "WebSocket";
  readonly #ws: WebSocket;
  readonly #inbound = new Map<number, Output>();
  readonly #taken = new Set<string>();
  readonly #signal: AbortSignal | undefined;
  readonly #closed: Promise<void>;
  #markClosed!: () => void;
  #failure: unknown;
  #ending: Ending | undefined;
  #stopping = false;

  /**
   * Takes over an open socket.
   *
   * @param ws The open socket (`binaryType` `arraybuffer`).
   * @param signal Aborting it closes the tunnel; readables error with its reason.
   */
  constructor(ws: WebSocket, signal?: AbortSignal) {
    this.#ws = ws;
    this.#signal = signal;
    this.#closed = new Promise((resolve) => {
      this.#markClosed = resolve;
    });
    ws.addEventListener("message", (e) => this.#onMessage(e as MessageEvent));
    ws.addEventListener("close", (e) => this.#onClose(e as CloseEvent));
    if (signal !== undefined) {
      if (signal.aborted) this.#onAbort();
      else signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  /** The subprotocol the server chose (e.g. `v5.channel.k8s.io`). */
  get subProtocol(): string {
    return this.#ws.protocol;
  }

  /**
   * The bytes the server sends on one channel (each channel once).
   *
   * @param id The channel's `index`.
   * @returns The channel's bytes, including those that arrived before.
   */
  getReadableStream(id: TunnelChannelId): ReadableStream<Uint8Array> {
    const index = this.#take(id.index, "readable");
    return this.#output(index).stream;
  }

  /**
   * Sends bytes on one channel (each channel once). Writes wait while more
   * than 1 MiB is queued on the socket.
   *
   * @param id The channel's `index`.
   * @returns The channel's writable side.
   */
  getWritableStream(id: TunnelChannelId): WritableStream<Uint8Array> {
    const index = this.#take(id.index, "writable");
    return this.#writable(index);
  }

  /**
   * Resolves at once: the socket is open when the tunnel is handed out.
   *
   * @returns A resolved promise.
   */
  whenReady(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Sets up a channel's sides (the 0.7 contract's call).
   *
   * @param opts `streamIndex` and which sides to return.
   * @returns The sides asked for, `null` for the others.
   */
  getChannel<Treadable extends boolean, Twritable extends boolean>(
    opts: TunnelChannelRequest<Treadable, Twritable>,
  ): Promise<TunnelChannel<Treadable, Twritable>> {
    try {
      const id = { index: opts.streamIndex };
      const readable = opts.readable ? this.getReadableStream(id) : null;
      const writable = opts.writable ? this.getWritableStream(id) : null;
      return Promise.resolve({ readable, writable } as TunnelChannel<
        Treadable,
        Twritable
      >);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Resolves at once (the 0.7 contract's call after the initial channels).
   *
   * @returns A resolved promise.
   */
  ready(): Promise<void> {
    return this.whenReady();
  }

  /**
   * Closes the socket (the server then stops the command or the
   * connection); readables end, writables refuse further writes.
   * Idempotent.
   *
   * @returns Resolves once the socket is closed.
   */
  close(): Promise<void> {
    if (this.#ending === undefined && !this.#stopping) {
      this.#stopping = true;
      this.#shut();
    }
    return this.#closed;
  }

  /**
   * The same as {@linkcode KubeauthTunnel.close} (the 0.7 contract's name).
   *
   * @returns Resolves once the socket is closed.
   */
  stop(): Promise<void> {
    return this.close();
  }

  /** Closes the tunnel, for `using`. */
  [Symbol.dispose](): void {
    void this.close();
  }

  #take(index: number | undefined, side: "readable" | "writable"): number {
    const n = channelIndex(index);
    const key = `${side}:${n}`;
    if (this.#taken.has(key)) {
      throw new KubeauthError(
        "STREAM_FAILED",
        `the ${side} side of tunnel channel ${n} was already taken`,
      );
    }
    this.#taken.add(key);
    return n;
  }

  /** The channel's buffer, created on first use (ended if the tunnel has). */
  #output(index: number): Output {
    let out = this.#inbound.get(index);
    if (out === undefined) {
      out = new Output();
      this.#inbound.set(index, out);
      if (this.#ending !== undefined) out.end(this.#ending.error);
    }
    return out;
  }

  #writable(index: number): WritableStream<Uint8Array> {
    const ws = this.#ws;
    return new WritableStream<Uint8Array>({
      write: async (chunk) => {
        if (this.#ending !== undefined || ws.readyState !== 1) {
          throw this.#failure ??
            new KubeauthError("STREAM_FAILED", "the tunnel has ended");
        }
        await sendChannel(ws, index, chunk);
      },
      close: () => {
        if (ws.protocol === V5_CHANNEL && ws.readyState === 1) {
          ws.send(new Uint8Array([CLOSE, index]));
        }
      },
    });
  }

  #onMessage(e: MessageEvent): void {
    if (this.#ending !== undefined) return;
    const bytes = messageBytes(e.data);
    if (bytes.length === 0) return;
    this.#output(bytes[0]).push(bytes.subarray(1));
    let unread = 0;
    for (const out of this.#inbound.values()) unread += out.unread;
    if (unread > MAX_UNREAD) {
      this.#fail(
        new KubeauthError(
          "STREAM_FAILED",
          `more than ${MAX_UNREAD} bytes arrived on the tunnel and were left unread: read (or cancel) every channel asked for`,
        ),
      );
    }
  }

  #onClose(e: CloseEvent): void {
    if (this.#ending !== undefined) return;
    let error = this.#failure;
    if (
      error === undefined && !this.#stopping && e.code !== 1000 &&
      e.code !== 1005
    ) {
      error = new KubeauthError(
        "STREAM_FAILED",
        `the tunnel was cut (WebSocket close ${e.code}${
          e.reason ? `: ${e.reason}` : ""
        })`,
      );
    }
    this.#ending = { error };
    for (const out of this.#inbound.values()) out.end(error);
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#markClosed();
  }

  readonly #onAbort = (): void => {
    this.#fail(this.#signal?.reason);
  };

  #fail(reason: unknown): void {
    if (this.#ending !== undefined || this.#failure !== undefined) return;
    this.#failure = reason ??
      new KubeauthError("STREAM_FAILED", "the tunnel failed");
    this.#shut();
  }

  /** Starts the closing handshake; settles now when already closed. */
  #shut(): void {
    try {
      this.#ws.close(1000);
    } catch {
      // Already closing.
    }
    if (this.#ws.readyState === 3) {
      this.#onClose({ code: 1000, reason: "" } as CloseEvent);
    }
  }
}
