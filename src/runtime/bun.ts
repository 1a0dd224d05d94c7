/**
 * The Bun adapter: `Bun.spawn` for processes, `Bun.FetchSession` for TLS
 * transports.
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import process from "node:process";
import { KubeauthError } from "../errors.ts";
import { resolveCommand } from "./command_path.ts";
import {
  isTerminal,
  probeExecutable,
  spawnErrorFromCode,
} from "./node_common.ts";
import { nodeCacheFiles } from "./node_files.ts";
import { createTrackedTransport } from "./tracked_transport.ts";
import type {
  ChildProcess,
  ExitStatus,
  RuntimeAdapter,
  SpawnOptions,
  Transport,
  TransportOptions,
} from "./types.ts";
import { openBunWebSocket } from "./websocket_bun.ts";
import { writeBunStdio } from "./bun_stdio.ts";
import { createNodeStreamsSupport } from "./streams_node.ts";

interface BunSubprocess {
  readonly pid: number;
  readonly stdout: ReadableStream<Uint8Array>;
  readonly stderr: ReadableStream<Uint8Array> | undefined;
  readonly exited: Promise<number>;
  readonly exitCode: number | null;
  readonly signalCode: string | null;
  kill(signal?: string): void;
  unref(): void;
}

interface BunFetchSession {
  fetch(url: string, init: RequestInit): Promise<Response>;
  close(): void | Promise<void>;
}

interface BunTlsOptions {
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized?: boolean;
  serverName?: string;
}

interface BunLike {
  spawn(cmd: string[], options: {
    cwd?: string;
    env: Record<string, string>;
    stdin: "inherit" | "ignore";
    stdout: "pipe";
    stderr: "inherit" | "pipe";
    detached: boolean;
  }): BunSubprocess;
  FetchSession?: new (options: {
    tls?: BunTlsOptions;
    proxy?: string;
    keepAlive?: boolean;
  }) => BunFetchSession;
}

function bun(): BunLike {
  return (globalThis as unknown as { Bun: BunLike }).Bun;
}

/**
 * Creates the Bun runtime adapter.
 *
 * @example Usage
 * ```ts ignore
 * import { createBunAdapter } from "./bun.ts";
 * const adapter = createBunAdapter();
 * ```
 *
 * @returns The adapter.
 */
export function createBunAdapter(): RuntimeAdapter {
  const B = bun();
  const os = process.platform === "win32" ? "windows" : process.platform;
  return {
    name: "bun",
    os,
    spawn: (options) => Promise.resolve().then(() => spawnBun(B, os, options)),
    stdinIsTerminal: () => isTerminal(0),
    writeStderr(chunk) {
      void writeBunStdio("stderr", chunk).catch(() => {});
    },
    env: () => ({ ...process.env }) as Record<string, string>,
    getEnv: (name) => process.env[name],
    readFile: (path) => readFile(path),
    homeDir: () => homedir() || undefined,
    cwd: () => process.cwd(),
    createTransport: (options) => createBunTransport(B, options),
    cacheFiles: nodeCacheFiles(os),
    openWebSocket: openBunWebSocket,
    streams: createNodeStreamsSupport(),
  };
}

function spawnBun(
  B: BunLike,
  os: string,
  options: SpawnOptions,
): ChildProcess {
  let child: BunSubprocess;
  try {
    const path = resolveCommand(options.command, options.env, options.cwd, {
      os,
      cwd: process.cwd(),
      probe: probeExecutable,
    });
    child = B.spawn([path, ...options.args], {
      cwd: options.cwd,
      env: { ...options.env },
      stdin: options.stdin === "null" ? "ignore" : "inherit",
      stdout: "pipe",
      stderr: options.stderr === "piped" ? "pipe" : "inherit",
      // setsid(): the child leads its own process group.
      detached: os !== "windows",
    });
  } catch (err) {
    throw spawnErrorFromCode(options.command, err);
  }
  let exited = false;
  const signal = options.signal;
  const onAbort = () => kill("SIGKILL");
  const status: Promise<ExitStatus> = child.exited.then((code) => {
    exited = true;
    signal?.removeEventListener("abort", onAbort);
    return child.signalCode !== null
      ? { code: null, signal: child.signalCode }
      : { code: child.exitCode ?? code, signal: null };
  });
  function kill(sig: "SIGTERM" | "SIGKILL" = "SIGTERM"): void {
    if (os !== "windows") {
      try {
        process.kill(-child.pid, sig);
        return;
      } catch {
        // No group left: fall through.
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
    stderr: options.stderr === "piped" ? child.stderr ?? null : null,
    status,
    kill,
  };
}

function createBunTransport(
  B: BunLike,
  options: TransportOptions,
): Transport {
  const FetchSession = B.FetchSession;
  if (FetchSession === undefined) {
    throw new KubeauthError(
      "UNSUPPORTED",
      "this Bun has no Bun.FetchSession, which kubeauth needs to close the connections of a rotated client certificate; upgrade Bun to 1.4 or later",
    );
  }
  if (options.cert !== undefined && options.key === undefined) {
    throw new KubeauthError(
      "CERT_INVALID",
      "a client certificate was given without its private key",
    );
  }
  // Bun keeps one process-wide TLS session cache keyed by the TLS
  // configuration (certificate and key included), not per FetchSession:
  // two transports with the very same certificate may resume each other's
  // sessions (same identity, so harmless), and a transport with another
  // certificate never does. No option turns this off (measured with Bun
  // 1.4.5: sessionIdContext, sessionTimeout and SSL_OP_NO_TICKET don't).
  const tls: BunTlsOptions = {};
  if (options.ca !== undefined) tls.ca = options.ca;
  if (options.cert !== undefined && options.key !== undefined) {
    tls.cert = options.cert;
    tls.key = options.key;
  }
  if (options.insecureSkipVerify) tls.rejectUnauthorized = false;
  if (options.serverName !== undefined) tls.serverName = options.serverName;
  const session = new FetchSession({
    tls,
    ...(options.proxy !== undefined ? { proxy: options.proxy } : {}),
  });
  const close = async () => {
    await session.close();
  };
  return createTrackedTransport({
    fetch: (url, init, signal) =>
      session.fetch(url, signal === undefined ? init : { ...init, signal }),
    // The first close() closes idle connections; connections busy at that
    // moment return to the pool when their request ends, so a second
    // close() after the drain is needed.
    close,
    closeDrained: close,
    destroy: close,
    // close() does not abort requests in flight: one signal of the
    // transport's does (no build-up measured over 100k requests).
    abort: "shared",
  });
}
