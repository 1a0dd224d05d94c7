/**
 * Runs an exec credential plugin once: environment, stdin/stderr wiring,
 * bounded stdout, bounded stderr tail, timeout and cancellation (killing the
 * plugin's whole process group), and client-go's error messages.
 *
 * @module
 */
import { maskSecrets } from "./mask_secrets.ts";
import { ExecPluginError } from "../errors.ts";
import type {
  ChildProcess,
  ExitStatus,
  RuntimeAdapter,
} from "../runtime/types.ts";
import { SpawnError } from "../runtime/types.ts";

/** The default cap on a plugin's stdout: 16 MiB. */
export const DEFAULT_MAX_OUTPUT_BYTES: number = 16 * 1024 * 1024;
/** The default timeout of a non-interactive run: 60 s. */
export const DEFAULT_TIMEOUT_MS: number = 60_000;
/** How much of a plugin's stderr is kept for error messages: 4 KiB. */
export const STDERR_TAIL_BYTES: number = 4096;
/** How long stdout may stay open after the plugin exited: 1 s. */
export const DEFAULT_STDOUT_GRACE_MS: number = 1000;

/** client-go's explanation when a plugin is not installed. */
export const INSTALL_HINT_HELP: string =
  "It looks like you are trying to use a client-go credential plugin that is not installed.\n\n" +
  "To learn more about this feature, consult the documentation available at:\n" +
  "      https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins";

/** What {@linkcode runExecPlugin} needs. */
export interface RunExecPluginOptions {
  /** The runtime adapter to spawn with. */
  adapter: RuntimeAdapter;
  /** The program (a path, or a bare name looked up on PATH). */
  command: string;
  /** Its arguments. */
  args: readonly string[];
  /** The complete environment of the plugin. */
  env: Readonly<Record<string, string>>;
  /** Interactive: stdin and stderr are the user's terminal. */
  interactive: boolean;
  /** Kill the plugin after this many ms; `undefined`, 0 or Infinity: never. */
  timeoutMs?: number;
  /** Said in the timeout message: how to raise the timeout. */
  timeoutHint?: string;
  /** Cap on stdout bytes (default 16 MiB). */
  maxOutputBytes?: number;
  /** After exit, how long to wait for stdout/stderr to close (default 1 s). */
  stdoutGraceMs?: number;
  /** The kubeconfig's install hint (already escaped), shown when not found. */
  installHint?: string;
  /** Aborting kills the plugin; the run rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** A run that exited with code 0. */
export interface ExecPluginRun {
  /** Everything the plugin wrote to stdout. Secret. */
  stdout: Uint8Array;
  /** Always 0. */
  exitCode: number;
  /** The last (≤ 4 KiB) of stderr when it was piped, as text. */
  stderrTail: string;
}

/**
 * Runs a plugin and returns its stdout. Non-interactive runs get no stdin and
 * a piped stderr that is passed through to the process's stderr chunk by
 * chunk while its last 4 KiB are kept for the error; interactive runs get the
 * terminal on stdin and stderr. stdout is read while the plugin runs and is
 * capped; after the plugin exits, stdout gets a short grace to close (a
 * grandchild may hold it), then the process group is killed and the streams
 * are cancelled.
 *
 * @example Usage
 * ```ts
 * import { runExecPlugin } from "./runner.ts";
 * import { getRuntimeAdapter } from "../runtime/mod.ts";
 * const adapter = await getRuntimeAdapter();
 * const info = '{"kind":"ExecCredential",' +
 *   '"apiVersion":"client.authentication.k8s.io/v1",' +
 *   '"spec":{"interactive":false}}';
 * // A tiny plugin that prints the request it was given.
 * const run = await runExecPlugin({
 *   adapter,
 *   command: "sh",
 *   args: ["-c", 'printf %s "$KUBERNETES_EXEC_INFO"'],
 *   env: { ...adapter.env(), KUBERNETES_EXEC_INFO: info },
 *   interactive: false,
 *   timeoutMs: 60_000,
 * });
 * if (new TextDecoder().decode(run.stdout) !== info) throw new Error("stdout");
 * if (run.exitCode !== 0) throw new Error("a run that resolves exited 0");
 * ```
 *
 * @param o The run options.
 * @returns stdout of a run that exited 0.
 * @throws {ExecPluginError} `EXEC_NOT_FOUND`, `EXEC_FAILED` (non-zero exit,
 * signal, permission denied), `EXEC_TIMEOUT`, `EXEC_OUTPUT_TOO_LARGE`; the
 * signal's reason when aborted.
 */
export async function runExecPlugin(
  o: RunExecPluginOptions,
): Promise<ExecPluginRun> {
  o.signal?.throwIfAborted();
  let child: ChildProcess;
  try {
    // No spawn signal: the run kills the group itself (what an aborted spawn
    // signal would do), and the plugin cannot be stopped before spawn()
    // returns anyway.
    child = await o.adapter.spawn({
      command: o.command,
      args: o.args,
      env: o.env,
      stdin: o.interactive ? "inherit" : "null",
      stderr: o.interactive ? "inherit" : "piped",
    });
  } catch (err) {
    throw spawnFailure(o, err);
  }
  return await new PluginRun(o, child).run();
}

/** One spawned plugin: its streams, timers and outcome, one method a step. */
class PluginRun {
  readonly #o: RunExecPluginOptions;
  readonly #child: ChildProcess;
  readonly #max: number;
  readonly #stdoutReader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #stderrReader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  readonly #chunks: Uint8Array[] = [];
  readonly #tail = new TailBuffer(STDERR_TAIL_BYTES);
  #size = 0;
  #timedOut = false;
  #tooLarge = false;
  #aborted = false;
  #exited = false;
  // Set when a stream has ended: a plugin has usually closed both by the time
  // its exit is seen, and then no grace timer is needed.
  #stdoutClosed = false;
  #stderrClosed: boolean;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #onAbort = () => {
    this.#aborted = true;
    this.#stop();
  };

  constructor(o: RunExecPluginOptions, child: ChildProcess) {
    this.#o = o;
    this.#child = child;
    this.#max = o.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    this.#stdoutReader = child.stdout.getReader();
    this.#stderrReader = child.stderr?.getReader();
    this.#stderrClosed = this.#stderrReader === undefined;
  }

  async run(): Promise<ExecPluginRun> {
    this.#watchSignalAndTimeout();
    const stdoutDone = this.#readStdout().catch(() => {});
    const stderrDone = this.#readStderr().catch(() => {});
    let status: ExitStatus;
    try {
      status = await this.#child.status;
      this.#exited = true;
      // The plugin is gone; its stdout may still be held by a grandchild.
      if (this.#stdoutClosed && this.#stderrClosed) await stdoutDone;
      else await this.#graceThenKill(stdoutDone, stderrDone);
    } finally {
      clearTimeout(this.#timer);
      clearTimeout(this.#graceTimer);
      this.#o.signal?.removeEventListener("abort", this.#onAbort);
    }
    return this.#outcome(status);
  }

  #stop(): void {
    this.#child.kill("SIGKILL");
  }

  #watchSignalAndTimeout(): void {
    const signal = this.#o.signal;
    // The signal may have fired while the process was being started.
    if (signal?.aborted) this.#onAbort();
    // No `once`: it makes addEventListener several times slower on Node, and
    // the listener is removed in any case (onAbort is idempotent).
    else signal?.addEventListener("abort", this.#onAbort);
    const timeoutMs = this.#o.timeoutMs;
    if (
      timeoutMs !== undefined && timeoutMs > 0 && Number.isFinite(timeoutMs)
    ) {
      this.#timer = setTimeout(() => {
        if (this.#exited) return;
        this.#timedOut = true;
        this.#stop();
      }, timeoutMs);
    }
  }

  async #readStdout(): Promise<void> {
    const reader = this.#stdoutReader;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        this.#stdoutClosed = true;
        return;
      }
      this.#size += value.byteLength;
      if (this.#size > this.#max) {
        this.#tooLarge = true;
        this.#chunks.length = 0;
        this.#stop();
        await reader.cancel().catch(() => {});
        return;
      }
      this.#chunks.push(value);
    }
  }

  async #readStderr(): Promise<void> {
    const reader = this.#stderrReader;
    if (reader === undefined) return;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        this.#stderrClosed = true;
        return;
      }
      this.#tail.push(value);
      try {
        this.#o.adapter.writeStderr(value);
      } catch {
        // The parent's stderr is gone: keep the tail anyway.
      }
    }
  }

  async #graceThenKill(
    stdoutDone: Promise<void>,
    stderrDone: Promise<void>,
  ): Promise<void> {
    const streamsClosed = Promise.all([stdoutDone, stderrDone]).then(() =>
      true
    );
    const graceOver = new Promise<false>((resolve) => {
      this.#graceTimer = setTimeout(
        () => resolve(false),
        this.#o.stdoutGraceMs ?? DEFAULT_STDOUT_GRACE_MS,
      );
    });
    if (!(await Promise.race([streamsClosed, graceOver]))) {
      this.#stop(); // the group: grandchildren holding the pipes
      await Promise.all([
        this.#stdoutReader.cancel().catch(() => {}),
        this.#stderrReader?.cancel().catch(() => {}),
      ]);
      await Promise.all([stdoutDone, stderrDone]);
    }
  }

  #outcome(status: ExitStatus): ExecPluginRun {
    const o = this.#o;
    // Kept in errors: what looks like a secret is masked.
    const stderrTail = maskSecrets(this.#tail.text());
    if (this.#aborted && o.signal) {
      throw o.signal.reason ?? new DOMException("aborted", "AbortError");
    }
    const failure = this.#failure(status, stderrTail);
    if (failure !== undefined) throw failure;
    return { stdout: this.#stdout(), exitCode: 0, stderrTail };
  }

  #failure(
    status: ExitStatus,
    stderrTail: string,
  ): ExecPluginError | undefined {
    const o = this.#o;
    const command = o.command;
    const facts = {
      command,
      ...(status.code !== null ? { exitCode: status.code } : {}),
      ...(status.signal !== null ? { signal: status.signal } : {}),
      ...(stderrTail !== "" ? { stderrTail } : {}),
    };
    if (this.#tooLarge) {
      return new ExecPluginError(
        "EXEC_OUTPUT_TOO_LARGE",
        `exec: executable ${command} wrote more than ${
          formatBytes(this.#max)
        } to stdout and was killed; an ExecCredential is a few KiB, so the plugin is probably printing something else to stdout (if the output is legitimate, raise the limit with the maxOutputBytes exec option)`,
        facts,
      );
    }
    if (this.#timedOut) {
      return new ExecPluginError(
        "EXEC_TIMEOUT",
        `exec: executable ${command} did not finish within ${
          formatMs(o.timeoutMs ?? 0)
        } and was killed together with its child processes; ${
          o.timeoutHint ??
            "raise the timeout with the execTimeoutMs option of createAuthedFetch (timeoutMs of the exec authenticator)"
        }${stderrSuffix(stderrTail)}`,
        facts,
      );
    }
    if (status.signal !== null) {
      return new ExecPluginError(
        "EXEC_FAILED",
        `exec: executable ${command} failed: terminated by signal ${status.signal}${
          stderrSuffix(stderrTail)
        }`,
        facts,
      );
    }
    if (status.code !== 0) {
      return new ExecPluginError(
        "EXEC_FAILED",
        `exec: executable ${command} failed with exit code ${status.code}${
          stderrSuffix(stderrTail)
        }`,
        facts,
      );
    }
    return undefined;
  }

  #stdout(): Uint8Array {
    const stdout = new Uint8Array(this.#size);
    let off = 0;
    for (const c of this.#chunks) {
      stdout.set(c, off);
      off += c.byteLength;
    }
    return stdout;
  }
}

function stderrSuffix(tail: string): string {
  const t = tail.trim();
  return t === ""
    ? ""
    : `\nstderr (last ${STDERR_TAIL_BYTES} bytes at most):\n${t}`;
}

function spawnFailure(o: RunExecPluginOptions, err: unknown): ExecPluginError {
  const command = o.command;
  const hint = o.installHint;
  if (err instanceof SpawnError && err.reason === "not-found") {
    return new ExecPluginError(
      "EXEC_NOT_FOUND",
      `exec: executable ${command} not found\n\n${INSTALL_HINT_HELP}${
        hint ? `\n\n${hint}` : ""
      }`,
      { command, ...(hint ? { installHint: hint } : {}), cause: err },
    );
  }
  if (err instanceof SpawnError && err.reason === "is-directory") {
    return directoryFailure(o, err);
  }
  const detail = err instanceof SpawnError
    ? err.message
    : "the process could not be started";
  if (err instanceof SpawnError && err.reason === "permission-denied") {
    return new ExecPluginError(
      "EXEC_FAILED",
      `exec: executable ${command} could not be started: permission denied (${detail}); check that it is a file, not a directory, and executable (chmod +x)${
        o.adapter.name === "deno"
          ? ", and that Deno may run it (--allow-run)"
          : ""
      }`,
      { command, cause: err },
    );
  }
  const info = o.env.KUBERNETES_EXEC_INFO ?? "";
  const big = info.length > 128 * 1024
    ? ` (KUBERNETES_EXEC_INFO is ${
      formatBytes(info.length)
    }; Linux limits one environment variable to 128 KiB: turn off provideClusterInfo or use a smaller CA bundle)`
    : "";
  return new ExecPluginError(
    "EXEC_FAILED",
    `exec: executable ${command} could not be started: ${detail}${big}`,
    { command, cause: err },
  );
}

/**
 * The command is a directory: a path → EXEC_FAILED (kubectl: `fork/exec …:
 * permission denied`); a bare name whose only match on PATH is a directory
 * → EXEC_NOT_FOUND with the install hint (Go's LookPath skips directories).
 */
function directoryFailure(
  o: RunExecPluginOptions,
  err: SpawnError,
): ExecPluginError {
  const command = o.command;
  const hint = o.installHint;
  const hintSuffix = hint ? `\n\n${hint}` : "";
  const options = {
    command,
    ...(hint ? { installHint: hint } : {}),
    cause: err,
  };
  if (err.message.endsWith(" on $PATH is a directory")) {
    return new ExecPluginError(
      "EXEC_NOT_FOUND",
      `exec: executable ${command} not found (${err.message})\n\n${INSTALL_HINT_HELP}${hintSuffix}`,
      options,
    );
  }
  return new ExecPluginError(
    "EXEC_FAILED",
    `exec: executable ${command} could not be started: ${err.message}, not an executable file; set command to the plugin's executable file${hintSuffix}`,
    options,
  );
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) {
    return `${n / (1024 * 1024)} MiB`;
  }
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** Keeps the last `limit` bytes written to it. */
class TailBuffer {
  #chunks: Uint8Array[] = [];
  #size = 0;
  readonly limit: number;
  constructor(limit: number) {
    this.limit = limit;
  }

  push(chunk: Uint8Array): void {
    if (chunk.byteLength >= this.limit) {
      this.#chunks = [chunk.slice(chunk.byteLength - this.limit)];
      this.#size = this.limit;
      return;
    }
    this.#chunks.push(chunk.slice());
    this.#size += chunk.byteLength;
    while (this.#size - this.#chunks[0].byteLength >= this.limit) {
      this.#size -= this.#chunks.shift()!.byteLength;
    }
  }

  text(): string {
    if (this.#size === 0) return "";
    const all = new Uint8Array(this.#size);
    let off = 0;
    for (const c of this.#chunks) {
      all.set(c, off);
      off += c.byteLength;
    }
    const start = Math.max(0, all.byteLength - this.limit);
    let bytes = all.subarray(start);
    // Do not start in the middle of a UTF-8 sequence.
    let skip = 0;
    while (skip < 3 && skip < bytes.length && (bytes[skip] & 0xc0) === 0x80) {
      skip++;
    }
    bytes = bytes.subarray(skip);
    return new TextDecoder().decode(bytes);
  }
}
