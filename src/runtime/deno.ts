import type { RuntimeAdapter } from "./types.ts";

/**
 * Creates the Deno runtime adapter.
 *
 * @example Usage
 * ```ts ignore
 * import { createDenoAdapter } from "./deno.ts";
 * const adapter = createDenoAdapter();
 * ```
 *
 * @returns The adapter.
 */
export function createDenoAdapter(): RuntimeAdapter {
  throw new Error("not implemented yet");
}
