/**
 * Kubeconfig objects hold secrets (tokens, passwords, key data, auth-provider
 * tokens, exec env values, passwords in a proxy or server URL). Parsed,
 * merged and resolved kubeconfig objects print with those values as
 * `[redacted]` through `console.log`/inspect on Deno, Bun and Node, as
 * `Credentials` do; their fields themselves (and `JSON.stringify`) are
 * unchanged, so code reading them works as before.
 *
 * @module
 */
import { INSPECT_DENO, INSPECT_NODE } from "../runtime/inspect.ts";

const REDACTED = "[redacted]";
/** Keys whose values are secrets (paths such as `tokenFile` are not). */
const SECRET_KEY =
  /^(token|password|client-key-data|clientKeyPem|id-token|refresh-token|access-token|client-secret|clientKeyData|secret)$/i;
const URL_PASSWORD = /^([a-zA-Z][a-zA-Z\d+.-]*:\/\/[^/?#:@]*):[^/?#@]*@/;

/** A copy of `value` with secrets replaced, for printing only. */
function redactedCopy(value: unknown, key: string, depth: number): unknown {
  if (typeof value === "string") {
    if (SECRET_KEY.test(key)) return REDACTED;
    return value.replace(URL_PASSWORD, `$1:${REDACTED}@`);
  }
  if (value === null || typeof value !== "object" || depth > 64) return value;
  if (Array.isArray(value)) {
    if (key === "args") return value.length === 0 ? [] : [REDACTED];
    return value.map((v) => redactedCopy(v, key, depth + 1));
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (key === "env" && k === "value") out[k] = REDACTED;
    else if (key === "auth-provider" && k === "config" && v !== null) {
      out[k] = Object.fromEntries(
        Object.keys(v as object).map((name) => [name, REDACTED]),
      );
    } else out[k] = redactedCopy(v, k, depth + 1);
  }
  return out;
}

/**
 * Makes `obj` print redacted through `console.log`/inspect (Deno, Bun,
 * Node). Adds two non-enumerable symbol properties; returns `obj` itself.
 *
 * @example Usage
 * ```ts
 * import { withRedactedInspect } from "./redact.ts";
 * import { INSPECT_NODE } from "../runtime/inspect.ts";
 * const user = withRedactedInspect({ name: "u", token: "SEKRIT", exec: { env: [{ name: "A", value: "SEKRIT" }] } });
 * if (user.token !== "SEKRIT") throw new Error("not as shown");
 * // What console.log shows (Node and Bun call this; Deno its own symbol).
 * const shown = (user as unknown as Record<symbol, () => unknown>)[INSPECT_NODE]();
 * if (JSON.stringify(shown).includes("SEKRIT")) throw new Error("not as shown");
 * if (!JSON.stringify(user).includes("SEKRIT")) throw new Error("not as shown");
 * ```
 *
 * @typeParam T The object's type.
 * @param obj A kubeconfig, context or user object.
 * @returns `obj`.
 */
export function withRedactedInspect<T extends object>(obj: T): T {
  const node = function (this: T): unknown {
    return redactedCopy(this, "", 0);
  };
  const deno = function (
    this: T,
    inspect: (value: unknown, options?: unknown) => string,
    options?: unknown,
  ): string {
    return inspect(redactedCopy(this, "", 0), options);
  };
  Object.defineProperty(obj, INSPECT_NODE, { value: node, configurable: true });
  Object.defineProperty(obj, INSPECT_DENO, { value: deno, configurable: true });
  return obj;
}
