/**
 * Runs an exec credential plugin once: environment, stdin/stderr wiring,
 * bounded stdout, bounded stderr tail, timeout and cancellation (killing the
 * plugin's whole process group), and client-go's error messages.
 *
 * @module
 */
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
 * ```ts ignore
 * import { runExecPlugin } from "./runner.ts";
 * const run = await runExecPlugin({
 *   adapter,
 *   command: "aws",
 *   args: ["eks", "get-token", "--cluster-name", "x"],
 *   env: { ...adapter.env(), KUBERNETES_EXEC_INFO: info },
 *   interactive: false,
 *   timeoutMs: 60_000,
 * });
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
  const command = o.command;
  const max = o.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  let child: ChildProcess;
  try {
    // No spawn signal: stop() below kills the group itself (what an aborted
    // spawn signal would do), and the plugin cannot be stopped before spawn()
    // returns anyway.
    child = await o.adapter.spawn({
      command,
      args: o.args,
      env: o.env,
      stdin: o.interactive ? "inherit" : "null",
      stderr: o.interactive ? "inherit" : "piped",
    });
  } catch (err) {
    throw spawnFailure(o, err);
  }

  let timedOut = false;
  let tooLarge = false;
  let aborted = false;
  let exited = false;
  const stop = () => {
    child.kill("SIGKILL");
  };
  const onAbort = () => {
    aborted = true;
    stop();
  };
  // The signal may have fired while the process was being started.
  if (o.signal?.aborted) onAbort();
  // No `once`: it makes addEventListener several times slower on Node, and
  // the listener is removed in any case below (onAbort is idempotent).
  else o.signal?.addEventListener("abort", onAbort);
  const timeoutMs = o.timeoutMs;
  const timer = timeoutMs !== undefined && timeoutMs > 0 &&
      Number.isFinite(timeoutMs)
    ? setTimeout(() => {
      if (exited) return;
      timedOut = true;
      stop();
    }, timeoutMs)
    : undefined;

  const stdoutReader = child.stdout.getReader();
  const stderrReader = child.stderr?.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  // Set when a stream has ended: a plugin has usually closed both by the time
  // its exit is seen, and then no grace timer is needed.
  let stdoutClosed = false;
  let stderrClosed = stderrReader === undefined;
  const stdoutDone = (async () => {
    for (;;) {
      const { done, value } = await stdoutReader.read();
      if (done) {
        stdoutClosed = true;
        return;
      }
      size += value.byteLength;
      if (size > max) {
        tooLarge = true;
        chunks.length = 0;
        stop();
        await stdoutReader.cancel().catch(() => {});
        return;
      }
      chunks.push(value);
    }
  })().catch(() => {});
  const tail = new TailBuffer(STDERR_TAIL_BYTES);
  const stderrDone = stderrReader
    ? (async () => {
      for (;;) {
        const { done, value } = await stderrReader.read();
        if (done) {
          stderrClosed = true;
          return;
        }
        tail.push(value);
        try {
          o.adapter.writeStderr(value);
        } catch {
          // The parent's stderr is gone: keep the tail anyway.
        }
      }
    })().catch(() => {})
    : Promise.resolve();

  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  let status: ExitStatus;
  try {
    status = await child.status;
    exited = true;
    // The plugin is gone; its stdout may still be held by a grandchild.
    if (stdoutClosed && stderrClosed) await stdoutDone;
    else await graceThenKill();
  } finally {
    clearTimeout(timer);
    clearTimeout(graceTimer);
    o.signal?.removeEventListener("abort", onAbort);
  }

  async function graceThenKill(): Promise<void> {
    const streamsClosed = Promise.all([stdoutDone, stderrDone]).then(() =>
      true
    );
    const graceOver = new Promise<false>((resolve) => {
      graceTimer = setTimeout(
        () => resolve(false),
        o.stdoutGraceMs ?? DEFAULT_STDOUT_GRACE_MS,
      );
    });
    if (!(await Promise.race([streamsClosed, graceOver]))) {
      child.kill("SIGKILL"); // the group: grandchildren holding the pipes
      await Promise.all([
        stdoutReader.cancel().catch(() => {}),
        stderrReader?.cancel().catch(() => {}),
      ]);
      await Promise.all([stdoutDone, stderrDone]);
    }
  }

  const stderrTail = tail.text();
  const facts = {
    command,
    ...(status.code !== null ? { exitCode: status.code } : {}),
    ...(status.signal !== null ? { signal: status.signal } : {}),
    ...(stderrTail !== "" ? { stderrTail } : {}),
  };
  if (aborted && o.signal) {
    throw o.signal.reason ?? new DOMException("aborted", "AbortError");
  }
  if (tooLarge) {
    throw new ExecPluginError(
      "EXEC_OUTPUT_TOO_LARGE",
      `exec: executable ${command} wrote more than ${
        formatBytes(max)
      } to stdout and was killed; an ExecCredential is a few KiB, so the plugin is probably printing something else to stdout (if the output is legitimate, raise the limit with the maxOutputBytes exec option)`,
      facts,
    );
  }
  if (timedOut) {
    throw new ExecPluginError(
      "EXEC_TIMEOUT",
      `exec: executable ${command} did not finish within ${
        formatMs(timeoutMs ?? 0)
      } and was killed together with its child processes; ${
        o.timeoutHint ??
          "raise the timeout with the execTimeoutMs option of createAuthedFetch (timeoutMs of the exec authenticator)"
      }${stderrSuffix(stderrTail)}`,
      facts,
    );
  }
  if (status.signal !== null) {
    throw new ExecPluginError(
      "EXEC_FAILED",
      `exec: executable ${command} failed: terminated by signal ${status.signal}${
        stderrSuffix(stderrTail)
      }`,
      facts,
    );
  }
  if (status.code !== 0) {
    throw new ExecPluginError(
      "EXEC_FAILED",
      `exec: executable ${command} failed with exit code ${status.code}${
        stderrSuffix(stderrTail)
      }`,
      facts,
    );
  }
  const stdout = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    stdout.set(c, off);
    off += c.byteLength;
  }
  return { stdout, exitCode: 0, stderrTail };
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
  const detail = err instanceof SpawnError
    ? err.message
    : "the process could not be started";
  if (err instanceof SpawnError && err.reason === "permission-denied") {
    return new ExecPluginError(
      "EXEC_FAILED",
      `exec: executable ${command} could not be started: permission denied (${detail}); make the file executable (chmod +x), or on Deno allow running it (--allow-run)`,
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
