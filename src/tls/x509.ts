/**
 * X.509 certificate reading (subject, validity, public key) and client
 * certificate/key pair validation, with WebCrypto and a small DER reader.
 * Works the same on Deno, Bun and Node. Error messages never contain key
 * material or certificate bytes.
 *
 * @module
 */
import { KubeauthError } from "../errors.ts";
import { toHex } from "./base64.ts";
import { sha256 } from "./sha256.ts";
import {
  concatBytes,
  derChildren,
  DerError,
  type DerNode,
  oidToString,
  readDerExact,
  TAG,
} from "./der.ts";
import {
  compareKeys,
  decodePrivateKey,
  KeyError,
  parseSpki,
  verifyPrivateKey,
} from "./keys.ts";
import { decodePem, encodePem, PemError, safeLabel } from "./pem.ts";

/** What {@linkcode parseCertificatePem} tells about one certificate. */
export interface CertificateInfo {
  /** The subject, RFC 4514 style as Go prints it, e.g. `CN=alice,O=devs`. */
  subject: string;
  /** The issuer, same format. */
  issuer: string;
  /** Start of validity. */
  notBefore: Date;
  /** End of validity. */
  notAfter: Date;
}

/** A certificate parsed from DER. */
interface ParsedCertificate extends CertificateInfo {
  der: Uint8Array;
  spki: Uint8Array;
}

class CertificateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CertificateError";
  }
}

/**
 * Reads every `CERTIFICATE` block of a PEM bundle (a CA bundle, a chain):
 * subject, issuer and validity of each, in order.
 *
 * @example Usage
 * ```ts
 * import { parseCertificatePem } from "./x509.ts";
 * import { encodeDer, oidFromString, TAG } from "./der.ts";
 * import { encodePem } from "./pem.ts";
 *
 * // Set-up: a certificate for CN=ca, valid 2025 to 2035, with an empty
 * // signature (this function reads certificates, it does not verify them).
 * const { publicKey } = await crypto.subtle.generateKey(
 *   { name: "ECDSA", namedCurve: "P-256" },
 *   true,
 *   ["sign", "verify"],
 * );
 * const spki = await crypto.subtle.exportKey("spki", publicKey);
 * const seq = (...kids: Uint8Array[]) => encodeDer(TAG.SEQUENCE, kids);
 * const str = (tag: number, s: string) =>
 *   encodeDer(tag, new TextEncoder().encode(s));
 * const cn = encodeDer(TAG.OID, oidFromString("2.5.4.3"));
 * const name = seq(encodeDer(TAG.SET, seq(cn, str(TAG.UTF8_STRING, "ca"))));
 * const validity = seq(
 *   str(TAG.UTC_TIME, "250101000000Z"),
 *   str(TAG.UTC_TIME, "350101000000Z"),
 * );
 * const alg = seq(encodeDer(TAG.OID, oidFromString("1.2.840.10045.4.3.2")));
 * const serial = encodeDer(TAG.INTEGER, new Uint8Array([1]));
 * const tbs = seq(serial, alg, name, validity, name, new Uint8Array(spki));
 * const noSignature = encodeDer(TAG.BIT_STRING, new Uint8Array(1));
 * const caPem = encodePem("CERTIFICATE", seq(tbs, alg, noSignature));
 *
 * for (const c of parseCertificatePem(caPem)) {
 *   if (c.subject !== "CN=ca" || c.issuer !== "CN=ca") {
 *     throw new Error(c.subject);
 *   }
 *   if (c.notAfter.toISOString() !== "2035-01-01T00:00:00.000Z") {
 *     throw new Error("wrong NotAfter");
 *   }
 * }
 * ```
 *
 * @param pem PEM text.
 * @returns One entry per certificate (other PEM blocks are skipped).
 * @throws {KubeauthError} `CERT_INVALID` when there is no certificate or one
 * cannot be parsed.
 */
export function parseCertificatePem(pem: string): CertificateInfo[] {
  try {
    const blocks = decodePem(pem).filter((b) => b.type === "CERTIFICATE");
    if (blocks.length === 0) {
      throw new CertificateError("failed to find any PEM certificate data");
    }
    return blocks.map((b, i) => {
      try {
        const { subject, issuer, notBefore, notAfter } = parseCertificateDer(
          b.der,
        );
        return { subject, issuer, notBefore, notAfter };
      } catch (err) {
        throw new CertificateError(
          `certificate #${i + 1}: ${reasonOf(err, "malformed certificate")}`,
        );
      }
    });
  } catch (err) {
    throw new KubeauthError(
      "CERT_INVALID",
      `failed parsing certificate: ${reasonOf(err, "malformed certificate")}`,
    );
  }
}

/**
 * A client certificate chain and private key that {@linkcode validateKeyPair}
 * accepted: plain data (the redacted `ClientCertificate` is built from it in
 * `src/credentials/client_certificate.ts`).
 */
export interface ValidatedKeyPair {
  /** The chain as clean PEM, leaf first. */
  readonly certPem: string;
  /** The private key as PKCS#8 PEM (`PRIVATE KEY`). */
  readonly keyPem: string;
  /** Hex SHA-256 of the chain and key, stable across key formats. */
  readonly fingerprint: string;
  /** The leaf's subject, as Go prints it. */
  readonly subject: string;
  /** The leaf's NotAfter. */
  readonly notAfter: Date;
}

/**
 * Validates a client certificate chain and its private key, the way Go's
 * `tls.X509KeyPair` does: every `CERTIFICATE` block is kept (leaf first),
 * the first block whose label ends in `PRIVATE KEY` is the key, read as
 * PKCS#1, PKCS#8 or SEC1 whatever the label says (RSA, ECDSA P-256/P-384/
 * P-521, Ed25519), and the key must match the leaf's public key.
 *
 * The result keeps the chain as clean PEM and the key as PKCS#8 PEM (which
 * every runtime's TLS stack accepts), a stable SHA-256 fingerprint of the
 * pair, the leaf's subject and NotAfter.
 *
 * @example Usage
 * ```ts
 * import { validateKeyPair } from "./x509.ts";
 * import { encodeDer, oidFromString, TAG } from "./der.ts";
 * import { encodePem } from "./pem.ts";
 *
 * // Set-up: a P-256 key as PKCS#8 PEM and a certificate for CN=alice with its
 * // public key and an empty signature (like Go's tls.X509KeyPair, this checks
 * // that the key matches the certificate, not who signed it).
 * const keys = await crypto.subtle.generateKey(
 *   { name: "ECDSA", namedCurve: "P-256" },
 *   true,
 *   ["sign", "verify"],
 * );
 * const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
 * const keyPem = encodePem("PRIVATE KEY", new Uint8Array(pkcs8));
 * const spki = await crypto.subtle.exportKey("spki", keys.publicKey);
 * const seq = (...kids: Uint8Array[]) => encodeDer(TAG.SEQUENCE, kids);
 * const str = (tag: number, s: string) =>
 *   encodeDer(tag, new TextEncoder().encode(s));
 * const cn = encodeDer(TAG.OID, oidFromString("2.5.4.3"));
 * const name = seq(encodeDer(TAG.SET, seq(cn, str(TAG.UTF8_STRING, "alice"))));
 * const validity = seq(
 *   str(TAG.UTC_TIME, "250101000000Z"),
 *   str(TAG.UTC_TIME, "350101000000Z"),
 * );
 * const alg = seq(encodeDer(TAG.OID, oidFromString("1.2.840.10045.4.3.2")));
 * const serial = encodeDer(TAG.INTEGER, new Uint8Array([1]));
 * const tbs = seq(serial, alg, name, validity, name, new Uint8Array(spki));
 * const noSignature = encodeDer(TAG.BIT_STRING, new Uint8Array(1));
 * const certPem = encodePem("CERTIFICATE", seq(tbs, alg, noSignature));
 *
 * const pair = await validateKeyPair(certPem, keyPem);
 * if (pair.subject !== "CN=alice") throw new Error(pair.subject);
 * if (pair.notAfter.getUTCFullYear() !== 2035) throw new Error("NotAfter");
 * if (!/^[0-9a-f]{64}$/.test(pair.fingerprint)) throw new Error("fingerprint");
 * ```
 *
 * @param certPem PEM certificate chain, leaf first.
 * @param keyPem PEM private key.
 * @returns The validated pair (a new object every time).
 * @throws {KubeauthError} `CERT_INVALID`, message starting
 * `failed parsing client key/certificate: ` and a reason without key data.
 */
export async function validateKeyPair(
  certPem: string,
  keyPem: string,
): Promise<ValidatedKeyPair> {
  try {
    return await validate(certPem, keyPem);
  } catch (err) {
    throw new KubeauthError(
      "CERT_INVALID",
      `failed parsing client key/certificate: ${
        reasonOf(err, "malformed input")
      }`,
    );
  }
}

async function validate(
  certPem: string,
  keyPem: string,
): Promise<ValidatedKeyPair> {
  const chain = findCertificates(certPem);
  const keyDer = findPrivateKey(keyPem);
  let leaf: ParsedCertificate;
  try {
    leaf = parseCertificateDer(chain[0]);
  } catch (err) {
    throw new CertificateError(
      `failed to parse certificate: ${reasonOf(err, "malformed")}`,
    );
  }
  const key = await verifyPrivateKey(decodePrivateKey(keyDer));
  const cmp = compareKeys(parseSpki(leaf.spki), key.publicKey);
  if (cmp === "type-mismatch") {
    throw new CertificateError(
      "private key type does not match public key type",
    );
  }
  if (cmp === "mismatch") {
    throw new CertificateError("private key does not match public key");
  }
  const digestInput: Uint8Array[] = [];
  for (const der of chain) digestInput.push(lengthPrefix(der), der);
  digestInput.push(lengthPrefix(key.pkcs8), key.pkcs8);
  const digest = sha256(concatBytes(digestInput));
  return Object.freeze({
    certPem: chain.map((der) => encodePem("CERTIFICATE", der)).join(""),
    keyPem: encodePem("PRIVATE KEY", key.pkcs8),
    fingerprint: toHex(new Uint8Array(digest)),
    subject: leaf.subject,
    notAfter: new Date(leaf.notAfter.getTime()),
  });
}

function lengthPrefix(bytes: Uint8Array): Uint8Array {
  const n = bytes.length;
  return new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
}

/** Only our own error classes carry messages known to be free of secrets. */
function reasonOf(err: unknown, fallback: string): string {
  if (
    err instanceof CertificateError || err instanceof KeyError ||
    err instanceof PemError || err instanceof DerError
  ) {
    return err.message;
  }
  return fallback;
}

function findCertificates(certPem: string): Uint8Array[] {
  const blocks = decodePem(certPem);
  const certs = blocks.filter((b) => b.type === "CERTIFICATE");
  if (certs.length > 0) return certs.map((b) => b.der);
  if (blocks.length === 0) {
    throw new CertificateError(
      "failed to find any PEM data in certificate input",
    );
  }
  const skipped = blocks.map((b) => safeLabel(b.type));
  if (skipped.length === 1 && skipped[0].endsWith("PRIVATE KEY")) {
    throw new CertificateError(
      "failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched",
    );
  }
  throw new CertificateError(
    `failed to find "CERTIFICATE" PEM block in certificate input after skipping PEM blocks of the following types: [${
      skipped.join(" ")
    }]`,
  );
}

function findPrivateKey(keyPem: string): Uint8Array {
  const blocks = decodePem(keyPem);
  const skipped: string[] = [];
  for (const b of blocks) {
    if (b.type === "PRIVATE KEY" || b.type.endsWith(" PRIVATE KEY")) {
      if (b.type === "ENCRYPTED PRIVATE KEY") {
        throw new CertificateError(
          "failed to parse private key: encrypted private keys are not supported (ENCRYPTED PRIVATE KEY)",
        );
      }
      if (b.hasHeaders) {
        throw new CertificateError(
          "failed to parse private key: PEM headers found (an encrypted key?); encrypted private keys are not supported",
        );
      }
      return b.der;
    }
    skipped.push(safeLabel(b.type));
  }
  if (skipped.length === 0) {
    throw new CertificateError("failed to find any PEM data in key input");
  }
  if (skipped.length === 1 && skipped[0] === "CERTIFICATE") {
    throw new CertificateError(
      "found a certificate rather than a key in the PEM for the private key",
    );
  }
  throw new CertificateError(
    `failed to find PEM block with type ending in "PRIVATE KEY" in key input after skipping PEM blocks of the following types: [${
      skipped.join(" ")
    }]`,
  );
}

function parseCertificateDer(der: Uint8Array): ParsedCertificate {
  const [tbs, sigAlg, sig] = derChildren(readDerExact(der, TAG.SEQUENCE));
  if (
    tbs?.tag !== TAG.SEQUENCE || sigAlg?.tag !== TAG.SEQUENCE ||
    sig?.tag !== TAG.BIT_STRING
  ) {
    throw new CertificateError("malformed certificate");
  }
  const fields = derChildren(tbs);
  let i = 0;
  if (fields[0]?.tag === 0xa0) i++; // explicit version
  const [serial, , issuer, validity, subject, spki] = fields.slice(i);
  if (
    serial?.tag !== TAG.INTEGER || issuer?.tag !== TAG.SEQUENCE ||
    validity?.tag !== TAG.SEQUENCE || subject?.tag !== TAG.SEQUENCE ||
    spki?.tag !== TAG.SEQUENCE
  ) {
    throw new CertificateError("malformed certificate");
  }
  const [nb, na] = derChildren(validity);
  if (!nb || !na) throw new CertificateError("malformed certificate validity");
  return {
    der,
    subject: nameToString(subject),
    issuer: nameToString(issuer),
    notBefore: parseTime(nb),
    notAfter: parseTime(na),
    spki: spki.raw,
  };
}

function parseTime(node: DerNode): Date {
  const s = new TextDecoder().decode(node.content);
  let m: RegExpExecArray | null;
  let year: number;
  if (node.tag === TAG.UTC_TIME) {
    m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/.exec(s);
    if (!m) throw new CertificateError("malformed certificate time");
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (node.tag === TAG.GENERALIZED_TIME) {
    m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?Z$/.exec(s);
    if (!m) throw new CertificateError("malformed certificate time");
    year = Number(m[1]);
  } else {
    throw new CertificateError("malformed certificate time");
  }
  const t = Date.UTC(
    year,
    Number(m[2]) - 1,
    Number(m[3]),
    Number(m[4]),
    Number(m[5]),
    Number(m[6] ?? "0"),
  );
  if (Number.isNaN(t)) throw new CertificateError("malformed certificate time");
  return new Date(t);
}

// Go's pkix.Name.String(): known attributes in this order (reversed when
// printed), several values of one type joined with "+", others first (so
// printed last) as OID=#hex.
const KNOWN: [string, string][] = [
  ["2.5.4.6", "C"],
  ["2.5.4.8", "ST"],
  ["2.5.4.7", "L"],
  ["2.5.4.9", "STREET"],
  ["2.5.4.17", "POSTALCODE"],
  ["2.5.4.10", "O"],
  ["2.5.4.11", "OU"],
  ["2.5.4.3", "CN"],
  ["2.5.4.5", "SERIALNUMBER"],
];

function nameToString(name: DerNode): string {
  const byType = new Map<string, string[]>();
  const extra: string[][] = [];
  for (const rdn of derChildren(name)) {
    if (rdn.tag !== TAG.SET) throw new CertificateError("malformed name");
    for (const atv of derChildren(rdn)) {
      const [typeNode, valueNode] = derChildren(atv);
      if (typeNode?.tag !== TAG.OID || !valueNode) {
        throw new CertificateError("malformed name");
      }
      const oid = oidToString(typeNode.content);
      const known = KNOWN.find(([o]) => o === oid);
      const text = decodeString(valueNode);
      if (known && text !== undefined) {
        const list = byType.get(oid) ?? [];
        list.push(text);
        byType.set(oid, list);
      } else {
        extra.push([`${oid}=#${toHex(valueNode.raw)}`]);
      }
    }
  }
  const rdns: string[][] = [...extra];
  for (const [oid, label] of KNOWN) {
    const values = byType.get(oid);
    if (values) rdns.push(values.map((v) => `${label}=${escapeValue(v)}`));
  }
  return rdns.reverse().map((r) => r.join("+")).join(",");
}

function decodeString(node: DerNode): string | undefined {
  const c = node.content;
  switch (node.tag) {
    case TAG.UTF8_STRING:
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING:
    case 0x12: // NumericString
      return new TextDecoder().decode(c);
    case TAG.T61_STRING: {
      let s = "";
      for (const b of c) s += String.fromCharCode(b);
      return s;
    }
    case TAG.BMP_STRING: {
      let s = "";
      for (let i = 0; i + 1 < c.length; i += 2) {
        s += String.fromCharCode((c[i] << 8) | c[i + 1]);
      }
      return s;
    }
    case TAG.UNIVERSAL_STRING: {
      let s = "";
      for (let i = 0; i + 3 < c.length; i += 4) {
        s += String.fromCodePoint(
          ((c[i] << 24) | (c[i + 1] << 16) | (c[i + 2] << 8) | c[i + 3]) >>> 0,
        );
      }
      return s;
    }
    default:
      return undefined;
  }
}

function escapeValue(v: string): string {
  let out = "";
  const chars = [...v];
  chars.forEach((c, k) => {
    let escape = false;
    if (',+"\\<>;'.includes(c)) escape = true;
    else if (c === " ") escape = k === 0 || k === chars.length - 1;
    else if (c === "#") escape = k === 0;
    out += escape ? "\\" + c : c;
  });
  return out;
}
