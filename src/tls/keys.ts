/**
 * Private and public key handling for client certificates: private keys in
 * PKCS#1, PKCS#8 or SEC1 (RSA, ECDSA P-256/P-384/P-521, Ed25519) are
 * normalised to PKCS#8 and checked with WebCrypto; public keys are read from
 * a certificate's SubjectPublicKeyInfo. Keys are compared as bytes. Errors
 * never contain key material.
 *
 * @module
 */
import { decodeBase64Url } from "./base64.ts";
import { sha256 } from "./sha256.ts";
import {
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

/**
 * The public half of a key, as bytes (views into the DER they came from, or
 * fresh arrays: never modify them).
 */
export type PublicKey =
  | {
    readonly kty: "RSA";
    /** The modulus, big-endian, without leading zero octets. */
    readonly n: Uint8Array;
    /** The public exponent, big-endian, without leading zero octets. */
    readonly e: Uint8Array;
  }
  | {
    readonly kty: "EC";
    readonly crv: EcCurve;
    /** SEC 1 point: `04‖X‖Y`, or (certificates only) `02`/`03‖X`. */
    readonly point: Uint8Array;
  }
  | {
    readonly kty: "OKP";
    readonly crv: "Ed25519";
    /** The 32-byte public key. */
    readonly x: Uint8Array;
  };

/** The supported elliptic curves. */
export type EcCurve = "P-256" | "P-384" | "P-521";

/** A private key read from DER, not yet checked by WebCrypto. Secret. */
export interface DecodedPrivateKey {
  /** The input format. */
  readonly format: "pkcs1" | "pkcs8" | "sec1";
  /** The algorithm and the parts of the key its checks need. */
  readonly alg: KeyAlg;
}

/** The algorithm of a decoded key, with the parts its checks need. Secret. */
export type KeyAlg =
  | {
    readonly kind: "rsa";
    /** PKCS#8 v1 DER wrapping the PKCS#1 key. */
    readonly pkcs8: Uint8Array;
    /** The modulus (no leading zeros), from the private key itself. */
    readonly n: Uint8Array;
    /** The public exponent (no leading zeros), from the private key itself. */
    readonly e: Uint8Array;
  }
  | {
    readonly kind: "ec";
    readonly curve: EcCurve;
    /** The private scalar, padded to the curve size. */
    readonly d: Uint8Array;
  }
  | {
    readonly kind: "ed25519";
    /** PKCS#8 v1 DER of the seed. */
    readonly pkcs8: Uint8Array;
  };

/** A private key that WebCrypto accepted, with its checked public half. */
export interface VerifiedPrivateKey {
  /** The key as PKCS#8 v1 (RFC 5208) DER; EC keys carry their public point. */
  readonly pkcs8: Uint8Array;
  /**
   * The public half: derived from the private key by WebCrypto (EC, Ed25519),
   * or the key's own n and e (RSA). An EC point is uncompressed.
   */
  readonly publicKey: PublicKey;
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
const CURVE_SIZES: Record<EcCurve, number> = {
  "P-256": 32,
  "P-384": 48,
  "P-521": 66,
};

/**
 * Reads a private key of any supported format (detected from its structure,
 * whatever the PEM label says, as Go's `crypto/tls` does). Synchronous and
 * without WebCrypto: {@linkcode verifyPrivateKey} checks the key.
 *
 * @example Usage
 * ```ts
 * import { decodePrivateKey, KeyError } from "./keys.ts";
 * const { privateKey } = await crypto.subtle.generateKey(
 *   { name: "ECDSA", namedCurve: "P-256" },
 *   true,
 *   ["sign", "verify"],
 * );
 * const pkcs8 = await crypto.subtle.exportKey("pkcs8", privateKey);
 * const der = new Uint8Array(pkcs8); // e.g. decodePem(keyPem)[0].der
 * const key = decodePrivateKey(der);
 * if (key.format !== "pkcs8" || key.alg.kind !== "ec") throw new Error("kind");
 * try {
 *   decodePrivateKey(new Uint8Array([0x05, 0x00]));
 *   throw new Error("not a key, but accepted");
 * } catch (err) {
 *   if (!(err instanceof KeyError)) throw err;
 * }
 * ```
 *
 * @param der The DER bytes of the key.
 * @returns The decoded key.
 * @throws {KeyError} When the key cannot be parsed or is unsupported.
 */
export function decodePrivateKey(der: Uint8Array): DecodedPrivateKey {
  try {
    const top = readDerExact(der, TAG.SEQUENCE);
    const kids = derChildren(top);
    if (kids.length === 0 || kids[0].tag !== TAG.INTEGER) {
      throw new KeyError("failed to parse private key");
    }
    const version = derSmallInteger(kids[0]);
    if (kids.length >= 9 && allIntegers(kids, 9)) {
      return { format: "pkcs1", alg: fromPkcs1(der, kids) };
    }
    if (
      (version === 0 || version === 1) && kids.length >= 3 &&
      kids[1].tag === TAG.SEQUENCE && kids[2].tag === TAG.OCTET_STRING
    ) {
      return { format: "pkcs8", alg: fromPkcs8(kids[1], kids[2]) };
    }
    if (
      version === 1 && kids.length >= 2 && kids[1].tag === TAG.OCTET_STRING
    ) {
      return { format: "sec1", alg: fromSec1(kids, undefined) };
    }
    throw new KeyError("failed to parse private key");
  } catch (err) {
    if (err instanceof KeyError) throw err;
    if (err instanceof DerError) {
      throw new KeyError(`failed to parse private key: ${err.message}`);
    }
    throw new KeyError("failed to parse private key");
  }
}

/**
 * Checks a decoded private key with WebCrypto and returns it as PKCS#8 with
 * its public half, which the caller compares with the certificate's, as Go's
 * `tls.X509KeyPair` does (the public key it compares is derived from the
 * private key):
 *
 * - EC: the point is derived from the scalar alone (imported without its
 *   point, exported as JWK), as Go does (it ignores the embedded point), and
 *   the key is normalised with the derived point. Comparing the key's own
 *   embedded point with the certificate would be cheaper but is not enough:
 *   a key whose scalar does not belong to its point (a corrupted or
 *   hand-assembled file) would pass, then pass OpenSSL's own certificate/key
 *   check in Node and Bun (it compares the embedded point too), and only
 *   fail at the server as a bad CertificateVerify, far from its cause. Nor
 *   can an import WITH the point stand in for the derivation: Node and Bun
 *   refuse an inconsistent point on import, but Deno accepts it (it notices
 *   only on export).
 * - Ed25519: derived the same way (PKCS#8 v1 carries no public key).
 * - RSA: imported only. n and e are the key's own: an export returns them
 *   unchanged and checks nothing more on any runtime (Bun checks the CRT
 *   parameters on import; Deno and Node accept them as they are).
 *
 * The WebCrypto work is cached by the SHA-256 of the imported PKCS#8 (only
 * digests and public keys are kept): a plugin returns the same key on every
 * run until it rotates, and WebCrypto is the slow part (0.05 ms on Bun,
 * 0.2 ms on Deno, 0.5 ms on Node per key, and a few ms for the first use in
 * a process).
 *
 * @example Usage
 * ```ts
 * import {
 *   compareKeys,
 *   decodePrivateKey,
 *   parseSpki,
 *   verifyPrivateKey,
 * } from "./keys.ts";
 * const pair = await crypto.subtle.generateKey(
 *   { name: "ECDSA", namedCurve: "P-256" },
 *   true,
 *   ["sign", "verify"],
 * );
 * const pkcs8 = await crypto.subtle.exportKey("pkcs8", pair.privateKey);
 * const spki = await crypto.subtle.exportKey("spki", pair.publicKey);
 * const key = await verifyPrivateKey(decodePrivateKey(new Uint8Array(pkcs8)));
 * const certKey = parseSpki(new Uint8Array(spki)); // a certificate's key
 * if (compareKeys(certKey, key.publicKey) !== "match") {
 *   throw new Error("the key does not match");
 * }
 * ```
 *
 * @param key A key from {@linkcode decodePrivateKey}.
 * @returns The key as PKCS#8 DER and its checked public half.
 * @throws {KeyError} When WebCrypto refuses the key.
 */
export async function verifyPrivateKey(
  key: DecodedPrivateKey,
): Promise<VerifiedPrivateKey> {
  const alg = key.alg;
  if (alg.kind === "rsa") {
    await cachedImport(alg.pkcs8, alg, false);
    return {
      pkcs8: alg.pkcs8,
      publicKey: { kty: "RSA", n: alg.n, e: alg.e },
    };
  }
  if (alg.kind === "ed25519") {
    const x = await cachedImport(alg.pkcs8, alg, true);
    return {
      pkcs8: alg.pkcs8,
      publicKey: { kty: "OKP", crv: "Ed25519", x: x! },
    };
  }
  const point = await cachedImport(ecPkcs8(alg.curve, alg.d), alg, true);
  return {
    pkcs8: ecPkcs8(alg.curve, alg.d, point!),
    publicKey: { kty: "EC", crv: alg.curve, point: point! },
  };
}

/**
 * Reads the public key of a certificate's SubjectPublicKeyInfo.
 *
 * @example Usage
 * ```ts
 * import { parseSpki } from "./keys.ts";
 * const { publicKey } = await crypto.subtle.generateKey(
 *   { name: "ECDSA", namedCurve: "P-384" },
 *   true,
 *   ["sign", "verify"],
 * );
 * const spki = await crypto.subtle.exportKey("spki", publicKey);
 * const pub = parseSpki(new Uint8Array(spki));
 * if (pub.kty !== "EC" || pub.crv !== "P-384") throw new Error("not P-384");
 * if (pub.point.length !== 97) throw new Error("not 04 || X || Y");
 * ```
 *
 * @param spki The SubjectPublicKeyInfo DER element.
 * @returns The public key (views into `spki`).
 * @throws {KeyError} For unsupported algorithms or malformed keys.
 */
export function parseSpki(spki: Uint8Array): PublicKey {
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
        n: stripLeadingZeros(n.content),
        e: stripLeadingZeros(e.content),
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
      if (
        (key[0] === 0x04 && key.length === 1 + 2 * s) ||
        ((key[0] === 0x02 || key[0] === 0x03) && key.length === 1 + s)
      ) {
        return { kty: "EC", crv: curve.name, point: key };
      }
      throw new KeyError("malformed EC public key in certificate");
    }
    if (oid === OID_ED25519) {
      if (key.length !== 32) {
        throw new KeyError("malformed Ed25519 public key in certificate");
      }
      return { kty: "OKP", crv: "Ed25519", x: key };
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
 * ```ts
 * import { compareKeys, type PublicKey } from "./keys.ts";
 * // Usually from parseSpki() and verifyPrivateKey().
 * const a: PublicKey = { kty: "OKP", crv: "Ed25519", x: new Uint8Array(32) };
 * const b: PublicKey = { ...a, x: new Uint8Array(32).fill(1) };
 * const rsa: PublicKey = {
 *   kty: "RSA",
 *   n: new Uint8Array([0xc5]),
 *   e: new Uint8Array([3]),
 * };
 * if (compareKeys(a, a) !== "match") throw new Error("same key");
 * if (compareKeys(a, b) !== "mismatch") throw new Error("other key");
 * if (compareKeys(rsa, a) !== "type-mismatch") throw new Error("other type");
 * ```
 *
 * @param cert The certificate's public key.
 * @param priv The private key's public half (an EC point is uncompressed).
 * @returns `match`, `type-mismatch` or `mismatch`.
 */
export function compareKeys(
  cert: PublicKey,
  priv: PublicKey,
): "match" | "type-mismatch" | "mismatch" {
  if (cert.kty === "RSA" && priv.kty === "RSA") {
    return bytesEqual(cert.n, priv.n) && bytesEqual(cert.e, priv.e)
      ? "match"
      : "mismatch";
  }
  if (cert.kty === "EC" && priv.kty === "EC") {
    if (cert.crv !== priv.crv) return "mismatch";
    const c = cert.point;
    const p = priv.point;
    if (c[0] === 0x04) return bytesEqual(c, p) ? "match" : "mismatch";
    // Compressed in the certificate: same X, and Y of the right parity.
    const s = CURVE_SIZES[cert.crv];
    if (p.length !== 1 + 2 * s || p[0] !== 0x04) return "mismatch";
    const odd = (p[2 * s] & 1) === 1;
    return bytesEqual(c.subarray(1), p.subarray(1, 1 + s)) &&
        odd === (c[0] === 0x03)
      ? "match"
      : "mismatch";
  }
  if (cert.kty === "OKP" && priv.kty === "OKP") {
    return bytesEqual(cert.x, priv.x) ? "match" : "mismatch";
  }
  return "type-mismatch";
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function allIntegers(kids: DerNode[], count: number): boolean {
  for (let i = 0; i < count; i++) if (kids[i].tag !== TAG.INTEGER) return false;
  return true;
}

function fromPkcs1(pkcs1: Uint8Array, kids: DerNode[]): KeyAlg {
  const n = kids[1].content;
  if (n.length === 0 || (n[0] & 0x80) !== 0) {
    throw new KeyError("failed to parse private key: invalid RSA modulus");
  }
  return {
    kind: "rsa",
    pkcs8: wrapRsa(pkcs1),
    n: stripLeadingZeros(n),
    e: stripLeadingZeros(kids[2].content),
  };
}

let rsaAlgId: Uint8Array | undefined;

function wrapRsa(pkcs1: Uint8Array): Uint8Array {
  rsaAlgId ??= encodeDer(TAG.SEQUENCE, [
    encodeDer(TAG.OID, oidFromString(OID_RSA)),
    encodeDer(TAG.NULL, new Uint8Array()),
  ]);
  return encodeDer(TAG.SEQUENCE, [
    VERSION_0,
    rsaAlgId,
    encodeDer(TAG.OCTET_STRING, pkcs1),
  ]);
}

const VERSION_0 = new Uint8Array([TAG.INTEGER, 1, 0]);
const VERSION_1 = new Uint8Array([TAG.INTEGER, 1, 1]);

function fromPkcs8(algId: DerNode, privateKey: DerNode): KeyAlg {
  const [oidNode, params] = derChildren(algId);
  if (oidNode?.tag !== TAG.OID) {
    throw new KeyError("failed to parse private key");
  }
  const oid = oidToString(oidNode.content);
  if (oid === OID_RSA) {
    const inner = readDerExact(privateKey.content, TAG.SEQUENCE);
    const kids = derChildren(inner);
    if (kids.length < 9 || !allIntegers(kids, 9)) {
      throw new KeyError("failed to parse private key");
    }
    return fromPkcs1(privateKey.content, kids);
  }
  if (oid === OID_EC) {
    const outer = params?.tag === TAG.OID
      ? oidToString(params.content)
      : undefined;
    const inner = readDerExact(privateKey.content, TAG.SEQUENCE);
    return fromSec1(derChildren(inner), outer);
  }
  if (oid === OID_ED25519) {
    const seed = readDerExact(privateKey.content, TAG.OCTET_STRING);
    if (seed.content.length !== 32) {
      throw new KeyError("failed to parse private key: bad Ed25519 key size");
    }
    const pkcs8 = encodeDer(TAG.SEQUENCE, [
      VERSION_0,
      encodeDer(TAG.SEQUENCE, [encodeDer(TAG.OID, oidFromString(OID_ED25519))]),
      encodeDer(TAG.OCTET_STRING, seed.raw),
    ]);
    return { kind: "ed25519", pkcs8 };
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

/** An ECPrivateKey (RFC 5915) from its elements. */
function fromSec1(
  kids: DerNode[],
  outerCurveOid: string | undefined,
): KeyAlg {
  if (
    kids.length < 2 || derSmallInteger(kids[0]) !== 1 ||
    kids[1].tag !== TAG.OCTET_STRING
  ) {
    throw new KeyError("failed to parse private key");
  }
  let innerCurveOid: string | undefined;
  for (let i = 2; i < kids.length; i++) {
    const k = kids[i];
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
  // The optional public point is not read: it is derived from the scalar.
  return { kind: "ec", curve: curve.name, d };
}

const ecAlgIds = new Map<EcCurve, Uint8Array>();

/**
 * PKCS#8 of an EC key from its scalar and (optionally) its public point:
 * `SEQUENCE { 0, { id-ecPublicKey, curve }, OCTET STRING { ECPrivateKey {
 * 1, d, [1] point } } }` (what openssl writes for a P-256 key).
 */
function ecPkcs8(
  curve: EcCurve,
  d: Uint8Array,
  point?: Uint8Array,
): Uint8Array {
  let algId = ecAlgIds.get(curve);
  if (algId === undefined) {
    algId = encodeDer(TAG.SEQUENCE, [
      encodeDer(TAG.OID, oidFromString(OID_EC)),
      encodeDer(TAG.OID, oidFromString(CURVE_OIDS[curve])),
    ]);
    ecAlgIds.set(curve, algId);
  }
  const inner = encodeDer(TAG.SEQUENCE, [
    VERSION_1,
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
    VERSION_0,
    algId,
    encodeDer(TAG.OCTET_STRING, inner),
  ]);
}

/**
 * Keys WebCrypto already accepted, by SHA-256 of the imported PKCS#8, with
 * the derived public key (EC point or Ed25519 key) when one was exported.
 * Holds no secret: only digests and public keys. Bounded.
 */
const imported = new Map<string, Uint8Array | null>();
const IMPORTED_MAX = 64;

/**
 * Imports `pkcs8` (once per distinct key per process); with `derive`, also
 * returns the public key WebCrypto derived (EC: uncompressed point).
 */
async function cachedImport(
  pkcs8: Uint8Array,
  alg: KeyAlg,
  derive: boolean,
): Promise<Uint8Array | undefined> {
  const id = latin1(sha256(pkcs8));
  const hit = imported.get(id);
  if (hit !== undefined && (hit !== null || !derive)) return hit ?? undefined;
  const pub = await importKey(pkcs8, alg, derive);
  if (imported.size >= IMPORTED_MAX) {
    imported.delete(imported.keys().next().value as string);
  }
  imported.set(id, pub ?? null);
  return pub;
}

function latin1(bytes: Uint8Array): string {
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}

async function importKey(
  pkcs8: Uint8Array,
  alg: KeyAlg,
  derive: boolean,
): Promise<Uint8Array | undefined> {
  const subtle = globalThis.crypto.subtle;
  const params: RsaHashedImportParams | EcKeyImportParams | Algorithm =
    alg.kind === "rsa"
      ? { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }
      : alg.kind === "ec"
      ? { name: "ECDSA", namedCurve: alg.curve }
      : { name: "Ed25519" };
  let jwk: JsonWebKey | undefined;
  try {
    const key = await subtle.importKey(
      "pkcs8",
      pkcs8 as Uint8Array<ArrayBuffer>,
      params,
      derive,
      ["sign"],
    );
    if (derive) jwk = await subtle.exportKey("jwk", key);
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
  if (!derive) return undefined;
  if (alg.kind === "ec" && jwk?.x && jwk.y) {
    const x = decodeBase64Url(jwk.x);
    const y = decodeBase64Url(jwk.y);
    const s = CURVE_SIZES[alg.curve];
    if (x?.length === s && y?.length === s) {
      const point = new Uint8Array(1 + 2 * s);
      point[0] = 0x04;
      point.set(x, 1);
      point.set(y, 1 + s);
      return point;
    }
  }
  if (alg.kind === "ed25519" && jwk?.x) {
    const x = decodeBase64Url(jwk.x);
    if (x?.length === 32) return x;
  }
  throw new KeyError("failed to parse private key");
}
