/**
 * {@linkcode ExecSession}: one exec or attach stream over a channel
 * WebSocket, its channels as WebStreams.
 *
 * @module
 */
import { KubeauthError } from "../errors.ts";
import {
  CLOSE,
  closeAfterFailure,
  ERROR,
  exitCodeOf,
  messageBytes,
  RESIZE,
  STDERR,
  STDIN,
  STDOUT,
  V5_CHANNEL,
} from "./channels.ts";
import { sendChannel } from "./channel_send.ts";

/**
 * A running remote command (exec) or an attachment to a container's main
 * process (attach).
 *
 * @example Usage
 * ```ts ignore
 * import { createAuthedFetch, execInPod } from "@kubeauth/fetch";
 * const kube = await createAuthedFetch();
 * const s = await execInPod(kube, { pod: "web", command: ["date"] });
 * const out = await new Response(s.stdout).text();
 * console.log(out, (await s.exited).exitCode);
 * await kube.close();
 * ```
 */
export interface ExecSession {
  /** The command's stdin; `null` unless `stdin: true`. Closing it sends EOF (v5). */
  readonly stdin: WritableStream<Uint8Array> | null;
  /** The command's stdout (with `tty`, its whole terminal output). */
  readonly stdout: ReadableStream<Uint8Array>;
  /** The command's stderr; `null` with `tty`. */
  readonly stderr: ReadableStream<Uint8Array> | null;
  /** Tells the remote terminal its new size (`tty` only; ignored otherwise). */
  resize(columns: number, rows: number): void;
  /**
   * The exit code from the server's final Status (`Success` → 0,
   * `NonZeroExitCode` → its `ExitCode` cause). Rejects with `STREAM_FAILED`
   * when the stream ended without a Status or with another failure, and
   * with the abort reason when the signal aborted.
   */
  readonly exited: Promise<{ exitCode: number }>;
  /** The subprotocol in use (`v5.channel.k8s.io` or `v4.channel.k8s.io`). */
  readonly protocol: string;
  /** Closes the stream (the server then stops the command). Idempotent. */
  close(): void;
}

/** Unread bytes per output stream above which the session fails. */
const MAX_UNREAD = 64 * 1024 * 1024;

/** What {@linkcode ChannelSession} needs to know. */
export interface ChannelSessionOptions {
  /** Open stdin. */
  stdin: boolean;
  /** A terminal: no stderr channel, resize allowed. */
  tty: boolean;
  /** Aborting closes the session. */
  signal?: AbortSignal;
}

/** One output channel as a ReadableStream that knows its unread bytes. */
export class Output {
  /** The stream handed to the caller. */
  readonly stream: ReadableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #done = false;
  /** Creates the stream (queue measured in bytes). */
  constructor() {
    this.stream = new ReadableStream<Uint8Array>({
      start: (c) => {
        this.#controller = c;
      },
      cancel: () => {
        this.#done = true;
      },
    }, { highWaterMark: 0, size: (c) => c.byteLength });
  }
  /** Bytes queued and not yet read. */
  get unread(): number {
    if (this.#done) return 0;
    return Math.max(0, -(this.#controller.desiredSize ?? 0));
  }
  /** Queues bytes (dropped once cancelled or ended). */
  push(bytes: Uint8Array): void {
    if (this.#done) return;
    this.#controller.enqueue(bytes);
  }
  /** Ends the stream, with an error or normally. */
  end(err?: unknown): void {
    if (this.#done) return;
    this.#done = true;
    if (err === undefined) this.#controller.close();
    else this.#controller.error(err);
  }
}

/**
 * The session behind {@linkcode ExecSession} (see the module doc).
 *
 * @example Usage
 * ```ts
 * import { ChannelSession } from "./exec_session.ts";
 * const sent: number[][] = [];
 * const ws = Object.assign(new EventTarget(), {
 *   protocol: "v5.channel.k8s.io", readyState: 1, bufferedAmount: 0,
 *   send: (m: Uint8Array) => sent.push([...m]), close() {},
 * }) as unknown as WebSocket;
 * const s = new ChannelSession(ws, { stdin: true, tty: false });
 * ws.dispatchEvent(new MessageEvent("message", { data: new Uint8Array([1, 104, 105]).buffer }));
 * ws.dispatchEvent(new MessageEvent("message", { data: new TextEncoder().encode('\x03{"status":"Success"}').buffer }));
 * await s.stdin!.close();
 * if (sent.at(-1)!.join() !== "255,0") throw new Error("not as shown");
 * ws.dispatchEvent(new CloseEvent("close", { code: 1000 }));
 * if (await new Response(s.stdout).text() !== "hi") throw new Error("not as shown");
 * if ((await s.exited).exitCode !== 0) throw new Error("not as shown");
 * ```
 */
export class ChannelSession implements ExecSession {
  readonly stdin: WritableStream<Uint8Array> | null;
  readonly stderr: ReadableStream<Uint8Array> | null;
  readonly exited: Promise<{ exitCode: number }>;
  readonly #ws: WebSocket;
  readonly #tty: boolean;
  readonly #out = new Output();
  readonly #err: Output | null;
  #status = "";
  #failure: unknown;
  #settle!: {
    resolve: (v: { exitCode: number }) => void;
    reject: (e: unknown) => void;
  };
  #ended = false;

  /**
   * Takes over an open socket.
   *
   * @param ws The open socket (`binaryType` `arraybuffer`).
   * @param options stdin, tty and the abort signal.
   */
  constructor(ws: WebSocket, options: ChannelSessionOptions) {
    this.#ws = ws;
    this.#tty = options.tty;
    this.#err = options.tty ? null : new Output();
    this.stderr = this.#err?.stream ?? null;
    this.stdin = options.stdin ? this.#stdinStream() : null;
    this.exited = new Promise((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    this.exited.catch(() => {}); // a caller may only read the streams
    ws.addEventListener("message", (e) => this.#onMessage(e as MessageEvent));
    ws.addEventListener("close", (e) => this.#onClose(e as CloseEvent));
    const signal = options.signal;
    if (signal !== undefined) {
      const onAbort = () => this.#fail(signal.reason);
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
      this.exited.finally(() => signal.removeEventListener("abort", onAbort))
        .catch(() => {});
    }
  }

  /** The command's stdout. */
  get stdout(): ReadableStream<Uint8Array> {
    return this.#out.stream;
  }

  /** The negotiated subprotocol. */
  get protocol(): string {
    return this.#ws.protocol;
  }

  /**
   * Sends a terminal size (tty only).
   *
   * @param columns Width in characters.
   * @param rows Height in lines.
   */
  resize(columns: number, rows: number): void {
    if (!this.#tty || this.#ws.readyState !== 1) return;
    const body = JSON.stringify({ Width: columns, Height: rows });
    void sendChannel(this.#ws, RESIZE, new TextEncoder().encode(body));
  }

  /** Closes the socket; output streams end, `exited` settles. */
  close(): void {
    this.#fail(
      new KubeauthError("CLOSED", "the exec session was closed by the caller"),
    );
  }

  #stdinStream(): WritableStream<Uint8Array> {
    const ws = this.#ws;
    return new WritableStream<Uint8Array>({
      write: async (chunk) => {
        if (ws.readyState !== 1) {
          throw new KubeauthError("STREAM_FAILED", "the exec stream has ended");
        }
        await sendChannel(ws, STDIN, chunk);
      },
      close: () => {
        // v4 has no way to signal EOF: the command keeps its stdin open.
        if (ws.protocol === V5_CHANNEL && ws.readyState === 1) {
          ws.send(new Uint8Array([CLOSE, STDIN]));
        }
      },
    });
  }

  #onMessage(e: MessageEvent): void {
    const bytes = messageBytes(e.data);
    if (bytes.length === 0) return;
    const payload = bytes.subarray(1);
    switch (bytes[0]) {
      case STDOUT:
        this.#out.push(payload);
        break;
      case STDERR:
        (this.#err ?? this.#out).push(payload);
        break;
      case ERROR:
        this.#status += new TextDecoder().decode(payload);
        break;
    }
    const unread = this.#out.unread + (this.#err?.unread ?? 0);
    if (unread > MAX_UNREAD) {
      this.#fail(
        new KubeauthError(
          "STREAM_FAILED",
          `more than ${MAX_UNREAD} bytes of output were left unread: read stdout and stderr (or cancel them) as the command runs`,
        ),
      );
    }
  }

  #onClose(e: Pick<CloseEvent, "code" | "reason">): void {
    if (this.#ended) return;
    this.#ended = true;
    this.stdin?.abort?.().catch?.(() => {});
    let result: { exitCode: number } | undefined;
    let error: unknown = this.#failure;
    if (error === undefined) {
      if (this.#status !== "") {
        try {
          result = { exitCode: exitCodeOf(this.#status) };
        } catch (err) {
          error = err;
        }
      } else {
        error = new KubeauthError(
          "STREAM_FAILED",
          `the server closed the exec stream (WebSocket close ${e.code}${
            e.reason ? `: ${e.reason}` : ""
          }) without an exit status`,
        );
      }
    }
    this.#out.end(result ? undefined : error);
    this.#err?.end(result ? undefined : error);
    if (result) this.#settle.resolve(result);
    else this.#settle.reject(error);
  }

  #fail(reason: unknown): void {
    if (this.#ended || this.#failure !== undefined) return;
    this.#failure = reason;
    closeAfterFailure(this.#ws, (e) => this.#onClose(e));
  }
}
