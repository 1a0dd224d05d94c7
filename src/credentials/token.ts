/**
 * Checks on bearer tokens shared by every credential source.
 *
 * @module
 */

/**
 * Finds the first character of a token that cannot go into an
 * `Authorization` header: CR, LF and the other control characters but tab,
 * which client-go refuses too. Any other character is sent as its UTF-8
 * bytes, as kubectl sends it (see {@linkcode headerBytesOf}). Says what it
 * is and where, never the token itself.
 *
 * @example Usage
 * ```ts
 * import { badTokenCharacter } from "./token.ts";
 * const bad = badTokenCharacter("abc\ndef");
 * if (bad?.what !== "a line feed (LF)" || bad.index !== 3) throw new Error("unexpected");
 * if (badTokenCharacter("abc") !== undefined) throw new Error("unexpected");
 * if (badTokenCharacter("tok-\u00e9\u20ac") !== undefined) throw new Error("UTF-8 is fine");
 * ```
 *
 * @param token The token to check.
 * @returns What the bad character is and its index, or `undefined`.
 */
export function badTokenCharacter(
  token: string,
): { what: string; index: number } | undefined {
  // deno-lint-ignore no-control-regex
  const m = /[\u0000-\u0008\u000a-\u001f\u007f]/.exec(token);
  if (!m) return undefined;
  const c = m[0];
  const what = c === "\r"
    ? "a carriage return (CR)"
    : c === "\n"
    ? "a line feed (LF)"
    : "a control character";
  return { what, index: m.index };
}

/**
 * A header value whose characters are the UTF-8 bytes of `text`, one
 * character (U+0000–U+00FF) per byte: fetch sends each character of a header
 * value as one byte (on Deno, Bun and Node alike), so the server receives
 * the UTF-8 bytes of `text`, as Go's net/http sends a string (kubectl sends
 * a token `tok-é` as `74 6f 6b 2d c3 a9`). ASCII comes back unchanged.
 *
 * @example Usage
 * ```ts
 * import { headerBytesOf } from "./token.ts";
 * if (headerBytesOf("abc") !== "abc") throw new Error("not as shown");
 * if (headerBytesOf("\u00e9") !== "\u00c3\u00a9") throw new Error("not as shown"); // C3 A9
 * if (headerBytesOf("\u20ac") !== "\u00e2\u0082\u00ac") throw new Error("not as shown"); // E2 82 AC
 * ```
 *
 * @param text The text (a token).
 * @returns One character per UTF-8 byte of `text`.
 */
export function headerBytesOf(text: string): string {
  // deno-lint-ignore no-control-regex
  if (/^[\u0000-\u007f]*$/.test(text)) return text;
  const bytes = new TextEncoder().encode(text);
  let out = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    out += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return out;
}
