/**
 * The runtime-adapter layer: one small contract ({@linkcode RuntimeAdapter})
 * and one implementation per runtime, picked by detection (Deno, Bun, Node).
 *
 * @example Usage
 * ```ts ignore
 * import { getRuntimeAdapter } from "@kubeauth/fetch/runtime";
 * const adapter = await getRuntimeAdapter();
 * console.log(adapter.name);
 * ```
 *
 * @module
 */
import { detectRuntime } from "./detect.ts";
import type { RuntimeAdapter } from "./types.ts";

export * from "./types.ts";
export { detectRuntime } from "./detect.ts";

let cached: Promise<RuntimeAdapter> | undefined;

/**
 * Returns the adapter for the running runtime (created once, then shared).
 * Only the matching implementation is loaded.
 *
 * @example Usage
 * ```ts ignore
 * import { getRuntimeAdapter } from "@kubeauth/fetch/runtime";
 * const adapter = await getRuntimeAdapter();
 * console.log(adapter.stdinIsTerminal());
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
