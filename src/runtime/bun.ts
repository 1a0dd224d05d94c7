import type { RuntimeAdapter } from "./types.ts";

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
  throw new Error("not implemented yet");
}
