/**
 * Masks what looks like a secret in a plugin's stderr before it is kept in
 * an error (`stderrTail`, the message): PEM private-key blocks (also one cut
 * in half by the tail), JWT-shaped strings, `Bearer …`/`Basic …` values and
 * the values of token, password and secret fields. Everything else (the
 * plugin's diagnostics) stays as it was.
 *
 * @module
 */

const MASK = "[redacted]";

const PEM_BLOCK =
  /-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----[\s\S]*?(?:-----END \1-----|$)/g;
/** A block whose BEGIN line was cut off by the tail. */
const PEM_TAIL = /^[\s\S]*?-----END ([A-Z0-9 ]*PRIVATE KEY)-----/;
const JWT = /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
const AUTH_SCHEME = /\b(Bearer|Basic)(\s+)[A-Za-z0-9\-._~+/]+=*/gi;
const SECRET_FIELD =
  /(["']?[A-Za-z0-9_.-]*(?:token|password|passwd|passphrase|secret|client-key-data|clientKeyData|api[-_]?key)["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s,;&}\]]+)/gi;

/**
 * `text` with secret-looking parts replaced by `[redacted]`.
 *
 * @example Usage
 * ```ts
 * import { maskSecrets } from "./mask_secrets.ts";
 * const masked = maskSecrets('login failed: {"token": "abc123"} Authorization: Bearer xyz');
 * if (!(!masked.includes("abc123") && !masked.includes("xyz"))) throw new Error("not as shown");
 * if (maskSecrets("connection refused") !== "connection refused") throw new Error("not as shown");
 * ```
 *
 * @param text A plugin's stderr (tail).
 * @returns The masked text.
 */
export function maskSecrets(text: string): string {
  let out = text;
  if (out.includes("PRIVATE KEY-----")) {
    const end = PEM_TAIL.exec(out);
    if (end !== null && !end[0].includes("-----BEGIN ")) {
      out = `${MASK}\n-----END ${end[1]}-----` + out.slice(end[0].length);
    }
    out = out.replace(
      PEM_BLOCK,
      (_m, label: string) =>
        `-----BEGIN ${label}-----\n${MASK}\n-----END ${label}-----`,
    );
  }
  return out
    .replace(JWT, MASK)
    .replace(
      AUTH_SCHEME,
      (_m, scheme: string, gap: string) => `${scheme}${gap}${MASK}`,
    )
    .replace(SECRET_FIELD, (_m, field: string) => field + MASK);
}
