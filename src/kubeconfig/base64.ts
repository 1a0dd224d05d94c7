/**
 * Strict standard base64 decoding for kubeconfig `-data` fields, as Go's
 * `encoding/json` decodes `[]byte`: the standard alphabet with `=` padding;
 * line breaks (`\r`, `\n`) are ignored, anything else fails.
 *
 * @module
 */
import { decodeBase64 as decodeLoose } from "../tls/base64.ts";

const STRICT =
  /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

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
  if (!STRICT.test(s)) return null;
  return decodeLoose(s) ?? null;
}
