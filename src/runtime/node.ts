import type { RuntimeAdapter } from "./types.ts";

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
  throw new Error("not implemented yet");
}
