/**
 * A minimal DER (ASN.1 distinguished encoding) reader and writer: just what
 * certificate and private-key handling needs. Errors never quote the input.
 *
 * @module
 */

/** Common universal tags (the whole identifier octet). */
export const TAG = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** One decoded DER element: its tag and where its bytes are. */
export interface DerNode {
  /** The identifier octet (class, constructed bit and tag number). */
  readonly tag: number;
  /** The element's content bytes. */
  readonly content: Uint8Array;
  /** The whole element (identifier, length and content). */
  readonly raw: Uint8Array;
}

/** Thrown when bytes are not the DER structure expected. Never quotes input. */
export class DerError extends Error {
  /**
   * Creates a DER error.
   *
   * @param message What was wrong (no input bytes).
   */
  constructor(message: string) {
    super(message);
    this.name = "DerError";
  }
}

/**
 * Reads one element at `offset`.
 *
 * @example Usage
 * ```ts
 * import { readDer, TAG } from "./der.ts";
 * const bytes = new Uint8Array([0x05, 0x00, 0x02, 0x01, 0x07]); // NULL, 7
 * const first = readDer(bytes);
 * const second = readDer(bytes, first.raw.length);
 * if (first.tag !== TAG.NULL || second.tag !== TAG.INTEGER) {
 *   throw new Error("wrong tags");
 * }
 * if (second.content[0] !== 7) throw new Error("wrong content");
 * ```
 *
 * @param bytes The buffer.
 * @param offset Where the element starts.
 * @returns The element.
 * @throws {DerError} On truncated or non-DER input.
 */
export function readDer(bytes: Uint8Array, offset = 0): DerNode {
  if (offset + 2 > bytes.length) throw new DerError("truncated DER element");
  const tag = bytes[offset];
  if ((tag & 0x1f) === 0x1f) throw new DerError("unsupported DER tag form");
  let pos = offset + 1;
  let length = bytes[pos++];
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 4) throw new DerError("unsupported DER length");
    if (pos + n > bytes.length) throw new DerError("truncated DER length");
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + bytes[pos++];
  }
  const end = pos + length;
  if (end > bytes.length) throw new DerError("truncated DER content");
  return {
    tag,
    content: bytes.subarray(pos, end),
    raw: bytes.subarray(offset, end),
  };
}

/**
 * Reads a whole buffer as exactly one element (no trailing bytes).
 *
 * @example Usage
 * ```ts
 * import { DerError, readDerExact, TAG } from "./der.ts";
 * const der = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x07]); // SEQUENCE { 7 }
 * const seq = readDerExact(der, TAG.SEQUENCE);
 * if (seq.content.length !== 3) throw new Error("wrong content");
 * try {
 *   readDerExact(new Uint8Array([0x05, 0x00, 0xff])); // a trailing byte
 *   throw new Error("trailing data accepted");
 * } catch (err) {
 *   if (!(err instanceof DerError)) throw err;
 * }
 * ```
 *
 * @param bytes The buffer.
 * @param tag The tag the element must have, if any.
 * @returns The element.
 * @throws {DerError} On trailing data, a wrong tag or bad DER.
 */
export function readDerExact(bytes: Uint8Array, tag?: number): DerNode {
  const node = readDer(bytes, 0);
  if (node.raw.length !== bytes.length) {
    throw new DerError("trailing data after DER element");
  }
  if (tag !== undefined && node.tag !== tag) {
    throw new DerError("unexpected DER element type");
  }
  return node;
}

/**
 * The children of a constructed element.
 *
 * @example Usage
 * ```ts
 * import { derChildren, readDerExact, TAG } from "./der.ts";
 * const { privateKey } = await crypto.subtle.generateKey(
 *   { name: "ECDSA", namedCurve: "P-256" },
 *   true,
 *   ["sign", "verify"],
 * );
 * const pkcs8 = await crypto.subtle.exportKey("pkcs8", privateKey);
 * const der = readDerExact(new Uint8Array(pkcs8));
 * const [version, algorithm, key] = derChildren(der);
 * if (
 *   version.tag !== TAG.INTEGER || algorithm.tag !== TAG.SEQUENCE ||
 *   key.tag !== TAG.OCTET_STRING
 * ) {
 *   throw new Error("not a PKCS#8 PrivateKeyInfo");
 * }
 * ```
 *
 * @param node A SEQUENCE, SET or constructed context-specific element.
 * @returns Its elements in order.
 * @throws {DerError} On bad DER inside.
 */
export function derChildren(node: DerNode): DerNode[] {
  const out: DerNode[] = [];
  let pos = 0;
  while (pos < node.content.length) {
    const child = readDer(node.content, pos);
    out.push(child);
    pos += child.raw.length;
  }
  return out;
}

/**
 * Dotted-decimal text of an OBJECT IDENTIFIER's content.
 *
 * @example Usage
 * ```ts
 * import { oidToString } from "./der.ts";
 * const oid = oidToString(new Uint8Array([0x2b, 0x65, 0x70]));
 * if (oid !== "1.3.101.112") throw new Error(oid); // Ed25519
 * ```
 *
 * @param content The OID element's content bytes.
 * @returns The OID, e.g. `1.2.840.10045.2.1`.
 */
export function oidToString(content: Uint8Array): string {
  if (content.length === 0) throw new DerError("empty OBJECT IDENTIFIER");
  const parts: number[] = [];
  let value = 0;
  for (const b of content) {
    value = value * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      if (parts.length === 0) {
        const first = value < 80 ? Math.floor(value / 40) : 2;
        parts.push(first, value - first * 40);
      } else {
        parts.push(value);
      }
      value = 0;
    }
  }
  return parts.join(".");
}

/**
 * Content bytes of an OBJECT IDENTIFIER from its dotted text.
 *
 * @example Usage
 * ```ts
 * import { encodeDer, oidFromString, oidToString, TAG } from "./der.ts";
 * const content = oidFromString("1.2.840.10045.2.1"); // id-ecPublicKey
 * if (oidToString(content) !== "1.2.840.10045.2.1") throw new Error("oid");
 * const element = encodeDer(TAG.OID, content);
 * if (element.join() !== "6,7,42,134,72,206,61,2,1") throw new Error("bytes");
 * ```
 *
 * @param oid Dotted decimal, e.g. `1.3.101.112`.
 * @returns The content bytes.
 */
export function oidFromString(oid: string): Uint8Array {
  const nums = oid.split(".").map(Number);
  const values = [nums[0] * 40 + nums[1], ...nums.slice(2)];
  const out: number[] = [];
  for (const v of values) {
    const groups: number[] = [];
    let x = v;
    do {
      groups.unshift(x % 128);
      x = Math.floor(x / 128);
    } while (x > 0);
    for (let i = 0; i < groups.length - 1; i++) groups[i] |= 0x80;
    out.push(...groups);
  }
  return new Uint8Array(out);
}

/**
 * Encodes one element.
 *
 * @example Usage
 * ```ts
 * import { encodeDer, TAG } from "./der.ts";
 * const nullElement = encodeDer(TAG.NULL, new Uint8Array());
 * if (nullElement.join() !== "5,0") throw new Error("NULL");
 * // An array of elements is concatenated: SEQUENCE { NULL, NULL }.
 * const seq = encodeDer(TAG.SEQUENCE, [nullElement, nullElement]);
 * if (seq.join() !== "48,4,5,0,5,0") throw new Error("SEQUENCE");
 * // Content of 128 bytes or more gets a long-form length.
 * const long = encodeDer(TAG.OCTET_STRING, new Uint8Array(200));
 * if (long[1] !== 0x81 || long[2] !== 200 || long.length !== 203) {
 *   throw new Error("long form");
 * }
 * ```
 *
 * @param tag The identifier octet.
 * @param content The content bytes, or elements to concatenate.
 * @returns The encoded element.
 */
export function encodeDer(
  tag: number,
  content: Uint8Array | Uint8Array[],
): Uint8Array {
  const body = Array.isArray(content) ? concatBytes(content) : content;
  const len = body.length;
  let header: number[];
  if (len < 0x80) header = [tag, len];
  else {
    const lenBytes: number[] = [];
    let x = len;
    while (x > 0) {
      lenBytes.unshift(x & 0xff);
      x = Math.floor(x / 256);
    }
    header = [tag, 0x80 | lenBytes.length, ...lenBytes];
  }
  const out = new Uint8Array(header.length + len);
  out.set(header, 0);
  out.set(body, header.length);
  return out;
}

/**
 * Concatenates byte arrays.
 *
 * @example Usage
 * ```ts
 * import { concatBytes } from "./der.ts";
 * const bytes = concatBytes([new Uint8Array([1]), new Uint8Array([2, 3])]);
 * if (bytes.join() !== "1,2,3") throw new Error(bytes.join());
 * ```
 *
 * @param parts The arrays.
 * @returns One array.
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * The small non-negative value of an INTEGER element (e.g. a version).
 *
 * @example Usage
 * ```ts
 * import { derSmallInteger, readDerExact } from "./der.ts";
 * const int = (...bytes: number[]) => readDerExact(new Uint8Array(bytes));
 * if (derSmallInteger(int(2, 1, 0)) !== 0) throw new Error("0");
 * if (derSmallInteger(int(2, 2, 1, 0)) !== 256) throw new Error("256");
 * if (derSmallInteger(int(2, 1, 0xff)) !== -1) throw new Error("negative");
 * ```
 *
 * @param node An INTEGER element.
 * @returns The value, or -1 when negative or larger than 2^32.
 */
export function derSmallInteger(node: DerNode): number {
  if (node.tag !== TAG.INTEGER) throw new DerError("expected an INTEGER");
  const c = node.content;
  if (c.length === 0 || c.length > 5 || (c[0] & 0x80)) return -1;
  let v = 0;
  for (const b of c) v = v * 256 + b;
  return v;
}

/**
 * An unsigned big-endian integer's bytes without leading zero octets.
 *
 * @example Usage
 * ```ts
 * import { stripLeadingZeros } from "./der.ts";
 * const one = stripLeadingZeros(new Uint8Array([0, 0, 1]));
 * if (one.join() !== "1") throw new Error(one.join());
 * const zero = stripLeadingZeros(new Uint8Array([0, 0]));
 * if (zero.join() !== "0") throw new Error("should keep one byte");
 * ```
 *
 * @param bytes The integer bytes.
 * @returns The same bytes without leading zeros (at least one byte).
 */
export function stripLeadingZeros(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return bytes.subarray(i);
}
