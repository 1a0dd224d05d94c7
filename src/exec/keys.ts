/**
 * Private and public key handling for client certificates: private keys in
 * PKCS#1, PKCS#8 or SEC1 (RSA, ECDSA P-256/P-384/P-521, Ed25519) are
 * normalised to PKCS#8 and checked with WebCrypto; public keys are read from
 * a certificate's SubjectPublicKeyInfo. Errors never contain key material.
 *
 * @module
 */
import { decodeBase64Url, encodeBase64Url } from "./base64.ts";
import { sha256 } from "./sha256.ts";
import {
  concatBytes,
  derChildren,
  DerError,
  type DerNode,
  derSmallInteger,
  encodeDer,
  oidFromString,
  oidToString,
  readDerExact,
  stripLeadingZeros,
  TAG,
} from "./der.ts";

/** Thrown when a key is unusable. The message is safe to show (no key data). */
export class KeyError extends Error {
  /**
   * Creates a key error.
   *
   * @param message The reason, without key material.
   */
  constructor(message: string) {
    super(message);
    this.name = "KeyError";
  }
}

/** The public half of a key, as JWK members (base64url). */
export type PublicKeyParams =
  | { readonly kty: "RSA"; readonly n: string; readonly e: string }
  | {
    readonly kty: "EC";
    readonly crv: EcCurve;
    readonly x: string;
    /** Absent for a compressed point; then `yOdd` tells the parity. */
    readonly y?: string;
    readonly yOdd?: boolean;
  }
  | { readonly kty: "OKP"; readonly crv: "Ed25519"; readonly x: string };

/** The supported elliptic curves. */
export type EcCurve = "P-256" | "P-384" | "P-521";

/** A validated private key. */
export interface ParsedPrivateKey {
  /** The key as PKCS#8 v1 (RFC 5208) DER, whatever its input format. */
  readonly pkcs8: Uint8Array;
  /** The input format. */
  readonly format: "pkcs1" | "pkcs8" | "sec1";
  /** Its public half, as computed by WebCrypto from the private key. */
  readonly publicKey: PublicKeyParams;
}

const OID_RSA = "1.2.840.113549.1.1.1";
const OID_RSA_PSS = "1.2.840.113549.1.1.10";
const OID_EC = "1.2.840.10045.2.1";
const OID_ED25519 = "1.3.101.112";
const CURVES: Record<string, { name: EcCurve; size: number }> = {
  "1.2.840.10045.3.1.7": { name: "P-256", size: 32 },
  "1.3.132.0.34": { name: "P-384", size: 48 },
  "1.3.132.0.35": { name: "P-521", size: 66 },
};
const CURVE_OIDS: Record<EcCurve, string> = {
  "P-256": "1.2.840.10045.3.1.7",
  "P-384": "1.3.132.0.34",
  "P-521": "1.3.132.0.35",
};

/**
 * Parses a private key of any supported format (detected from its structure,
 * whatever the PEM label says, as Go's `crypto/tls` does) and derives its
 * public half with WebCrypto.
 *
 * @example Usage
 * ```ts ignore
 * const key = await parsePrivateKey(decodePem(keyPem)[0].der);
 * console.log(key.format, key.publicKey.kty);
 * ```
 *
 * @param der The DER bytes of the key.
 * @returns The key normalised to PKCS#8, with its public half.
 * @throws {KeyError} When the key cannot be parsed or is unsupported.
 */
export async function parsePrivateKey(
  der: Uint8Array,
): Promise<ParsedPrivateKey> {
  let normalized: { pkcs8: Uint8Array; format: ParsedPrivateKey["format"] };
  let alg: KeyAlg;
  try {
    const top = readDerExact(der, TAG.SEQUENCE);
    const kids = derChildren(top);
    if (kids.length === 0 || kids[0].tag !== TAG.INTEGER) {
      throw new KeyError("failed to parse private key");
    }
    const version = derSmallInteger(kids[0]);
    if (
      kids.length >= 9 && kids.slice(0, 9).every((k) => k.tag === TAG.INTEGER)
    ) {
      checkPkcs1(top);
      normalized = { pkcs8: wrapRsa(der), format: "pkcs1" };
      alg = { kind: "rsa" };
    } else if (
      (version === 0 || version === 1) && kids.length >= 3 &&
      kids[1].tag === TAG.SEQUENCE && kids[2].tag === TAG.OCTET_STRING
    ) {
      const r = fromPkcs8(kids[1], kids[2]);
      normalized = { pkcs8: r.pkcs8, format: "pkcs8" };
      alg = r.alg;
    } else if (
      version === 1 && kids.length >= 2 && kids[1].tag === TAG.OCTET_STRING
    ) {
      const r = fromSec1(top, undefined);
      normalized = { pkcs8: ecPkcs8(r.curve, r.d), format: "sec1" };
      alg = { kind: "ec", curve: r.curve, d: r.d };
    } else {
      throw new KeyError("failed to parse private key");
    }
  } catch (err) {
    if (err instanceof KeyError) throw err;
    if (err instanceof DerError) {
      throw new KeyError(`failed to parse private key: ${err.message}`);
    }
    throw new KeyError("failed to parse private key");
  }
  const publicKey = await cachedPublicKey(normalized.pkcs8, alg);
  let pkcs8 = normalized.pkcs8;
  if (alg.kind === "ec" && publicKey.kty === "EC" && publicKey.y) {
    const x = decodeBase64Url(publicKey.x);
    const y = decodeBase64Url(publicKey.y);
    if (x && y) {
      pkcs8 = ecPkcs8(
        alg.curve,
        alg.d,
        concatBytes([new Uint8Array([4]), x, y]),
      );
    }
  }
  return { pkcs8, format: normalized.format, publicKey };
}

/**
 * Reads the public key of a certificate's SubjectPublicKeyInfo.
 *
 * @example Usage
 * ```ts ignore
 * const pub = parseSpki(spkiDer);
 * if (pub.kty === "EC") console.log(pub.crv);
 * ```
 *
 * @param spki The SubjectPublicKeyInfo DER element.
 * @returns The public key as JWK members.
 * @throws {KeyError} For unsupported algorithms or malformed keys.
 */
export function parseSpki(spki: Uint8Array): PublicKeyParams {
  try {
    const [algId, bits] = derChildren(readDerExact(spki, TAG.SEQUENCE));
    if (algId?.tag !== TAG.SEQUENCE || bits?.tag !== TAG.BIT_STRING) {
      throw new KeyError("malformed certificate public key");
    }
    const [oidNode, params] = derChildren(algId);
    const oid = oidToString(oidNode.content);
    if (bits.content[0] !== 0) {
      throw new KeyError("malformed certificate public key");
    }
    const key = bits.content.subarray(1);
    if (oid === OID_RSA) {
      const [n, e] = derChildren(readDerExact(key, TAG.SEQUENCE));
      if (n?.tag !== TAG.INTEGER || e?.tag !== TAG.INTEGER) {
        throw new KeyError("malformed RSA public key in certificate");
      }
      return {
        kty: "RSA",
        n: encodeBase64Url(stripLeadingZeros(n.content)),
        e: encodeBase64Url(stripLeadingZeros(e.content)),
      };
    }
    if (oid === OID_EC) {
      const curve = params?.tag === TAG.OID
        ? CURVES[oidToString(params.content)]
        : undefined;
      if (!curve) {
        throw new KeyError(
          "unsupported elliptic curve in certificate (supported: P-256, P-384, P-521)",
        );
      }
      const s = curve.size;
      if (key[0] === 0x04 && key.length === 1 + 2 * s) {
        return {
          kty: "EC",
          crv: curve.name,
          x: encodeBase64Url(key.subarray(1, 1 + s)),
          y: encodeBase64Url(key.subarray(1 + s)),
        };
      }
      if ((key[0] === 0x02 || key[0] === 0x03) && key.length === 1 + s) {
        return {
          kty: "EC",
          crv: curve.name,
          x: encodeBase64Url(key.subarray(1)),
          yOdd: key[0] === 0x03,
        };
      }
      throw new KeyError("malformed EC public key in certificate");
    }
    if (oid === OID_ED25519) {
      if (key.length !== 32) {
        throw new KeyError("malformed Ed25519 public key in certificate");
      }
      return { kty: "OKP", crv: "Ed25519", x: encodeBase64Url(key) };
    }
    throw new KeyError(
      `unsupported public key algorithm ${oid} in certificate (supported: RSA, ECDSA, Ed25519)`,
    );
  } catch (err) {
    if (err instanceof KeyError) throw err;
    throw new KeyError("malformed certificate public key");
  }
}

/**
 * Compares a certificate's public key with a private key's public half.
 *
 * @example Usage
 * ```ts ignore
 * if (compareKeys(parseSpki(spki), key.publicKey) !== "match") throw ...;
 * ```
 *
 * @param cert The certificate's public key.
 * @param priv The private key's public half.
 * @returns `match`, `type-mismatch` or `mismatch`.
 */
export function compareKeys(
  cert: PublicKeyParams,
  priv: PublicKeyParams,
): "match" | "type-mismatch" | "mismatch" {
  if (cert.kty !== priv.kty) return "type-mismatch";
  if (cert.kty === "RSA" && priv.kty === "RSA") {
    return cert.n === priv.n && cert.e === priv.e ? "match" : "mismatch";
  }
  if (cert.kty === "EC" && priv.kty === "EC") {
    if (cert.crv !== priv.crv) return "mismatch";
    if (cert.x !== priv.x) return "mismatch";
    if (cert.y !== undefined) return cert.y === priv.y ? "match" : "mismatch";
    const odd = priv.y === undefined ? undefined : base64UrlLastBit(priv.y);
    return odd !== undefined && odd === cert.yOdd ? "match" : "mismatch";
  }
  if (cert.kty === "OKP" && priv.kty === "OKP") {
    return cert.x === priv.x ? "match" : "mismatch";
  }
  return "type-mismatch";
}

function base64UrlLastBit(b64u: string): boolean | undefined {
  const bytes = decodeBase64Url(b64u);
  if (!bytes || bytes.length === 0) return undefined;
  return (bytes[bytes.length - 1] & 1) === 1;
}

function checkPkcs1(top: DerNode): void {
  const kids = derChildren(top);
  const n = kids[1].content;
  if (n.length === 0 || (n[0] & 0x80) !== 0) {
    throw new KeyError("failed to parse private key: invalid RSA modulus");
  }
}

function wrapRsa(pkcs1: Uint8Array): Uint8Array {
  return encodeDer(TAG.SEQUENCE, [
    encodeDer(TAG.INTEGER, new Uint8Array([0])),
    encodeDer(TAG.SEQUENCE, [
      encodeDer(TAG.OID, oidFromString(OID_RSA)),
      encodeDer(TAG.NULL, new Uint8Array()),
    ]),
    encodeDer(TAG.OCTET_STRING, pkcs1),
  ]);
}

function fromPkcs8(
  algId: DerNode,
  privateKey: DerNode,
): {
  pkcs8: Uint8Array;
  alg: KeyAlg;
} {
  const [oidNode, params] = derChildren(algId);
  if (oidNode?.tag !== TAG.OID) {
    throw new KeyError("failed to parse private key");
  }
  const oid = oidToString(oidNode.content);
  if (oid === OID_RSA) {
    const inner = readDerExact(privateKey.content, TAG.SEQUENCE);
    const kids = derChildren(inner);
    if (kids.length < 9 || !kids.slice(0, 9).every((k) => k.tag === 0x02)) {
      throw new KeyError("failed to parse private key");
    }
    checkPkcs1(inner);
    return { pkcs8: wrapRsa(privateKey.content), alg: { kind: "rsa" } };
  }
  if (oid === OID_EC) {
    const outer = params?.tag === TAG.OID
      ? oidToString(params.content)
      : undefined;
    const inner = readDerExact(privateKey.content, TAG.SEQUENCE);
    const r = fromSec1(inner, outer);
    return {
      pkcs8: ecPkcs8(r.curve, r.d),
      alg: { kind: "ec", curve: r.curve, d: r.d },
    };
  }
  if (oid === OID_ED25519) {
    const seed = readDerExact(privateKey.content, TAG.OCTET_STRING);
    if (seed.content.length !== 32) {
      throw new KeyError("failed to parse private key: bad Ed25519 key size");
    }
    const pkcs8 = encodeDer(TAG.SEQUENCE, [
      encodeDer(TAG.INTEGER, new Uint8Array([0])),
      encodeDer(TAG.SEQUENCE, [encodeDer(TAG.OID, oidFromString(OID_ED25519))]),
      encodeDer(TAG.OCTET_STRING, seed.raw),
    ]);
    return { pkcs8, alg: { kind: "ed25519" } };
  }
  if (oid === OID_RSA_PSS) {
    throw new KeyError(
      "unsupported private key type RSA-PSS (supported: RSA, ECDSA, Ed25519)",
    );
  }
  throw new KeyError(
    `found unknown private key type ${oid} in PKCS#8 wrapping (supported: RSA, ECDSA, Ed25519)`,
  );
}

function fromSec1(
  ecPrivateKey: DerNode,
  outerCurveOid: string | undefined,
): { curve: EcCurve; d: Uint8Array } {
  const kids = derChildren(ecPrivateKey);
  if (
    kids.length < 2 || derSmallInteger(kids[0]) !== 1 ||
    kids[1].tag !== TAG.OCTET_STRING
  ) {
    throw new KeyError("failed to parse private key");
  }
  let innerCurveOid: string | undefined;
  for (const k of kids.slice(2)) {
    if (k.tag === 0xa0) {
      const [p] = derChildren(k);
      if (p?.tag === TAG.OID) innerCurveOid = oidToString(p.content);
    }
  }
  if (
    outerCurveOid !== undefined && innerCurveOid !== undefined &&
    outerCurveOid !== innerCurveOid
  ) {
    throw new KeyError("failed to parse private key: inconsistent EC curve");
  }
  const curveOid = outerCurveOid ?? innerCurveOid;
  const curve = curveOid === undefined ? undefined : CURVES[curveOid];
  if (!curve) {
    throw new KeyError(
      "unsupported elliptic curve in private key (supported: P-256, P-384, P-521)",
    );
  }
  // Some encoders drop leading zero octets of the scalar: pad to the curve size.
  let d = kids[1].content;
  if (d.length > curve.size) {
    throw new KeyError("failed to parse private key: invalid EC private key");
  }
  if (d.length < curve.size) {
    const padded = new Uint8Array(curve.size);
    padded.set(d, curve.size - d.length);
    d = padded;
  }
  return { curve: curve.name, d };
}

/**
 * PKCS#8 of an EC key from its scalar and (optionally) its public point.
 * The key is imported without the point, so WebCrypto computes the public
 * key from the scalar; the final form carries the computed point (so equal
 * keys give equal bytes, and TLS stacks that need the point get it).
 */
function ecPkcs8(
  curve: EcCurve,
  d: Uint8Array,
  point?: Uint8Array,
): Uint8Array {
  const inner = encodeDer(TAG.SEQUENCE, [
    encodeDer(TAG.INTEGER, new Uint8Array([1])),
    encodeDer(TAG.OCTET_STRING, d),
    ...(point
      ? [
        encodeDer(
          0xa1,
          encodeDer(TAG.BIT_STRING, [new Uint8Array([0]), point]),
        ),
      ]
      : []),
  ]);
  return encodeDer(TAG.SEQUENCE, [
    encodeDer(TAG.INTEGER, new Uint8Array([0])),
    encodeDer(TAG.SEQUENCE, [
      encodeDer(TAG.OID, oidFromString(OID_EC)),
      encodeDer(TAG.OID, oidFromString(CURVE_OIDS[curve])),
    ]),
    encodeDer(TAG.OCTET_STRING, inner),
  ]);
}

/**
 * Public halves already derived, by SHA-256 of the (point-less) PKCS#8: a
 * plugin usually returns the same key on every run until it rotates, and
 * WebCrypto import/export is the slow part. Holds no secret: only digests
 * and public keys. Bounded.
 */
const derived = new Map<string, PublicKeyParams>();
const DERIVED_MAX = 64;

async function cachedPublicKey(
  pkcs8: Uint8Array,
  alg: KeyAlg,
): Promise<PublicKeyParams> {
  const id = encodeBase64Url(sha256(pkcs8));
  const hit = derived.get(id);
  if (hit) return hit;
  const pub = await derivePublicKey(pkcs8, alg);
  if (derived.size >= DERIVED_MAX) {
    derived.delete(derived.keys().next().value as string);
  }
  derived.set(id, pub);
  return pub;
}

type KeyAlg =
  | { kind: "rsa" }
  | { kind: "ec"; curve: EcCurve; d: Uint8Array }
  | { kind: "ed25519" };

async function derivePublicKey(
  pkcs8: Uint8Array,
  alg: KeyAlg,
): Promise<PublicKeyParams> {
  const subtle = globalThis.crypto.subtle;
  const params: RsaHashedImportParams | EcKeyImportParams | Algorithm =
    alg.kind === "rsa"
      ? { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }
      : alg.kind === "ec"
      ? { name: "ECDSA", namedCurve: alg.curve }
      : { name: "Ed25519" };
  let jwk: JsonWebKey;
  try {
    const key = await subtle.importKey(
      "pkcs8",
      pkcs8 as Uint8Array<ArrayBuffer>,
      params,
      true,
      ["sign"],
    );
    jwk = await subtle.exportKey("jwk", key);
  } catch {
    // The runtime's message is not passed on: it could describe key bytes.
    throw new KeyError(
      alg.kind === "ec"
        ? `failed to parse private key (ECDSA ${alg.curve})`
        : alg.kind === "rsa"
        ? "failed to parse private key (RSA)"
        : "failed to parse private key (Ed25519)",
    );
  }
  if (alg.kind === "rsa" && jwk.n && jwk.e) {
    return { kty: "RSA", n: jwk.n, e: jwk.e };
  }
  if (alg.kind === "ec" && jwk.x && jwk.y) {
    return { kty: "EC", crv: alg.curve, x: jwk.x, y: jwk.y };
  }
  if (alg.kind === "ed25519" && jwk.x) {
    return { kty: "OKP", crv: "Ed25519", x: jwk.x };
  }
  throw new KeyError("failed to parse private key");
}
