/**
 * Checks on bearer tokens shared by every credential source.
 *
 * @module
 */

/**
 * Finds the first character of a token that no fetch can send in an
 * `Authorization` header (CR, LF, other control characters, anything outside
 * Latin-1). Says what it is and where, never the token itself.
 *
 * @example Usage
 * ```ts
 * import { badTokenCharacter } from "./token.ts";
 * const bad = badTokenCharacter("abc\ndef");
 * if (bad?.what !== "a line feed (LF)" || bad.index !== 3) throw new Error("unexpected");
 * if (badTokenCharacter("abc") !== undefined) throw new Error("unexpected");
 * ```
 *
 * @param token The token to check.
 * @returns What the bad character is and its index, or `undefined`.
 */
export function badTokenCharacter(
  token: string,
): { what: string; index: number } | undefined {
  // deno-lint-ignore no-control-regex
  const m = /[\u0000-\u0008\u000a-\u001f\u007f\u0100-\uffff]/.exec(token);
  if (!m) return undefined;
  const c = m[0];
  const code = c.charCodeAt(0);
  const what = c === "\r"
    ? "a carriage return (CR)"
    : c === "\n"
    ? "a line feed (LF)"
    : code < 0x20 || code === 0x7f
    ? "a control character"
    : "a character outside Latin-1";
  return { what, index: m.index };
}
