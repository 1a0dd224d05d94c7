/**
 * Base64, base64url and hex helpers over `atob`/`btoa` (present on Deno, Bun
 * and Node), safe for large inputs.
 *
 * @module
 */

/**
 * Standard base64 (with padding) of bytes.
 *
 * @example Usage
 * ```ts
 * import { encodeBase64 } from "./base64.ts";
 * const text = encodeBase64(new TextEncoder().encode("baz"));
 * if (text !== "YmF6") throw new Error(text);
 * ```
 *
 * @param bytes The bytes.
 * @returns The base64 text.
 */
export function encodeBase64(bytes: Uint8Array): string {
  let out = "";
  // Multiple of 3 so chunks concatenate without inner padding.
  const CHUNK = 0x6000 * 3;
  for (let i = 0; i < bytes.length; i += CHUNK) {
    const part = bytes.subarray(i, i + CHUNK);
    let bin = "";
    for (let j = 0; j < part.length; j += 0x2000) {
      bin += String.fromCharCode(...part.subarray(j, j + 0x2000));
    }
    out += btoa(bin);
  }
  return out;
}

/**
 * Decodes base64 (whitespace ignored, padding optional).
 *
 * @example Usage
 * ```ts
 * import { decodeBase64 } from "./base64.ts";
 * const bytes = decodeBase64("Ym F6\n");
 * if (new TextDecoder().decode(bytes) !== "baz") throw new Error("not baz");
 * if (decodeBase64("!") !== undefined) throw new Error("accepted junk");
 * ```
 *
 * @param text The base64 text.
 * @returns The bytes, or `undefined` when the text is not base64.
 */
export function decodeBase64(text: string): Uint8Array | undefined {
  let bin: string;
  try {
    bin = atob(text.replace(/[\t\n\f\r ]+/g, ""));
  } catch {
    return undefined;
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const STRICT_BASE64 =
  /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Strict standard base64, as Go's `encoding/json` decodes `[]byte` (the
 * kubeconfig `-data` fields): the standard alphabet with `=` padding; line
 * breaks (`\r`, `\n`) are ignored, anything else fails. Returns `null`
 * (never throws, never echoes the input) so callers can name the field
 * without quoting a secret.
 *
 * @example Usage
 * ```ts
 * import { decodeBase64Strict } from "./base64.ts";
 * const bytes = decodeBase64Strict("aGVs\nbG8=");
 * if (bytes === null || new TextDecoder().decode(bytes) !== "hello") {
 *   throw new Error("expected hello");
 * }
 * if (decodeBase64Strict("aGVsbG8") !== null) throw new Error("unpadded accepted");
 * ```
 *
 * @param text The base64 text.
 * @returns The bytes, or `null` when invalid.
 */
export function decodeBase64Strict(text: string): Uint8Array | null {
  const s = text.replace(/[\r\n]/g, "");
  if (!STRICT_BASE64.test(s)) return null;
  return decodeBase64(s) ?? null;
}

/**
 * Unpadded base64url (the JWK encoding) of bytes.
 *
 * @example Usage
 * ```ts
 * import { encodeBase64Url } from "./base64.ts";
 * const text = encodeBase64Url(new Uint8Array([251, 255]));
 * if (text !== "-_8") throw new Error(text);
 * ```
 *
 * @param bytes The bytes.
 * @returns The base64url text.
 */
export function encodeBase64Url(bytes: Uint8Array): string {
  return encodeBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}

/**
 * Decodes unpadded base64url (as found in JWKs).
 *
 * @example Usage
 * ```ts
 * import { decodeBase64Url } from "./base64.ts";
 * const bytes = decodeBase64Url("-_8");
 * if (bytes?.join() !== "251,255") throw new Error(String(bytes));
 * ```
 *
 * @param text The base64url text.
 * @returns The bytes, or `undefined` when invalid.
 */
export function decodeBase64Url(text: string): Uint8Array | undefined {
  return decodeBase64(text.replace(/-/g, "+").replace(/_/g, "/"));
}

/**
 * Lower-case hex of bytes.
 *
 * @example Usage
 * ```ts
 * import { toHex } from "./base64.ts";
 * const hex = toHex(new Uint8Array([1, 255]));
 * if (hex !== "01ff") throw new Error(hex);
 * ```
 *
 * @param bytes The bytes.
 * @returns The hex text.
 */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}
