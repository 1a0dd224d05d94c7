// Client certificate/key validation (parseClientCertificate) and certificate
// reading (parseCertificatePem), with keys and certificates made by openssl
// in a temp dir: PKCS#1 / PKCS#8 / SEC1 × RSA / ECDSA P-256, P-384 / Ed25519,
// Go's label leniency, chains, mismatches, and that no message leaks a key.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createPrivateKey } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeauthError } from "../src/errors.ts";
import { parseCertificatePem } from "../src/tls/x509.ts";
import { parseClientCertificate } from "../src/credentials/client_certificate.ts";
import {
  compareKeys,
  decodePrivateKey,
  parseSpki,
  type PublicKey,
  verifyPrivateKey,
} from "../src/tls/keys.ts";
import { decodePem, encodePem } from "../src/tls/pem.ts";
import { sha256 } from "../src/tls/sha256.ts";

let dir = "";
const read = (name: string) => readFileSync(join(dir, name), "utf8");

function openssl(...args: string[]): void {
  execFileSync("openssl", args, {
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** A self-signed certificate for `key` with subject `subj`. */
function selfSigned(key: string, out: string, subj: string): void {
  openssl(
    "req",
    "-x509",
    "-new",
    "-key",
    key,
    "-out",
    out,
    "-subj",
    subj,
    "-days",
    "2",
  );
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), "kubeauth-x509-"));
  openssl(
    "genpkey",
    "-algorithm",
    "RSA",
    "-pkeyopt",
    "rsa_keygen_bits:2048",
    "-out",
    "rsa.p8",
  );
  openssl("rsa", "-in", "rsa.p8", "-traditional", "-out", "rsa.p1");
  openssl(
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-out",
    "ec.p8",
  );
  openssl("ec", "-in", "ec.p8", "-out", "ec.sec1");
  openssl("ec", "-in", "ec.p8", "-no_public", "-out", "ec.nopub.sec1");
  openssl(
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-384",
    "-out",
    "ec384.p8",
  );
  openssl("ec", "-in", "ec384.p8", "-out", "ec384.sec1");
  openssl("genpkey", "-algorithm", "ED25519", "-out", "ed.p8");
  openssl(
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-out",
    "other-ec.p8",
  );
  openssl(
    "genpkey",
    "-algorithm",
    "RSA",
    "-pkeyopt",
    "rsa_keygen_bits:2048",
    "-out",
    "other-rsa.p8",
  );
  openssl(
    "pkcs8",
    "-topk8",
    "-in",
    "ec.p8",
    "-out",
    "ec.enc.p8",
    "-passout",
    "pass:pw",
  );
  selfSigned("rsa.p8", "rsa.crt", "/O=devs/O=ops/CN=alice");
  selfSigned("ec.p8", "ec.crt", "/O=system:masters/CN=bob");
  selfSigned("ec384.p8", "ec384.crt", "/CN=carol");
  selfSigned("ed.p8", "ed.crt", "/CN=dave");
  selfSigned("ec.p8", "ec-escape.crt", "/CN=a\\,b\\+c #x");
  // A chain: root → intermediate → leaf (leaf key: other-ec).
  openssl(
    "req",
    "-x509",
    "-new",
    "-key",
    "rsa.p8",
    "-out",
    "root.crt",
    "-subj",
    "/CN=root",
    "-days",
    "2",
  );
  writeFileSync(join(dir, "ca.ext"), "basicConstraints=critical,CA:TRUE\n");
  openssl(
    "req",
    "-new",
    "-key",
    "ec384.p8",
    "-out",
    "int.csr",
    "-subj",
    "/CN=intermediate",
  );
  openssl(
    "x509",
    "-req",
    "-in",
    "int.csr",
    "-CA",
    "root.crt",
    "-CAkey",
    "rsa.p8",
    "-CAcreateserial",
    "-out",
    "int.crt",
    "-days",
    "2",
    "-extfile",
    "ca.ext",
  );
  openssl(
    "req",
    "-new",
    "-key",
    "other-ec.p8",
    "-out",
    "leaf.csr",
    "-subj",
    "/O=team/CN=erin",
  );
  openssl(
    "x509",
    "-req",
    "-in",
    "leaf.csr",
    "-CA",
    "int.crt",
    "-CAkey",
    "ec384.p8",
    "-CAcreateserial",
    "-out",
    "leaf.crt",
    "-days",
    "2",
  );
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Base64 lines of a PEM body: none of them may appear in a message. */
function secretLines(pem: string): string[] {
  return pem.split("\n").filter((l) => l.length > 20 && !l.startsWith("-----"));
}

async function rejectsCert(
  certPem: string,
  keyPem: string,
  reason: string,
): Promise<void> {
  await assert.rejects(parseClientCertificate(certPem, keyPem), (err) => {
    assert.ok(err instanceof KubeauthError, String(err));
    assert.equal(err.code, "CERT_INVALID");
    assert.ok(
      err.message.startsWith("failed parsing client key/certificate: "),
      err.message,
    );
    assert.ok(err.message.includes(reason), `${err.message} lacks ${reason}`);
    for (const line of secretLines(keyPem)) {
      assert.ok(!err.message.includes(line), "key material in message");
    }
    return true;
  });
}

test("parseClientCertificate: every key format × algorithm, fingerprint independent of the format", async () => {
  const cases: [string, string[], string][] = [
    ["rsa.crt", ["rsa.p1", "rsa.p8"], "CN=alice,O=devs+O=ops"],
    [
      "ec.crt",
      ["ec.sec1", "ec.p8", "ec.nopub.sec1"],
      "CN=bob,O=system:masters",
    ],
    ["ec384.crt", ["ec384.sec1", "ec384.p8"], "CN=carol"],
    ["ed.crt", ["ed.p8"], "CN=dave"],
  ];
  for (const [cert, keys, subject] of cases) {
    const prints = new Set<string>();
    for (const key of keys) {
      const cc = await parseClientCertificate(read(cert), read(key));
      assert.equal(cc.subject, subject, `${cert}+${key}`);
      assert.match(cc.fingerprint, /^[0-9a-f]{64}$/);
      prints.add(cc.fingerprint);
      // Normalised key: PKCS#8 PEM, which every runtime's TLS stack loads.
      assert.match(cc.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
      createPrivateKey(cc.keyPem);
      assert.match(cc.certPem, /^-----BEGIN CERTIFICATE-----\n/);
      // NotAfter as openssl prints it.
      const end = execFileSync("openssl", [
        "x509",
        "-in",
        join(dir, cert),
        "-noout",
        "-enddate",
      ])
        .toString().trim().replace("notAfter=", "");
      assert.equal(cc.notAfter.getTime(), new Date(end).getTime());
      // Secrets stay out of every printer.
      assert.ok(!JSON.stringify(cc).includes("PRIVATE KEY"));
    }
    // The no-public-key SEC1 variant is the same key: same fingerprint.
    assert.equal(prints.size, 1, `${cert}: ${[...prints]}`);
  }
});

test("parseClientCertificate: Go's label leniency (SEC1 or PKCS#1 under 'PRIVATE KEY', any '… PRIVATE KEY')", async () => {
  // client-go's own test keys: SEC1 bytes in a "PRIVATE KEY" block.
  const sec1AsPkcs8 = read("ec.sec1").replace(/EC PRIVATE KEY/g, "PRIVATE KEY");
  assert.equal(
    (await parseClientCertificate(read("ec.crt"), sec1AsPkcs8)).subject,
    "CN=bob,O=system:masters",
  );
  const pkcs1AsPkcs8 = read("rsa.p1").replace(
    /RSA PRIVATE KEY/g,
    "PRIVATE KEY",
  );
  assert.equal(
    (await parseClientCertificate(read("rsa.crt"), pkcs1AsPkcs8)).subject,
    "CN=alice,O=devs+O=ops",
  );
  const pkcs8AsOther = read("ed.p8").replace(
    /PRIVATE KEY/g,
    "OPENSSH PRIVATE KEY",
  );
  assert.equal(
    (await parseClientCertificate(read("ed.crt"), pkcs8AsOther)).subject,
    "CN=dave",
  );
  // Text around the blocks and CRLF line ends are ignored.
  const noisy = "garbage before\r\n" + read("ec.crt").replace(/\n/g, "\r\n") +
    "after";
  assert.equal(
    (await parseClientCertificate(noisy, "x\n" + read("ec.p8"))).subject,
    "CN=bob,O=system:masters",
  );
});

test("parseClientCertificate: a chain is kept leaf first with its intermediate", async () => {
  const chain = read("leaf.crt") + read("int.crt");
  const cc = await parseClientCertificate(chain, read("other-ec.p8"));
  assert.equal(cc.subject, "CN=erin,O=team");
  const infos = parseCertificatePem(cc.certPem);
  assert.deepEqual(infos.map((c) => c.subject), [
    "CN=erin,O=team",
    "CN=intermediate",
  ]);
  assert.equal(infos[1].issuer, "CN=root");
  // A different chain for the same leaf and key is a different identity.
  const alone = await parseClientCertificate(
    read("leaf.crt"),
    read("other-ec.p8"),
  );
  assert.notEqual(alone.fingerprint, cc.fingerprint);
});

test("parseClientCertificate: mismatched keys are refused with Go's reasons", async () => {
  await rejectsCert(
    read("ec.crt"),
    read("other-ec.p8"),
    "private key does not match public key",
  );
  await rejectsCert(
    read("rsa.crt"),
    read("other-rsa.p8"),
    "private key does not match public key",
  );
  await rejectsCert(
    read("ec.crt"),
    read("ec384.p8"),
    "private key does not match public key",
  );
  await rejectsCert(
    read("rsa.crt"),
    read("ec.p8"),
    "private key type does not match public key type",
  );
  await rejectsCert(
    read("ed.crt"),
    read("rsa.p1"),
    "private key type does not match public key type",
  );
});

test("parseClientCertificate: unparsable input (client-go's beta-with-bad-TLS-credentials and more)", async () => {
  await rejectsCert(
    "bar",
    "foo",
    "failed to find any PEM data in certificate input",
  );
  await rejectsCert(
    read("ec.crt"),
    "foo",
    "failed to find any PEM data in key input",
  );
  await rejectsCert(
    read("ec.p8"),
    read("ec.crt"),
    "PEM inputs may have been switched",
  );
  await rejectsCert(
    read("ec.crt"),
    read("ec.crt"),
    "found a certificate rather than a key in the PEM for the private key",
  );
  await rejectsCert(
    read("ec.crt"),
    read("ec.enc.p8"),
    "encrypted private keys are not supported",
  );
  await rejectsCert(
    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    read("ec.p8"),
    "failed to parse certificate",
  );
  await rejectsCert(
    read("ec.crt"),
    "-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----\n",
    "not contain valid base64",
  );
  const truncatedKey = read("ec.p8").split("\n");
  truncatedKey.splice(2, 1);
  await rejectsCert(
    read("ec.crt"),
    truncatedKey.join("\n"),
    "failed to parse private key",
  );
  // A private key whose bytes are garbage DER, under a key label.
  const junk = "-----BEGIN EC PRIVATE KEY-----\n" + btoa("x".repeat(64)) +
    "\n-----END EC PRIVATE KEY-----\n";
  await rejectsCert(read("ec.crt"), junk, "failed to parse private key");
  await rejectsCert(
    read("ec.crt"),
    read("ec.p8").replace("-----END PRIVATE KEY-----", ""),
    "not terminated",
  );
});

test("parseCertificatePem: CA bundles, subject escaping as Go prints it", () => {
  const infos = parseCertificatePem(
    read("rsa.crt") + read("ec.crt") + read("ec-escape.crt"),
  );
  assert.equal(infos.length, 3);
  assert.equal(infos[0].subject, "CN=alice,O=devs+O=ops");
  assert.equal(infos[2].subject, "CN=a\\,b\\+c #x");
  assert.ok(infos[1].notBefore < infos[1].notAfter);
  assert.throws(() => parseCertificatePem("nothing"), (err) => {
    assert.ok(err instanceof KubeauthError);
    assert.equal(err.code, "CERT_INVALID");
    return true;
  });
});

test("sha256 (used for fingerprints) matches WebCrypto at every padding boundary", async () => {
  for (
    const n of [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 70_000]
  ) {
    const data = new Uint8Array(n);
    for (let i = 0; i < n; i++) data[i] = (i * 31 + 7) & 255;
    const want = new Uint8Array(
      await globalThis.crypto.subtle.digest("SHA-256", data),
    );
    assert.deepEqual(sha256(data), want, `length ${n}`);
  }
});

/** The DER of the first PEM block of a file. */
function derOf(name: string): Uint8Array {
  return decodePem(read(name))[0].der;
}

/** Where `pattern` first occurs in `bytes` (-1 when absent). */
function indexOfBytes(bytes: Uint8Array, pattern: number[]): number {
  outer: for (let i = 0; i + pattern.length <= bytes.length; i++) {
    for (let j = 0; j < pattern.length; j++) {
      if (bytes[i + j] !== pattern[j]) continue outer;
    }
    return i;
  }
  return -1;
}

/** Offset of a P-256 scalar in an ECPrivateKey: `02 01 01 04 20 d…`. */
function scalarOffset(der: Uint8Array): number {
  const i = indexOfBytes(der, [0x02, 0x01, 0x01, 0x04, 0x20]);
  assert.ok(i > 0, "no P-256 scalar found");
  return i + 5;
}

/** Offset of an uncompressed P-256 point in `[1] BIT STRING 00 04 X Y`. */
function pointOffset(der: Uint8Array): number {
  const i = indexOfBytes(der, [0x03, 0x42, 0x00, 0x04]);
  assert.ok(i > 0, "no P-256 point found");
  return i + 3;
}

test("parseClientCertificate: an EC key whose scalar does not belong to its (matching) public point is refused", async () => {
  // The embedded point is the certificate's; only the scalar is wrong (a
  // corrupted file). The point must be derived from the scalar: comparing
  // the embedded point would accept this key, and so would Deno's WebCrypto
  // import of it (Deno notices only on export).
  for (
    const [file, label] of [["ec.p8", "PRIVATE KEY"], [
      "ec.sec1",
      "EC PRIVATE KEY",
    ]]
  ) {
    const der = derOf(file).slice();
    der[scalarOffset(der) + 31] ^= 0x01;
    await rejectsCert(
      read("ec.crt"),
      encodePem(label, der),
      "private key does not match public key",
    );
  }
});

test("parseClientCertificate: an EC key with a wrong embedded point but the right scalar is accepted with the derived point, as Go does", async () => {
  const good = await parseClientCertificate(read("ec.crt"), read("ec.p8"));
  const other = derOf("other-ec.p8");
  const otherPoint = other.subarray(
    pointOffset(other),
    pointOffset(other) + 65,
  );
  for (
    const [file, label] of [["ec.p8", "PRIVATE KEY"], [
      "ec.sec1",
      "EC PRIVATE KEY",
    ]]
  ) {
    const der = derOf(file).slice();
    der.set(otherPoint, pointOffset(der));
    const cc = await parseClientCertificate(
      read("ec.crt"),
      encodePem(label, der),
    );
    assert.equal(cc.fingerprint, good.fingerprint, file);
    assert.equal(cc.keyPem, good.keyPem, file);
  }
});

test("parseClientCertificate: the same pair again gives the same result, in every key format", async () => {
  const pairs: [string, string][] = [
    ["rsa.crt", "rsa.p1"],
    ["rsa.crt", "rsa.p8"],
    ["ec.crt", "ec.sec1"],
    ["ec.crt", "ec.p8"],
    ["ec.crt", "ec.nopub.sec1"],
    ["ec384.crt", "ec384.sec1"],
    ["ed.crt", "ed.p8"],
    ["leaf.crt", "other-ec.p8"],
  ];
  for (const [cert, key] of pairs) {
    const first = await parseClientCertificate(read(cert), read(key));
    for (let i = 0; i < 3; i++) {
      const again = await parseClientCertificate(read(cert), read(key));
      assert.notEqual(again, first, "a new object every time");
      assert.notEqual(again.notAfter, first.notAfter, "Dates are not shared");
      assert.deepEqual(
        {
          certPem: again.certPem,
          keyPem: again.keyPem,
          fingerprint: again.fingerprint,
          subject: again.subject,
          notAfter: again.notAfter.getTime(),
        },
        {
          certPem: first.certPem,
          keyPem: first.keyPem,
          fingerprint: first.fingerprint,
          subject: first.subject,
          notAfter: first.notAfter.getTime(),
        },
        `${cert}+${key}`,
      );
    }
  }
  // A pair validated before never vouches for another key with that
  // certificate, nor for that key with another certificate.
  await parseClientCertificate(read("ec.crt"), read("ec.p8"));
  await rejectsCert(
    read("ec.crt"),
    read("other-ec.p8"),
    "private key does not match public key",
  );
  await rejectsCert(
    read("leaf.crt"),
    read("ec.p8"),
    "private key does not match public key",
  );
  // Lone surrogates all encode as U+FFFD in UTF-8: such text is never
  // answered from the cache (here, only the second has mismatched labels).
  const body = read("ec.p8").split("\n").slice(1, -2).join("\n");
  const labelled = (begin: string, end: string) =>
    `-----BEGIN ${begin} PRIVATE KEY-----\n${body}\n-----END ${end} PRIVATE KEY-----\n`;
  await parseClientCertificate(read("ec.crt"), labelled("\uD800", "\uD800"));
  await rejectsCert(
    read("ec.crt"),
    labelled("\uD800", "\uD801"),
    "ends with a different label",
  );
  // A certificate input that also holds the key (some plugins send both in
  // clientCertificateData) works, and again from the cache.
  for (let i = 0; i < 2; i++) {
    const cc = await parseClientCertificate(
      read("ec.crt") + read("ec.p8"),
      read("ec.p8"),
    );
    assert.equal(cc.subject, "CN=bob,O=system:masters");
    assert.ok(!cc.certPem.includes("PRIVATE KEY"));
  }
});

test("keys: compareKeys reads a compressed EC point in a certificate", async () => {
  const cert = parseSpki(
    decodeSpkiOfCertificate(derOf("ec.crt")),
  ) as Extract<PublicKey, { kty: "EC" }>;
  const priv = (await verifyPrivateKey(decodePrivateKey(derOf("ec.p8"))))
    .publicKey;
  assert.equal(compareKeys(cert, priv), "match");
  const p = cert.point;
  const odd = (p[64] & 1) === 1;
  const compressed = new Uint8Array(33);
  compressed[0] = odd ? 0x03 : 0x02;
  compressed.set(p.subarray(1, 33), 1);
  assert.equal(
    compareKeys({ kty: "EC", crv: "P-256", point: compressed }, priv),
    "match",
  );
  compressed[0] ^= 0x01; // the other Y
  assert.equal(
    compareKeys({ kty: "EC", crv: "P-256", point: compressed }, priv),
    "mismatch",
  );
  assert.equal(
    compareKeys({ kty: "EC", crv: "P-384", point: p }, priv),
    "mismatch",
  );
});

/** The SubjectPublicKeyInfo of a DER certificate (tbs field 7, after version). */
function decodeSpkiOfCertificate(der: Uint8Array): Uint8Array {
  // Find the id-ecPublicKey SPKI: SEQUENCE { SEQUENCE { OID 1.2.840.10045.2.1 …
  const i = indexOfBytes(der, [0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48]);
  assert.ok(i > 2 && der[i - 2] === 0x30, "no EC SubjectPublicKeyInfo");
  return der.subarray(i - 2, i + der[i - 1]);
}
