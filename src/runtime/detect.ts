import type { RuntimeName } from "./types.ts";

/**
 * Tells which runtime this is. Deno and Bun both pretend to be Node
 * (`process.versions.node` exists there), so Node is checked last.
 *
 * @example Usage
 * ```ts
 * import { detectRuntime } from "@kubeauth/fetch/runtime";
 * console.log(detectRuntime()); // "deno", "bun" or "node"
 * ```
 *
 * @returns The runtime's name.
 * @throws {Error} On a runtime kubeauth has no adapter for.
 */
export function detectRuntime(): RuntimeName {
  const g = globalThis as unknown as {
    Deno?: { version?: { deno?: string } };
    Bun?: { version?: string };
    process?: { versions?: { node?: string } };
  };
  if (typeof g.Deno?.version?.deno === "string") return "deno";
  if (typeof g.Bun?.version === "string") return "bun";
  if (typeof g.process?.versions?.node === "string") return "node";
  throw new Error(
    "kubeauth: unsupported runtime (needs Deno, Bun or Node.js 20+)",
  );
}
