/**
 * The symbols each runtime's `console.log`/inspect calls for a custom view
 * of an object: Node's and Bun's `nodejs.util.inspect.custom`, Deno's
 * `Deno.customInspect`. Objects that hold secrets implement both.
 *
 * @module
 */

/**
 * The custom-inspect symbol of Node and Bun.
 *
 * @example Usage
 * ```ts
 * import { INSPECT_NODE } from "./inspect.ts";
 * class Secret { [INSPECT_NODE]() { return "Secret [redacted]"; } }
 * if (new Secret()[INSPECT_NODE]() !== "Secret [redacted]") throw new Error();
 * if (INSPECT_NODE !== Symbol.for("nodejs.util.inspect.custom")) throw new Error();
 * ```
 */
export const INSPECT_NODE: unique symbol = Symbol.for(
  "nodejs.util.inspect.custom",
) as never;

/**
 * The custom-inspect symbol of Deno.
 *
 * @example Usage
 * ```ts
 * import { INSPECT_DENO } from "./inspect.ts";
 * class Secret { [INSPECT_DENO]() { return "Secret [redacted]"; } }
 * if (new Secret()[INSPECT_DENO]() !== "Secret [redacted]") throw new Error();
 * ```
 */
export const INSPECT_DENO: unique symbol = Symbol.for(
  "Deno.customInspect",
) as never;
