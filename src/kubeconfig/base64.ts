/**
 * Strict standard base64 decoding for kubeconfig `-data` fields, as Go's
 * `encoding/json` decodes `[]byte`: the standard alphabet with `=` padding;
 * line breaks (`\r`, `\n`) are ignored, anything else fails.
 *
 * @module
 */

const ALPHABET =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const LOOKUP: Record<string, number> = Object.fromEntries(
  [...ALPHABET].map((ch, i) => [ch, i]),
);

/**
 * Decodes standard, padded base64. Returns `null` (never throws, never
 * echoes the input) when the text is not valid base64, so callers can name
 * the field without quoting a secret.
 *
 * @example Usage
 * ```ts
 * import { decodeBase64 } from "./base64.ts";
 * console.assert(new TextDecoder().decode(decodeBase64("aGVsbG8=")!) === "hello");
 * console.assert(decodeBase64("not base64!") === null);
 * ```
 *
 * @param text The base64 text.
 * @returns The bytes, or `null` when invalid.
 */
export function decodeBase64(text: string): Uint8Array | null {
  const s = text.replace(/[\r\n]/g, "");
  if (s.length % 4 !== 0) return null;
  let pad = 0;
  if (s.endsWith("==")) pad = 2;
  else if (s.endsWith("=")) pad = 1;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    const last = i + 4 === s.length;
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const ch = s[i + j];
      let v: number | undefined;
      if (ch === "=" && last && j >= 4 - pad) v = 0;
      else v = LOOKUP[ch];
      if (v === undefined) return null;
      n = (n << 6) | v;
    }
    const bytes = last ? 3 - pad : 3;
    if (bytes > 0) out[o++] = (n >> 16) & 0xff;
    if (bytes > 1) out[o++] = (n >> 8) & 0xff;
    if (bytes > 2) out[o++] = n & 0xff;
  }
  return out;
}
