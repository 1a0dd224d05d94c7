/**
 * The Deno adapter: `Deno.Command` for processes; for TLS transports a
 * `node:https` pool ({@link ./https_pool.ts}, loaded on first use) when the
 * cluster has a CA, `tls-server-name` or `insecure-skip-tls-verify`, else
 * `Deno.createHttpClient` (the system's roots). `Deno.createHttpClient` adds
 * `caCerts` to Deno's root store instead of replacing it, so with it a
 * certificate from any root Deno trusts would pass where kubectl trusts the
 * kubeconfig's CA alone; it cannot set a server name or skip verification
 * per client either.
 *
 * @module
 */
import { KubeauthError } from "../errors.ts";
import { resolveCommand } from "./command_path.ts";
import type { FileKind } from "./command_path.ts";
import { createTrackedTransport } from "./tracked_transport.ts";
import type { NativePool } from "./tracked_transport.ts";
import { denoCacheFiles } from "./deno_files.ts";
import { SpawnError } from "./types.ts";
import type {
  ChildProcess,
  ExitStatus,
  RuntimeAdapter,
  SpawnOptions,
  Transport,
  TransportOptions,
} from "./types.ts";
import { openDenoWebSocket } from "./websocket_deno.ts";
import { createDenoStreamsSupport } from "./streams_deno.ts";

interface DenoChild {
  readonly pid: number;
  readonly stdout: ReadableStream<Uint8Array>;
  readonly stderr: ReadableStream<Uint8Array>;
  readonly status: Promise<{ code: number; signal: string | null }>;
  kill(signo?: string): void;
  unref(): void;
}

interface DenoHttpClient {
  close(): void;
}

interface DenoLike {
  build: { os: string };
  version: { deno: string };
  errors: Record<string, new (...args: never[]) => Error>;
  Command: new (command: string, options: {
    args: string[];
    env: Record<string, string>;
    clearEnv: boolean;
    cwd?: string;
    stdin: "inherit" | "null";
    stdout: "piped";
    stderr: "inherit" | "piped";
    detached: boolean;
  }) => { spawn(): DenoChild };
  kill(pid: number, signo: string): void;
  env: {
    toObject(): Record<string, string>;
    get(name: string): string | undefined;
  };
  statSync(path: string): {
    isFile: boolean;
    isDirectory: boolean;
    mode: number | null;
  };
  readFile(path: string): Promise<Uint8Array>;
  stdin: { isTerminal(): boolean };
  stderr: { writeSync(p: Uint8Array): number };
  cwd(): string;
  createHttpClient(options: {
    caCerts?: string[];
    cert?: string;
    key?: string;
    proxy?: { url: string };
  }): DenoHttpClient;
}

function deno(): DenoLike {
  return (globalThis as unknown as { Deno: DenoLike }).Deno;
}

/**
 * Creates the Deno runtime adapter.
 *
 * @example Usage
 * ```ts
 * import { createDenoAdapter } from "./deno.ts";
 * const adapter = createDenoAdapter();
 * if (adapter.name !== "deno") throw new Error(adapter.name);
 * ```
 *
 * @returns The adapter.
 */
export function createDenoAdapter(): RuntimeAdapter {
  const D = deno();
  return {
    name: "deno",
    os: D.build.os,
    spawn: (options) => Promise.resolve().then(() => spawnDeno(D, options)),
    stdinIsTerminal: () => D.stdin.isTerminal(),
    writeStderr(chunk) {
      let rest = chunk;
      while (rest.length > 0) rest = rest.subarray(D.stderr.writeSync(rest));
    },
    env: () => D.env.toObject(),
    getEnv(name) {
      try {
        return D.env.get(name);
      } catch {
        return undefined; // no --allow-env for this name
      }
    },
    readFile: (path) => D.readFile(path),
    homeDir() {
      const env = (name: string) => {
        try {
          return D.env.get(name);
        } catch {
          return undefined;
        }
      };
      const home = D.build.os === "windows"
        ? env("USERPROFILE") ?? env("HOME")
        : env("HOME");
      return home === "" ? undefined : home;
    },
    cwd: () => D.cwd(),
    createTransport: (options) => createDenoTransport(D, options),
    cacheFiles: denoCacheFiles(),
    openWebSocket: openDenoWebSocket,
    streams: createDenoStreamsSupport(),
  };
}

function probe(D: DenoLike, path: string): FileKind {
  try {
    const st = D.statSync(path);
    if (st.isDirectory) return "directory";
    if (!st.isFile) return "missing";
    if (D.build.os === "windows" || st.mode === null) return "executable";
    return (st.mode & 0o111) !== 0 ? "executable" : "not-executable";
  } catch (err) {
    if (err instanceof D.errors.NotCapable) throw err;
    return "missing";
  }
}

function classify(D: DenoLike, command: string, err: unknown): SpawnError {
  if (err instanceof SpawnError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof D.errors.NotFound) {
    return new SpawnError("not-found", command, message, err);
  }
  if (
    err instanceof D.errors.PermissionDenied ||
    err instanceof D.errors.NotCapable
  ) {
    return new SpawnError("permission-denied", command, message, err);
  }
  return new SpawnError("other", command, message, err);
}

function spawnDeno(D: DenoLike, options: SpawnOptions): ChildProcess {
  let child: DenoChild;
  try {
    let path: string;
    try {
      path = resolveCommand(options.command, options.env, options.cwd, {
        os: D.build.os,
        cwd: D.cwd(),
        probe: (p) => probe(D, p),
      });
    } catch (err) {
      // Without read permission on PATH, let Deno resolve the name itself
      // (a narrow --allow-run=NAME grant still works that way).
      if (!(err instanceof D.errors.NotCapable)) throw err;
      path = options.command;
    }
    child = new D.Command(path, {
      args: [...options.args],
      env: { ...options.env },
      clearEnv: true,
      cwd: options.cwd,
      stdin: options.stdin,
      stdout: "piped",
      stderr: options.stderr,
      // Makes the child a session (and process group) leader, so kill()
      // reaches grandchildren too.
      detached: D.build.os !== "windows",
    }).spawn();
  } catch (err) {
    throw classify(D, options.command, err);
  }
  let exited = false;
  const signal = options.signal;
  const onAbort = () => kill("SIGKILL");
  const status: Promise<ExitStatus> = child.status.then(
    (s) => {
      exited = true;
      signal?.removeEventListener("abort", onAbort);
      return s.signal !== null
        ? { code: null, signal: s.signal }
        : { code: s.code, signal: null };
    },
  );
  function kill(sig: "SIGTERM" | "SIGKILL" = "SIGTERM"): void {
    if (D.build.os !== "windows") {
      try {
        // The whole group: the child (if still there) and its descendants.
        D.kill(-child.pid, sig);
        return;
      } catch {
        // No group left (everyone exited): fall through.
      }
    }
    if (exited) return;
    try {
      child.kill(sig);
    } catch {
      // Already gone.
    }
  }
  if (signal !== undefined) {
    if (signal.aborted) kill("SIGKILL");
    else signal.addEventListener("abort", onAbort, { once: true });
  }
  return {
    pid: child.pid,
    stdout: child.stdout,
    stderr: options.stderr === "piped" ? child.stderr : null,
    status,
    kill,
  };
}

function createDenoTransport(
  D: DenoLike,
  options: TransportOptions,
): Transport {
  if (options.cert !== undefined && options.key === undefined) {
    throw new KubeauthError(
      "CERT_INVALID",
      "a client certificate was given without its private key",
    );
  }
  // See the module doc: only node:https trusts a given CA alone.
  if (
    options.insecureSkipVerify || options.serverName !== undefined ||
    options.ca !== undefined
  ) {
    return createTrackedTransport(lazyHttpsPool(D, options));
  }
  // The system's roots: no CA here (see the module doc).
  const client = D.createHttpClient({
    ...(options.cert !== undefined && options.key !== undefined
      ? { cert: options.cert, key: options.key }
      : {}),
    ...(options.proxy !== undefined ? { proxy: { url: options.proxy } } : {}),
  });
  let clientClosed = false;
  const closeClient = () => {
    // A second HttpClient.close() throws BadResource.
    if (!clientClosed) {
      clientClosed = true;
      client.close();
    }
    return Promise.resolve();
  };
  return createTrackedTransport({
    // One spread: the client and the request's signal join the init.
    fetch: (url, init, signal) =>
      fetch(
        url,
        (signal === undefined
          ? { ...init, client }
          : { ...init, client, signal }) as RequestInit,
      ),
    // Deno closes idle sockets at once and busy ones when their response
    // ends, so one close at retirement is enough.
    close: closeClient,
    closeDrained: () => Promise.resolve(),
    // Closing the client does not abort requests in flight: the tracked
    // transport aborts them through their signals, one per request: Deno
    // makes each fetch's signal a dependent of the one given, recorded by
    // weak reference in the given signal until a GC prunes it, so one
    // long-lived shared signal measured slower than a fresh controller per
    // request.
    destroy: closeClient,
    abort: "per-request",
  });
}

/**
 * The `node:https` pool of a transport, imported on its first request (an
 * import costs ~30 ms). Measured with Deno 2.9.6: sequential requests at
 * ~0.6x the rate of `Deno.createHttpClient` (bench row 1).
 */
function lazyHttpsPool(D: DenoLike, options: TransportOptions): NativePool {
  let pool: Promise<NativePool> | undefined;
  let destroyed = false;
  const load = () =>
    pool ??= import("./https_pool.ts").then((m) =>
      m.createHttpsPool(options, `Deno/${D.version.deno}`)
    );
  const whenLoaded = (step: (p: NativePool) => Promise<void>) => () =>
    pool === undefined ? Promise.resolve() : pool.then(step);
  return {
    fetch: (url, init, signal) =>
      load().then((p) => {
        // A destroy() while the module loaded: this request must not start.
        if (destroyed) throw new Error("the transport was destroyed");
        return p.fetch(url, init, signal);
      }),
    close: whenLoaded((p) => p.close()),
    closeDrained: whenLoaded((p) => p.closeDrained()),
    destroy: () => {
      destroyed = true;
      return whenLoaded((p) => p.destroy())();
    },
    abort: "pool",
  };
}
