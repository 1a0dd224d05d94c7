/**
 * The runtime-adapter contract. The portable core of kubeauth talks to the
 * operating system only through a {@linkcode RuntimeAdapter}; one
 * implementation exists per runtime (Deno, Bun, Node).
 *
 * @module
 */

/** The runtimes kubeauth has an adapter for. */
export type RuntimeName = "deno" | "bun" | "node";

/** What to start, and how to wire it. */
export interface SpawnOptions {
  /** The program: an absolute path, or a bare name looked up on `PATH`. */
  command: string;
  /** Arguments, passed verbatim (no shell). */
  args: readonly string[];
  /** The COMPLETE environment of the child (nothing is inherited implicitly). */
  env: Readonly<Record<string, string>>;
  /** Working directory; the parent's when absent. */
  cwd?: string;
  /** `inherit` hands the parent's stdin to the child; `null` gives it none. */
  stdin: "inherit" | "null";
  /** `inherit` writes straight to the parent's stderr; `piped` gives a stream. */
  stderr: "inherit" | "piped";
  /**
   * Aborting kills the child (SIGKILL) and, on POSIX, its whole process group,
   * so grandchildren that hold stdout open die too.
   */
  signal?: AbortSignal;
}

/** How a child process ended. Exactly one of `code` and `signal` is set. */
export interface ExitStatus {
  /** The exit code, when the process exited. */
  code: number | null;
  /** The signal name (e.g. `SIGKILL`), when a signal ended it. */
  signal: string | null;
}

/** A running child process. */
export interface ChildProcess {
  /** The operating-system process id. */
  readonly pid: number;
  /** The child's stdout. Must be consumed or cancelled. */
  readonly stdout: ReadableStream<Uint8Array>;
  /** The child's stderr when `stderr: "piped"`, else `null`. */
  readonly stderr: ReadableStream<Uint8Array> | null;
  /** Resolves once the process has ended. Never rejects. */
  readonly status: Promise<ExitStatus>;
  /**
   * Sends a signal (default `SIGTERM`) to the child and, on POSIX, to its
   * whole process group (the child is started as a group leader). After
   * the child itself has ended, still signals what is left of its group
   * (e.g. a grandchild holding stdout open); does nothing when nothing is
   * left. Never throws.
   */
  kill(signal?: "SIGTERM" | "SIGKILL"): void;
}

/**
 * Why a process could not be started: `not-found` (no such file, or a bare
 * name not on `PATH`), `permission-denied` (not executable, or a Deno
 * permission is missing), `other`; `is-directory` when the command (a path,
 * or a bare name's only match on `PATH`) is a directory.
 */
export type SpawnFailureReason =
  | "not-found"
  | "permission-denied"
  | "other"
  | "is-directory";

/**
 * Thrown (as a rejection of {@linkcode RuntimeAdapter.spawn}) when a process
 * cannot be started at all.
 *
 * @example Usage
 * ```ts
 * import { SpawnError } from "@kubeauth/fetch/runtime";
 * const err = new SpawnError("not-found", "aws", "no such file");
 * if (err.reason !== "not-found") throw new Error("not as shown");
 * ```
 */
export class SpawnError extends Error {
  /** The classified reason. */
  readonly reason: SpawnFailureReason;
  /** The command that failed to start. */
  readonly command: string;

  /**
   * Creates a spawn error.
   *
   * @param reason The classified reason.
   * @param command The command that failed to start.
   * @param detail The runtime's own description.
   * @param cause The runtime's original error.
   */
  constructor(
    reason: SpawnFailureReason,
    command: string,
    detail: string,
    cause?: unknown,
  ) {
    super(detail, cause === undefined ? undefined : { cause });
    this.name = "SpawnError";
    this.reason = reason;
    this.command = command;
  }
}

/**
 * The TLS settings of ONE transport: the cluster's trust settings plus at
 * most one client identity. All PEM text.
 */
export interface TransportOptions {
  /** PEM CA bundle to trust instead of the system roots. */
  ca?: string;
  /** PEM client certificate chain (leaf first). Requires `key`. */
  cert?: string;
  /** PEM private key matching `cert`. */
  key?: string;
  /** Skip server certificate verification (kubeconfig `insecure-skip-tls-verify`). */
  insecureSkipVerify?: boolean;
  /** The name to verify the server certificate against (and send as SNI). */
  serverName?: string;
  /** An HTTP(S) proxy URL (kubeconfig `proxy-url`). */
  proxy?: string;
}

/**
 * A connection pool bound to one client identity. Connections are reused
 * while it lives and never shared with another transport (TLS sessions
 * included).
 */
export interface Transport {
  /**
   * Sends a request on this transport's connections. Rejects with a
   * `KubeauthError` of code `CLOSED` once {@linkcode Transport.close} or
   * {@linkcode Transport.destroy} has been called.
   */
  fetch(url: string, init: RequestInit): Promise<Response>;
  /**
   * Refuses new requests at once, lets requests in flight (including their
   * response bodies) finish, then closes every socket. Resolves when every
   * socket of this transport is closed. Idempotent.
   */
  close(): Promise<void>;
  /**
   * Refuses new requests, aborts requests in flight and closes every socket
   * now. Safe to call during or after {@linkcode Transport.close}. Idempotent.
   */
  destroy(): Promise<void>;
  /** Requests started whose response body has not yet ended. */
  readonly inFlight: number;
  /** True once close() or destroy() has been called. */
  readonly closed: boolean;
}

/** Everything kubeauth needs from the runtime. */
export interface RuntimeAdapter {
  /** Which runtime this is. */
  readonly name: RuntimeName;
  /** `windows`, `darwin`, `linux`… as the runtime names it. */
  readonly os: string;
  /** Starts a process. Rejects with {@linkcode SpawnError} when it cannot start. */
  spawn(options: SpawnOptions): Promise<ChildProcess>;
  /** Whether the process's stdin is a terminal. */
  stdinIsTerminal(): boolean;
  /** Writes bytes to the process's stderr (used to pass a plugin's stderr through). */
  writeStderr(chunk: Uint8Array): void;
  /** A snapshot of the whole environment. */
  env(): Record<string, string>;
  /** One environment variable, `undefined` when unset (or not permitted). */
  getEnv(name: string): string | undefined;
  /** Reads a whole file. Rejects with the runtime's error (with `code`/`name` intact). */
  readFile(path: string): Promise<Uint8Array>;
  /** The user's home directory, if known. */
  homeDir(): string | undefined;
  /** The current working directory. */
  cwd(): string;
  /** Creates a transport bound to one TLS identity. Throws `UNSUPPORTED` for options the runtime cannot do. */
  createTransport(options: TransportOptions): Transport;
  /**
   * Files and processes for the opt-in credential cache (src/cache/);
   * absent in adapters that cannot provide them (the cache then runs
   * plugins uncached and says why in an event).
   */
  cacheFiles?: CacheFileSystem;
  /**
   * Opens a client WebSocket with a TLS identity (see
   * {@linkcode WebSocketSupport}); absent on adapters without WebSockets.
   */
  openWebSocket?: WebSocketSupport["openWebSocket"];
  /** TCP listener, raw terminal mode, terminal size, signals (the streams CLI). */
  streams?: StreamsSupport;
}

/** What {@linkcode RuntimeAdapter.fileInfo} reports about a path itself. */
export interface FileInfo {
  /** What is at the path (`symlink` is never followed). */
  kind: "file" | "directory" | "symlink" | "other";
  /** Permission bits (`mode & 0o7777`); `null` where the OS has none. */
  mode: number | null;
  /** The owner's user id; `null` where the OS has none. */
  uid: number | null;
  /** Size in bytes. */
  size: number;
  /** Last modification, ms since the epoch. */
  mtimeMs: number;
}

/**
 * The file and process primitives of the credential cache
 * ({@linkcode RuntimeAdapter.cacheFiles}).
 */
export interface CacheFileSystem {
  /** The effective user id; `undefined` where the OS has none (Windows). */
  userId(): number | undefined;
  /** This process's id. */
  processId(): number;
  /**
   * Whether a process with this id exists on this machine (signal 0; a
   * process owned by another user counts as alive).
   */
  processAlive(pid: number): boolean;
  /**
   * Facts about the path itself (`lstat`: a symlink is reported as one,
   * never followed); `null` when nothing is there.
   */
  fileInfo(path: string): Promise<FileInfo | null>;
  /** Creates a directory and its missing parents, each with `mode`; no error when it exists. */
  makeDirectory(path: string, mode: number): Promise<void>;
  /**
   * Creates a NEW file (`O_CREAT|O_EXCL`: fails when anything, a dangling
   * symlink included, is at `path`), writes `data`, closes it. Resolves
   * `false` when something already exists at `path`.
   */
  createFileExclusive(
    path: string,
    data: Uint8Array,
    mode: number,
  ): Promise<boolean>;
  /** Atomically replaces `to` (a symlink at `to` is replaced, not followed). */
  rename(from: string, to: string): Promise<void>;
  /** Sets the permission bits. */
  chmod(path: string, mode: number): Promise<void>;
  /** Removes a file or a symlink itself (never its target); `false` when nothing was there. */
  removeFile(path: string): Promise<boolean>;
  /**
   * The path `spawn` would execute for `command`
   * with this environment, or `undefined` when it would not find one.
   */
  resolveCommandPath(
    command: string,
    env: Readonly<Record<string, string>>,
  ): string | undefined;
}

/** What {@linkcode RuntimeAdapter.openWebSocket} sends in the upgrade request. */
export interface WebSocketOptions {
  /** Subprotocols offered (`Sec-WebSocket-Protocol`), most preferred first. */
  protocols?: readonly string[];
  /** Extra request headers (e.g. `Authorization`). */
  headers?: Readonly<Record<string, string>>;
}

/**
 * Runtime WebSocket support, as an adapter may provide it: a client
 * WebSocket whose TLS connection carries the identity of a
 * {@linkcode TransportOptions} (its CA, client certificate and key, server
 * name, proxy). One connection per socket, released when the socket closes.
 */
export interface WebSocketSupport {
  /**
   * Opens (starts connecting) a WebSocket. The socket's `binaryType` is
   * `arraybuffer`. Throws `UNSUPPORTED` for options the runtime cannot do.
   * An adapter may return a promise (Node loads its WebSocket client on
   * first use, to keep it off the start-up of every other program).
   */
  openWebSocket(
    url: string,
    tls: TransportOptions,
    options: WebSocketOptions,
  ): WebSocket | Promise<WebSocket>;
}

/** One accepted TCP connection. */
export interface TcpConnection {
  /** Bytes from the peer; ends when the peer closes its side. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer; closing it ends our side. */
  readonly writable: WritableStream<Uint8Array>;
  /** Closes the connection at once. Idempotent. */
  close(): void;
}

/** A listening TCP socket. */
export interface TcpListener {
  /** The bound port (useful when 0 was asked for). */
  readonly port: number;
  /** The bound address. */
  readonly hostname: string;
  /** Accepted connections, until {@linkcode TcpListener.close}. */
  accept(): AsyncIterable<TcpConnection>;
  /** Stops listening (accepted connections stay open). Idempotent. */
  close(): Promise<void>;
}

/** The terminal and network facts the streams CLI (exec -t, port-forward) needs. */
export interface StreamsSupport {
  /** Listens on a TCP address. Rejects with the runtime's error (e.g. EADDRINUSE). */
  listenTcp(options: { hostname: string; port: number }): Promise<TcpListener>;
  /** Puts the process's stdin terminal in raw mode (or back). No-op without a terminal. */
  setRawMode(raw: boolean): void;
  /** The stdout terminal's size, `undefined` when stdout is not a terminal. */
  terminalSize(): { columns: number; rows: number } | undefined;
  /** Calls `listener` on each such signal until the returned function is called. */
  onSignal(
    signal: "SIGINT" | "SIGTERM" | "SIGWINCH",
    listener: () => void,
  ): () => void;
}
