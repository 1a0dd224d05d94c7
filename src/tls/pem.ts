/**
 * PEM (RFC 7468) decoding and encoding. Text outside blocks is skipped, as
 * Go's `encoding/pem` does. Errors never quote the input.
 *
 * @module
 */
import { decodeBase64, encodeBase64 } from "./base64.ts";

/** One PEM block. */
export interface PemBlock {
  /** The label, e.g. `CERTIFICATE` or `EC PRIVATE KEY`. */
  readonly type: string;
  /** Whether the block had RFC 1421 headers (e.g. `Proc-Type: 4,ENCRYPTED`). */
  readonly hasHeaders: boolean;
  /** The decoded DER bytes. */
  readonly der: Uint8Array;
}

/** Thrown when a PEM block is malformed. Never quotes the input. */
export class PemError extends Error {
  /**
   * Creates a PEM error.
   *
   * @param message What was wrong (labels only, no content).
   */
  constructor(message: string) {
    super(message);
    this.name = "PemError";
  }
}

const BEGIN = /^-----BEGIN ([^\-\r\n][^\r\n]*?)-----$/;
const END = /^-----END ([^\-\r\n][^\r\n]*?)-----$/;

/**
 * Decodes every PEM block in `text`, in order.
 *
 * @example Usage
 * ```ts
 * import { decodePem } from "./pem.ts";
 * const pemText = `Text around the blocks is skipped.
 * -----BEGIN CERTIFICATE-----
 * AQI=
 * -----END CERTIFICATE-----
 * -----BEGIN PUBLIC KEY-----
 * Aw==
 * -----END PUBLIC KEY-----
 * `;
 * const blocks = decodePem(pemText);
 * const certs = blocks.filter((b) => b.type === "CERTIFICATE");
 * if (blocks.length !== 2 || certs.length !== 1) throw new Error("blocks");
 * if (certs[0].der.join() !== "1,2") throw new Error("DER bytes");
 * ```
 *
 * @param text PEM text, possibly with other text around the blocks.
 * @returns The blocks (empty when there is no PEM data).
 * @throws {PemError} When a block is unterminated or not base64.
 */
export function decodePem(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  const lines = text.split(/\r\n|\r|\n/);
  let i = 0;
  while (i < lines.length) {
    const begin = BEGIN.exec(lines[i].trim());
    i++;
    if (!begin) continue;
    const type = begin[1];
    const body: string[] = [];
    let hasHeaders = false;
    let ended = false;
    for (; i < lines.length; i++) {
      const line = lines[i].trim();
      const end = END.exec(line);
      if (end) {
        if (end[1] !== type) {
          throw new PemError(
            `PEM block "${safeLabel(type)}" ends with a different label`,
          );
        }
        ended = true;
        i++;
        break;
      }
      if (line.includes(":")) hasHeaders = true;
      else body.push(line);
    }
    if (!ended) {
      throw new PemError(`PEM block "${safeLabel(type)}" is not terminated`);
    }
    const der = decodeBase64(body.join(""));
    if (der === undefined || der.length === 0) {
      throw new PemError(
        `PEM block "${safeLabel(type)}" does not contain valid base64 data`,
      );
    }
    blocks.push({ type, hasHeaders, der });
  }
  return blocks;
}

/**
 * Encodes DER bytes as one PEM block (64-column lines, trailing newline).
 *
 * @example Usage
 * ```ts
 * import { encodePem } from "./pem.ts";
 * const pem = encodePem("CERTIFICATE", new Uint8Array([1, 2]));
 * const expected = [
 *   "-----BEGIN CERTIFICATE-----",
 *   "AQI=",
 *   "-----END CERTIFICATE-----",
 *   "",
 * ].join("\n");
 * if (pem !== expected) throw new Error(pem);
 * // Longer data is wrapped at 64 columns.
 * const lines = encodePem("PRIVATE KEY", new Uint8Array(100)).split("\n");
 * if (lines[1].length !== 64 || lines.length !== 6) throw new Error("wrap");
 * ```
 *
 * @param type The label.
 * @param der The bytes.
 * @returns The PEM text.
 */
export function encodePem(type: string, der: Uint8Array): string {
  const b64 = encodeBase64(der);
  let out = `-----BEGIN ${type}-----\n`;
  for (let i = 0; i < b64.length; i += 64) out += b64.slice(i, i + 64) + "\n";
  return out + `-----END ${type}-----\n`;
}

/**
 * A PEM label for messages: printable, bounded. Labels are not secret.
 *
 * @example Usage
 * ```ts
 * import { safeLabel } from "./pem.ts";
 * const label = safeLabel("EC PRIVATE KEY");
 * if (label !== "EC PRIVATE KEY") throw new Error(label);
 * if (safeLabel("BAD\nLABEL") !== "BAD?LABEL") throw new Error("unprintable");
 * const long = safeLabel("X".repeat(100));
 * if (long !== "X".repeat(40) + "…") throw new Error(long);
 * ```
 *
 * @param type The label.
 * @returns A printable, short rendering.
 */
export function safeLabel(type: string): string {
  const clean = type.replace(/[^\x20-\x7e]/g, "?");
  return clean.length > 40 ? clean.slice(0, 40) + "…" : clean;
}
