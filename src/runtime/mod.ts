/**
 * The runtime-adapter layer: one small contract ({@linkcode RuntimeAdapter})
 * and one implementation per runtime, picked by detection (Deno, Bun, Node).
 *
 * @example Usage
 * ```ts
 * import { detectRuntime, getRuntimeAdapter } from "./mod.ts";
 * const adapter = await getRuntimeAdapter();
 * if (adapter.name !== detectRuntime()) throw new Error("wrong adapter");
 * ```
 *
 * @module
 */
import { detectRuntime } from "./detect.ts";
import type { RuntimeAdapter } from "./types.ts";

export type {
  ChildProcess,
  ExitStatus,
  RuntimeAdapter,
  RuntimeName,
  SpawnFailureReason,
  SpawnOptions,
  Transport,
  TransportOptions,
} from "./types.ts";
export { SpawnError } from "./types.ts";
export type { CacheFileSystem, FileInfo } from "./types.ts";
export type {
  StreamsSupport,
  TcpConnection,
  TcpListener,
  WebSocketOptions,
  WebSocketSupport,
} from "./types.ts";
export { detectRuntime } from "./detect.ts";

let cached: Promise<RuntimeAdapter> | undefined;

/**
 * Returns the adapter for the running runtime (created once, then shared).
 * Only the matching implementation is loaded.
 *
 * @example Usage
 * ```ts
 * import { getRuntimeAdapter } from "./mod.ts";
 * const adapter = await getRuntimeAdapter();
 * if (adapter !== await getRuntimeAdapter()) throw new Error("not shared");
 * if (typeof adapter.stdinIsTerminal() !== "boolean") throw new Error("bad");
 * ```
 *
 * @returns The runtime adapter.
 */
export function getRuntimeAdapter(): Promise<RuntimeAdapter> {
  cached ??= loadAdapter();
  return cached;
}

async function loadAdapter(): Promise<RuntimeAdapter> {
  switch (detectRuntime()) {
    case "deno":
      return (await import("./deno.ts")).createDenoAdapter();
    case "bun":
      return (await import("./bun.ts")).createBunAdapter();
    case "node":
      return (await import("./node.ts")).createNodeAdapter();
  }
}
