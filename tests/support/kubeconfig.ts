/**
 * Test helpers for the kubeconfig tests: fixture paths, a small runtime
 * adapter over `node:fs` with an injected environment, home and cwd (so a
 * test never depends on the machine's $KUBECONFIG or ~/.kube), and temp
 * directories.
 *
 * @module
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RuntimeAdapter } from "../../src/runtime/types.ts";

/** Absolute path of testdata/kubeconfig (tests run with cwd = repo root). */
export const FIXTURES: string = join(process.cwd(), "testdata", "kubeconfig");

/** A fixture path. */
export function fixture(...parts: string[]): string {
  return join(FIXTURES, ...parts);
}

/** What a {@linkcode fsAdapter} reports. */
export interface FsAdapterOptions {
  /** The environment (nothing else is visible). */
  env?: Record<string, string>;
  /** The home directory. */
  home?: string;
  /** The current directory. Default: the process's. */
  cwd?: string;
  /** The OS name. Default: linux. */
  os?: string;
  /** Counts reads per path. */
  reads?: Map<string, number>;
}

/** A runtime adapter reading files with node:fs; spawn and transports unsupported. */
export function fsAdapter(options: FsAdapterOptions = {}): RuntimeAdapter {
  const env = options.env ?? {};
  return {
    name: "node",
    os: options.os ?? "linux",
    spawn: () => Promise.reject(new Error("spawn not available in this test")),
    stdinIsTerminal: () => false,
    writeStderr: () => {},
    env: () => ({ ...env }),
    getEnv: (name) => env[name],
    readFile: async (path) => {
      options.reads?.set(path, (options.reads.get(path) ?? 0) + 1);
      return new Uint8Array(await readFile(path));
    },
    homeDir: () => options.home,
    cwd: () => options.cwd ?? process.cwd(),
    createTransport: () => {
      throw new Error("transports not available in this test");
    },
  };
}

/** A temporary directory, removed by `remove()`. */
export async function tempDir(): Promise<
  { path: string; remove: () => Promise<void> }
> {
  const path = await mkdtemp(join(tmpdir(), "kubeauth-kc-"));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Awaits a rejection and returns the error. */
export async function rejection(p: Promise<unknown>): Promise<
  Error & { code?: string; file?: string }
> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string; file?: string };
  }
  throw new Error("expected a rejection");
}
