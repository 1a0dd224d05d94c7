/**
 * Portable X.509 minting for tests and demos: a tiny DER writer plus
 * WebCrypto. No `node:`, Deno or Bun API is used, so it runs unchanged on all
 * three runtimes (and inside the demo exec plugin).
 *
 * Certificates are X.509 v3 signed with ECDSA P-256 / SHA-256 (or RSA
 * PKCS#1 v1.5 / SHA-256 when a loaded CA has an RSA key), with
 * basicConstraints, keyUsage, extKeyUsage, subjectAltName,
 * subjectKeyIdentifier and authorityKeyIdentifier.
 *
 * @example Usage
 * ```ts
 * import { createCa, issueCertificate } from "./pki.ts";
 * const ca = await createCa({ commonName: "demo-ca" });
 * const client = await issueCertificate(ca, {
 *   commonName: "alice",
 *   organizations: ["devs"],
 *   usage: "client",
 *   validSeconds: 5,
 * });
 * console.log(client.certPem, client.keyPem);
 * ```
 *
 * @module
 */

/** A certificate authority that can sign certificates. */
export interface Ca {
  /** The CA certificate, PEM. */
  readonly certPem: string;
  /** The CA private key, PKCS#8 PEM ("PRIVATE KEY"). */
  readonly keyPem: string;
  /** The WebCrypto signing key. */
  readonly privateKey: CryptoKey;
  /** The DER encoding of the CA's subject Name (the issuer of what it signs). */
  readonly subjectDer: Uint8Array;
  /** The CA's subject key identifier (used as authorityKeyIdentifier). */
  readonly keyId: Uint8Array;
}

/** A freshly issued certificate and its private key. */
export interface IssuedPair {
  /** The certificate, PEM. */
  certPem: string;
  /** The private key, PEM, in the requested format. */
  keyPem: string;
  /** The serial number, upper-case hex. */
  serial: string;
}

/** The key algorithms a certificate can be issued for. */
export type KeyType = "ec-p256" | "rsa-2048" | "ed25519";

/**
 * Private-key PEM formats: `pkcs8` ("PRIVATE KEY"), `pkcs1` ("RSA PRIVATE
 * KEY", RSA only), `sec1` ("EC PRIVATE KEY", EC only).
 */
export type KeyFormat = "pkcs8" | "pkcs1" | "sec1";

/** What {@linkcode issueCertificate} should put in the certificate. */
export interface IssueOptions {
  /** The subject CN. */
  commonName: string;
  /** Subject O values (Kubernetes groups for client certificates). */
  organizations?: string[];
  /** `server` sets EKU serverAuth (+ default SANs), `client` sets clientAuth. */
  usage: "server" | "client";
  /** Validity in seconds, counted from now (not from notBefore). Default 3600. */
  validSeconds?: number;
  /** Start of validity. Default: now minus 60 seconds. */
  notBefore?: Date;
  /** DNS SANs. Default for server certs: `["localhost"]`. */
  dnsNames?: string[];
  /** IP SANs (v4 or v6). Default for server certs: `["127.0.0.1"]`. */
  ipAddresses?: string[];
  /** The key algorithm. Default `ec-p256`. */
  keyType?: KeyType;
  /** The private key's PEM format. Default `pkcs8`. */
  keyFormat?: KeyFormat;
}

// ---------------------------------------------------------------- DER writer

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function encodeLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  while (n > 0) {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** One TLV with the given tag byte. */
function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = concat(content);
  return concat([Uint8Array.of(tag), encodeLength(body.length), body]);
}

const seq = (...c: Uint8Array[]) => tlv(0x30, ...c);
const set = (...c: Uint8Array[]) => tlv(0x31, ...c);
const octets = (b: Uint8Array) => tlv(0x04, b);
const bitString = (b: Uint8Array, unused = 0) =>
  tlv(0x03, Uint8Array.of(unused), b);
const explicit = (n: number, ...c: Uint8Array[]) => tlv(0xa0 + n, ...c);
const utf8 = (s: string) => tlv(0x0c, new TextEncoder().encode(s));
const ia5 = (tag: number, s: string) => tlv(tag, new TextEncoder().encode(s));
const NULL = Uint8Array.of(0x05, 0x00);
const TRUE = Uint8Array.of(0x01, 0x01, 0xff);

/** An unsigned big-endian integer as a DER INTEGER. */
function uint(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const b = bytes.subarray(i);
  return b[0] & 0x80 ? tlv(0x02, Uint8Array.of(0), b) : tlv(0x02, b);
}

function small(n: number): Uint8Array {
  return uint(Uint8Array.of(n));
}

function oid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map(Number);
  const out: number[] = [arcs[0] * 40 + arcs[1]];
  for (const arc of arcs.slice(2)) {
    const chunk: number[] = [arc & 0x7f];
    let v = Math.floor(arc / 128);
    while (v > 0) {
      chunk.unshift(0x80 | (v & 0x7f));
      v = Math.floor(v / 128);
    }
    out.push(...chunk);
  }
  return tlv(0x06, Uint8Array.from(out));
}

function time(d: Date): Uint8Array {
  const y = d.getUTCFullYear();
  const p = (n: number) => String(n).padStart(2, "0");
  const rest = p(d.getUTCMonth() + 1) + p(d.getUTCDate()) + p(d.getUTCHours()) +
    p(d.getUTCMinutes()) + p(d.getUTCSeconds()) + "Z";
  return y >= 1950 && y < 2050
    ? ia5(0x17, p(y % 100) + rest) // UTCTime
    : ia5(0x18, String(y).padStart(4, "0") + rest); // GeneralizedTime
}

// ---------------------------------------------------------------- DER reader

interface Node {
  tag: number;
  /** Offset of the first content byte. */
  start: number;
  /** Offset one past the last content byte. */
  end: number;
  /** Offset of the tag byte. */
  at: number;
}

function read(buf: Uint8Array, at: number): Node {
  const tag = buf[at];
  let len = buf[at + 1];
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i];
    start += n;
  }
  if (start + len > buf.length) throw new TypeError("truncated DER");
  return { tag, start, end: start + len, at };
}

function children(buf: Uint8Array, node: Node): Node[] {
  const out: Node[] = [];
  for (let at = node.start; at < node.end;) {
    const c = read(buf, at);
    out.push(c);
    at = c.end;
  }
  return out;
}

function oidText(buf: Uint8Array, node: Node): string {
  const b = buf.subarray(node.start, node.end);
  const arcs = [Math.floor(b[0] / 40), b[0] % 40];
  let v = 0;
  for (let i = 1; i < b.length; i++) {
    v = v * 128 + (b[i] & 0x7f);
    if (!(b[i] & 0x80)) {
      arcs.push(v);
      v = 0;
    }
  }
  return arcs.join(".");
}

// ---------------------------------------------------------------- PEM

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function pem(label: string, der: Uint8Array): string {
  const b64 = toBase64(der).replace(/.{64}/g, "$&\n").replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function unpem(text: string, label: string): Uint8Array {
  const m = text.match(
    new RegExp(`-----BEGIN ${label}-----([^-]+)-----END ${label}-----`),
  );
  if (!m) throw new TypeError(`no "${label}" PEM block found`);
  const bin = atob(m[1].replace(/\s+/g, ""));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function fromBase64Url(s: string): Uint8Array {
  const b = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(b, (c) => c.charCodeAt(0));
}

// ---------------------------------------------------------------- X.509 pieces

const OID = {
  cn: "2.5.4.3",
  o: "2.5.4.10",
  ecPublicKey: "1.2.840.10045.2.1",
  p256: "1.2.840.10045.3.1.7",
  rsaEncryption: "1.2.840.113549.1.1.1",
  ecdsaSha256: "1.2.840.10045.4.3.2",
  rsaSha256: "1.2.840.113549.1.1.11",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  subjectKeyId: "2.5.29.14",
  authorityKeyId: "2.5.29.35",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
} as const;

function name(commonName: string, organizations: readonly string[] = []) {
  const rdn = (type: string, value: string) => set(seq(oid(type), utf8(value)));
  return seq(
    ...organizations.map((o) => rdn(OID.o, o)),
    rdn(OID.cn, commonName),
  );
}

function extension(id: string, critical: boolean, value: Uint8Array) {
  return critical
    ? seq(oid(id), TRUE, octets(value))
    : seq(oid(id), octets(value));
}

/** keyUsage bits, bit 0 = MSB of the first byte. */
function keyUsage(bits: number[]): Uint8Array {
  let v = 0;
  for (const b of bits) v |= 0x80 >> b;
  let unused = 0;
  while (unused < 7 && !(v & (1 << unused))) unused++;
  return bitString(Uint8Array.of(v), unused);
}

function ipBytes(ip: string): Uint8Array {
  if (ip.includes(".") && !ip.includes(":")) {
    const parts = ip.split(".").map(Number);
    if (parts.length !== 4 || parts.some((n) => !(n >= 0 && n <= 255))) {
      throw new TypeError(`invalid IPv4 address: ${ip}`);
    }
    return Uint8Array.from(parts);
  }
  const [head, tail] = ip.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined
    ? h
    : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  if (groups.length !== 8) throw new TypeError(`invalid IP address: ${ip}`);
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 0xff;
  });
  return out;
}

/** Extracts the subjectPublicKey BIT STRING content (without the unused-bits byte). */
function spkiKeyBits(spki: Uint8Array): Uint8Array {
  const [, bits] = children(spki, read(spki, 0));
  return spki.subarray(bits.start + 1, bits.end);
}

async function keyIdOf(spki: Uint8Array): Promise<Uint8Array> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    spkiKeyBits(spki) as Uint8Array<ArrayBuffer>,
  );
  return new Uint8Array(digest);
}

/** ECDSA signatures come from WebCrypto as r||s; X.509 wants SEQ{r, s}. */
function ecdsaDer(raw: Uint8Array): Uint8Array {
  const half = raw.length / 2;
  return seq(uint(raw.subarray(0, half)), uint(raw.subarray(half)));
}

function sigAlgorithm(key: CryptoKey): Uint8Array {
  return key.algorithm.name === "ECDSA"
    ? seq(oid(OID.ecdsaSha256))
    : seq(oid(OID.rsaSha256), NULL);
}

async function sign(key: CryptoKey, tbs: Uint8Array): Promise<Uint8Array> {
  const data = tbs as Uint8Array<ArrayBuffer>;
  if (key.algorithm.name === "ECDSA") {
    const raw = await crypto.subtle.sign(
      { name: "ECDSA", hash: "SHA-256" },
      key,
      data,
    );
    return ecdsaDer(new Uint8Array(raw));
  }
  return new Uint8Array(
    await crypto.subtle.sign("RSASSA-PKCS1-v1_5", key, data),
  );
}

function randomSerial(): Uint8Array {
  const s = crypto.getRandomValues(new Uint8Array(16));
  s[0] &= 0x7f; // positive
  if (s[0] === 0) s[0] = 0x01; // and exactly 16 bytes long
  return s;
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("")
    .toUpperCase();
}

interface TbsInput {
  serial: Uint8Array;
  issuer: Uint8Array;
  subject: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  spki: Uint8Array;
  extensions: Uint8Array[];
  signer: CryptoKey;
}

async function buildCertificate(t: TbsInput): Promise<Uint8Array> {
  const alg = sigAlgorithm(t.signer);
  const tbs = seq(
    explicit(0, small(2)), // v3
    uint(t.serial),
    alg,
    t.issuer,
    seq(time(t.notBefore), time(t.notAfter)),
    t.subject,
    t.spki,
    explicit(3, seq(...t.extensions)),
  );
  const sig = await sign(t.signer, tbs);
  return seq(tbs, alg, bitString(sig));
}

// ---------------------------------------------------------------- keys

const EC_ALG = { name: "ECDSA", namedCurve: "P-256" } as const;
const RSA_ALG = {
  name: "RSASSA-PKCS1-v1_5",
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: "SHA-256",
} as const;

async function generate(type: KeyType): Promise<CryptoKeyPair> {
  const alg = type === "ec-p256"
    ? EC_ALG
    : type === "rsa-2048"
    ? RSA_ALG
    : { name: "Ed25519" };
  return await crypto.subtle.generateKey(alg, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
}

async function exportPrivate(
  key: CryptoKey,
  type: KeyType,
  format: KeyFormat,
): Promise<string> {
  if (format === "pkcs8") {
    return pem(
      "PRIVATE KEY",
      new Uint8Array(await crypto.subtle.exportKey("pkcs8", key)),
    );
  }
  const jwk = await crypto.subtle.exportKey("jwk", key);
  const f = (k: keyof JsonWebKey) => fromBase64Url(jwk[k] as string);
  if (format === "pkcs1") {
    if (type !== "rsa-2048") {
      throw new TypeError(`keyFormat pkcs1 needs an RSA key, not ${type}`);
    }
    const fields = ["n", "e", "d", "p", "q", "dp", "dq", "qi"] as const;
    return pem(
      "RSA PRIVATE KEY",
      seq(small(0), ...fields.map((k) => uint(f(k)))),
    );
  }
  if (type !== "ec-p256") {
    throw new TypeError(`keyFormat sec1 needs an EC key, not ${type}`);
  }
  const point = concat([Uint8Array.of(4), f("x"), f("y")]);
  return pem(
    "EC PRIVATE KEY",
    seq(
      small(1),
      octets(f("d")),
      explicit(0, oid(OID.p256)),
      explicit(1, bitString(point)),
    ),
  );
}

// ---------------------------------------------------------------- API

/**
 * Creates a self-signed ECDSA P-256 certificate authority.
 *
 * @param opts `commonName` (default "kubeauth-demo-ca") and `validSeconds`
 *   (default 10 years).
 * @returns The CA, ready for {@linkcode issueCertificate}.
 */
export async function createCa(
  opts: { commonName?: string; validSeconds?: number } = {},
): Promise<Ca> {
  const pair = await generate("ec-p256");
  const spki = new Uint8Array(
    await crypto.subtle.exportKey("spki", pair.publicKey),
  );
  const keyId = await keyIdOf(spki);
  const subject = name(opts.commonName ?? "kubeauth-demo-ca");
  const now = Date.now();
  const der = await buildCertificate({
    serial: randomSerial(),
    issuer: subject,
    subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + (opts.validSeconds ?? 10 * 365 * 86400) * 1000),
    spki,
    signer: pair.privateKey,
    extensions: [
      extension(OID.basicConstraints, true, seq(TRUE)),
      extension(OID.keyUsage, true, keyUsage([0, 5, 6])),
      extension(OID.subjectKeyId, false, octets(keyId)),
    ],
  });
  return {
    certPem: pem("CERTIFICATE", der),
    keyPem: await exportPrivate(pair.privateKey, "ec-p256", "pkcs8"),
    privateKey: pair.privateKey,
    subjectDer: subject,
    keyId,
  };
}

/**
 * Loads a CA from PEM text: its certificate and its PKCS#8 private key
 * (ECDSA P-256 or RSA).
 *
 * @param certPem The CA certificate.
 * @param keyPem The CA key, "PRIVATE KEY" PEM.
 * @returns The CA, ready for {@linkcode issueCertificate}.
 */
export async function loadCa(certPem: string, keyPem: string): Promise<Ca> {
  const der = unpem(certPem, "CERTIFICATE");
  const [tbs] = children(der, read(der, 0));
  const fields = children(der, tbs);
  const off = fields[0].tag === 0xa0 ? 1 : 0;
  const subjectNode = fields[off + 4];
  const spkiNode = fields[off + 5];
  const subjectDer = der.slice(subjectNode.at, subjectNode.end);
  const spki = der.slice(spkiNode.at, spkiNode.end);
  let keyId: Uint8Array | null = null;
  const extsNode = fields.find((f) => f.tag === 0xa3);
  if (extsNode) {
    const [list] = children(der, extsNode);
    for (const ext of children(der, list)) {
      const parts = children(der, ext);
      if (oidText(der, parts[0]) === OID.subjectKeyId) {
        const outer = parts[parts.length - 1];
        const inner = read(der, outer.start);
        keyId = der.slice(inner.start, inner.end);
      }
    }
  }
  keyId ??= await keyIdOf(spki);

  const keyDer = unpem(keyPem, "PRIVATE KEY");
  const [, algNode] = children(keyDer, read(keyDer, 0));
  const algOid = oidText(keyDer, children(keyDer, algNode)[0]);
  const alg = algOid === OID.ecPublicKey
    ? EC_ALG
    : algOid === OID.rsaEncryption
    ? RSA_ALG
    : null;
  if (!alg) {
    throw new TypeError(`unsupported CA key algorithm ${algOid}`);
  }
  const privateKey = await crypto.subtle.importKey(
    "pkcs8",
    keyDer as Uint8Array<ArrayBuffer>,
    alg,
    false,
    ["sign"],
  );
  return { certPem, keyPem, privateKey, subjectDer, keyId };
}

/**
 * Issues a server or client certificate signed by `ca`, with a fresh key.
 *
 * @param ca The issuing CA.
 * @param opts Subject, usage, validity, SANs and key type/format.
 * @returns The certificate, its key and its serial.
 */
export async function issueCertificate(
  ca: Ca,
  opts: IssueOptions,
): Promise<IssuedPair> {
  const type = opts.keyType ?? "ec-p256";
  const format = opts.keyFormat ?? "pkcs8";
  if (format === "pkcs1" && type !== "rsa-2048") {
    throw new TypeError(`keyFormat pkcs1 needs an RSA key, not ${type}`);
  }
  if (format === "sec1" && type !== "ec-p256") {
    throw new TypeError(`keyFormat sec1 needs an EC key, not ${type}`);
  }
  const pair = await generate(type);
  const spki = new Uint8Array(
    await crypto.subtle.exportKey("spki", pair.publicKey),
  );
  const server = opts.usage === "server";
  const dns = opts.dnsNames ?? (server ? ["localhost"] : []);
  const ips = opts.ipAddresses ?? (server ? ["127.0.0.1"] : []);
  // digitalSignature, plus keyEncipherment for RSA (TLS 1.2 RSA key exchange).
  const usageBits = type === "rsa-2048" ? [0, 2] : [0];
  const extensions = [
    extension(OID.basicConstraints, true, seq()),
    extension(OID.keyUsage, true, keyUsage(usageBits)),
    extension(
      OID.extKeyUsage,
      false,
      seq(oid(server ? OID.serverAuth : OID.clientAuth)),
    ),
    extension(OID.subjectKeyId, false, octets(await keyIdOf(spki))),
    extension(OID.authorityKeyId, false, seq(tlv(0x80, ca.keyId))),
  ];
  if (dns.length + ips.length > 0) {
    extensions.push(
      extension(
        OID.subjectAltName,
        false,
        seq(
          ...dns.map((d) => ia5(0x82, d)),
          ...ips.map((ip) => tlv(0x87, ipBytes(ip))),
        ),
      ),
    );
  }
  const serial = randomSerial();
  const now = Date.now();
  const der = await buildCertificate({
    serial,
    issuer: ca.subjectDer,
    subject: name(opts.commonName, opts.organizations),
    notBefore: opts.notBefore ?? new Date(now - 60_000),
    notAfter: new Date(now + (opts.validSeconds ?? 3600) * 1000),
    spki,
    signer: ca.privateKey,
    extensions,
  });
  return {
    certPem: pem("CERTIFICATE", der),
    keyPem: await exportPrivate(pair.privateKey, type, format),
    serial: hex(serial),
  };
}
