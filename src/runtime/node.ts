/**
 * The Node adapter: `node:child_process` for processes, a keep-alive
 * `node:https` agent per transport for TLS ({@link ./https_pool.ts}), whose
 * answers are light `Response`s ({@link ./node_response.ts}). Neither undici
 * nor Node's fetch is loaded: both cost more per request than `node:https`
 * (see the pool's measurements), and loading npm undici took ~190 ms of the
 * CLI's start.
 *
 * @module
 */
import { spawn as nodeSpawn } from "node:child_process";
import type { ChildProcess as NodeChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import process from "node:process";
import type { Readable } from "node:stream";
import { isatty } from "node:tty";
import { KubeauthError } from "../errors.ts";
import { resolveCommand } from "./command_path.ts";
import { probeExecutable, spawnErrorFromCode } from "./node_common.ts";
import { createHttpsPool } from "./https_pool.ts";
import { nodeCacheFiles } from "./node_files.ts";
import { createTrackedTransport } from "./tracked_transport.ts";
import { createNodeStreamsSupport } from "./streams_node.ts";
import type {
  ChildProcess,
  ExitStatus,
  RuntimeAdapter,
  SpawnOptions,
  Transport,
  TransportOptions,
} from "./types.ts";

/**
 * Creates the Node runtime adapter.
 *
 * @example Usage
 * ```ts ignore
 * import { createNodeAdapter } from "./node.ts";
 * const adapter = createNodeAdapter();
 * ```
 *
 * @returns The adapter.
 */
export function createNodeAdapter(): RuntimeAdapter {
  const os = process.platform === "win32" ? "windows" : process.platform;
  return {
    name: "node",
    os,
    spawn: (options) => spawnNode(os, options),
    stdinIsTerminal: () => isatty(0),
    writeStderr(chunk) {
      process.stderr.write(chunk);
    },
    env: () => ({ ...process.env }) as Record<string, string>,
    getEnv: (name) => process.env[name],
    readFile: (path) => readFile(path),
    homeDir: () => homedir() || undefined,
    cwd: () => process.cwd(),
    createTransport: createNodeTransport,
    cacheFiles: nodeCacheFiles(os),
    // undici (its WebSocket client) loads on first use only: ~190 ms of start-up.
    openWebSocket: async (url, tls, options) =>
      (await import("./websocket_node.ts")).openNodeWebSocket(
        url,
        tls,
        options,
      ),
    streams: createNodeStreamsSupport(),
  };
}

function spawnNode(os: string, options: SpawnOptions): Promise<ChildProcess> {
  let child: NodeChildProcess;
  try {
    const path = resolveCommand(options.command, options.env, options.cwd, {
      os,
      cwd: process.cwd(),
      probe: probeExecutable,
    });
    child = nodeSpawn(path, [...options.args], {
      cwd: options.cwd,
      env: { ...options.env },
      stdio: [
        options.stdin === "null" ? "ignore" : "inherit",
        "pipe",
        options.stderr === "piped" ? "pipe" : "inherit",
      ],
      // setsid(): the child leads its own process group.
      detached: os !== "windows",
      windowsHide: true,
    });
  } catch (err) {
    return Promise.reject(spawnErrorFromCode(options.command, err));
  }
  // Node reports a failed exec asynchronously: wait for `spawn` or `error`.
  return new Promise<ChildProcess>((resolve, reject) => {
    const onError = (err: Error) => {
      child.off("spawn", onSpawn);
      reject(spawnErrorFromCode(options.command, err));
    };
    const onSpawn = () => {
      child.off("error", onError);
      resolve(wrapChild(child, os, options.signal));
    };
    child.once("error", onError);
    child.once("spawn", onSpawn);
  });
}

function wrapChild(
  child: NodeChildProcess,
  os: string,
  signal: AbortSignal | undefined,
): ChildProcess {
  const pid = child.pid as number;
  let exited = false;
  const onAbort = () => kill("SIGKILL");
  const status = new Promise<ExitStatus>((resolve) => {
    child.once("exit", (code, sig) => {
      exited = true;
      signal?.removeEventListener("abort", onAbort);
      resolve(
        sig !== null ? { code: null, signal: sig } : { code, signal: null },
      );
    });
  });
  // Errors after a successful spawn (e.g. a failed kill) must not crash.
  child.on("error", () => {});
  function kill(sig: "SIGTERM" | "SIGKILL" = "SIGTERM"): void {
    if (os !== "windows") {
      try {
        process.kill(-pid, sig);
        return;
      } catch {
        // No group left: fall through.
      }
    }
    if (!exited) child.kill(sig);
  }
  if (signal !== undefined) {
    if (signal.aborted) kill("SIGKILL");
    else signal.addEventListener("abort", onAbort, { once: true });
  }
  return {
    pid,
    stdout: readableToWeb(child.stdout as Readable),
    stderr: child.stderr === null ? null : readableToWeb(child.stderr),
    status,
    kill,
  };
}

/**
 * A byte stream over a Node readable that reads only while the consumer
 * pulls (so an unread pipe neither buffers without bound nor keeps the event
 * loop alive), and destroys the readable when cancelled.
 */
function readableToWeb(readable: Readable): ReadableStream<Uint8Array> {
  let attached = false;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (!attached) {
        attached = true;
        readable.on("data", (chunk: Uint8Array) => {
          controller.enqueue(
            new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength),
          );
          if ((controller.desiredSize ?? 0) <= 0) readable.pause();
        });
        readable.once("end", () => controller.close());
        readable.once("error", (err) => controller.error(err));
      }
      readable.resume();
    },
    cancel() {
      readable.destroy();
    },
  }, {
    highWaterMark: 65536,
    size: (chunk) => chunk.byteLength,
  });
}

function createNodeTransport(options: TransportOptions): Transport {
  if (options.cert !== undefined && options.key === undefined) {
    throw new KubeauthError(
      "CERT_INVALID",
      "a client certificate was given without its private key",
    );
  }
  return createTrackedTransport(createHttpsPool(options, "node", true));
}
