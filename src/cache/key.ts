/**
 * The cache key: a SHA-256 over everything that determines the credential a
 * plugin returns, so two kubeconfigs whose users share a name never share an
 * entry, and a file name reveals nothing.
 *
 * @module
 */
import type { ExecRunIdentity } from "../exec/run_cache.ts";
import { sha256 } from "../tls/sha256.ts";
import { toHex } from "../tls/base64.ts";

/**
 * Environment variables left out of the key: they differ between shells
 * and terminals of the same user without changing what a plugin returns.
 * Neither are `npm_*` variables (set by npm/npx). Everything else in the
 * plugin's environment (AWS_PROFILE, HOME, PATH…) is part of the key.
 */
export const VOLATILE_ENV: ReadonlySet<string> = new Set([
  "_",
  "PWD",
  "OLDPWD",
  "SHLVL",
  "COLUMNS",
  "LINES",
  "TERM",
  "TERM_PROGRAM",
  "TERM_PROGRAM_VERSION",
  "TERM_SESSION_ID",
  "WINDOWID",
  "KUBERNETES_EXEC_INFO",
  "INIT_CWD",
  "COLOR",
]);

/** Prefixes of volatile variables (set by launchers such as npm/npx). */
const VOLATILE_PREFIXES = ["npm_"];

function volatile(name: string): boolean {
  return VOLATILE_ENV.has(name) ||
    VOLATILE_PREFIXES.some((p) => name.startsWith(p));
}

function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${
      Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) =>
        `${JSON.stringify(k)}:${stable(o[k])}`
      ).join(",")
    }}`;
  }
  return JSON.stringify(v) ?? "null";
}

/** The request without `spec.interactive` and `spec.response`. */
function requestIdentity(request: unknown): unknown {
  if (request === null || typeof request !== "object") return request ?? null;
  const r = request as Record<string, unknown>;
  const spec = r.spec;
  if (spec === null || typeof spec !== "object") return r;
  const { interactive: _i, response: _r, ...rest } = spec as Record<
    string,
    unknown
  >;
  return { ...r, spec: rest };
}

/**
 * The hex SHA-256 key of an identity.
 *
 * @example Same plugin, other profile: another key
 * ```ts
 * import { cacheKey } from "./key.ts";
 * const base = { command: "/usr/bin/aws", args: ["eks", "get-token"], request: {} };
 * const a = cacheKey({ ...base, env: { AWS_PROFILE: "dev", PWD: "/a" } });
 * const b = cacheKey({ ...base, env: { AWS_PROFILE: "prod", PWD: "/a" } });
 * const c = cacheKey({ ...base, env: { AWS_PROFILE: "dev", PWD: "/b" } });
 * if (!(a !== b && a === c && /^[0-9a-f]{64}$/.test(a))) throw new Error("not as shown");
 * ```
 *
 * @param identity What determines the credential; `command` should be the
 *   path that is executed (see {@linkcode RuntimeAdapter.resolveCommandPath}).
 * @returns 64 hex digits.
 */
export function cacheKey(identity: ExecRunIdentity): string {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(identity.env)) {
    if (!volatile(k)) env[k] = v;
  }
  const material = stable({
    v: 1,
    command: identity.command,
    args: identity.args,
    env,
    request: requestIdentity(identity.request),
  });
  return toHex(sha256(new TextEncoder().encode(material)));
}
