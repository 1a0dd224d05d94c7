/**
 * Client certificate/key validation that yields the redacted
 * {@linkcode ClientCertificate} credentials carry.
 *
 * @module
 */
import { validateKeyPair } from "../tls/x509.ts";
import {
  type ClientCertificate,
  makeClientCertificate,
} from "./credentials.ts";

/**
 * Validates a client certificate chain and its private key the way Go's
 * `tls.X509KeyPair` does (see `validateKeyPair` in `src/tls/x509.ts`) and
 * returns them as a {@linkcode ClientCertificate} whose key never shows in
 * `String()`, `JSON.stringify` or inspect output.
 *
 * @example Usage
 * ```ts
 * import { parseClientCertificate } from "./client_certificate.ts";
 * // A self-signed Ed25519 certificate for CN=alice, minted with WebCrypto.
 * const der = (tag: number, ...parts: Uint8Array[]) => {
 *   const body = parts.flatMap((p) => [...p]);
 *   const n = body.length; // < 256 here
 *   return Uint8Array.from([tag, ...(n < 128 ? [n] : [0x81, n]), ...body]);
 * };
 * const text = (s: string) => new TextEncoder().encode(s);
 * const cn = Uint8Array.of(6, 3, 85, 4, 3); // OID 2.5.4.3
 * const name = der(0x30, der(0x31, der(0x30, cn, der(0x0c, text("alice")))));
 * const ed25519 = der(0x30, Uint8Array.of(6, 3, 43, 101, 112)); // 1.3.101.112
 * const keys = await crypto.subtle.generateKey("Ed25519", true, ["sign"]);
 * const { publicKey, privateKey } = keys as CryptoKeyPair;
 * const spki = new Uint8Array(await crypto.subtle.exportKey("spki", publicKey));
 * const tbs = der(
 *   0x30,
 *   Uint8Array.of(0xa0, 3, 2, 1, 2, 2, 1, 1), // v3, serial 1
 *   ed25519,
 *   name,
 *   // valid from 2025-01-01 to 2049-12-31 (UTCTime)
 *   der(0x30, der(0x17, text("250101000000Z")), der(0x17, text("491231235959Z"))),
 *   name,
 *   spki,
 * );
 * const sig = new Uint8Array(await crypto.subtle.sign("Ed25519", privateKey, tbs));
 * const cert = der(0x30, tbs, ed25519, der(3, Uint8Array.of(0), sig));
 * const pkcs8 = await crypto.subtle.exportKey("pkcs8", privateKey);
 * const pem = (label: string, bytes: Uint8Array) =>
 *   `-----BEGIN ${label}-----\n${btoa(String.fromCharCode(...bytes))}\n` +
 *   `-----END ${label}-----\n`;
 *
 * const cc = await parseClientCertificate(
 *   pem("CERTIFICATE", cert),
 *   pem("PRIVATE KEY", new Uint8Array(pkcs8)),
 * );
 * if (cc.subject !== "CN=alice") throw new Error(cc.subject);
 * if (cc.notAfter.toISOString() !== "2049-12-31T23:59:59.000Z") {
 *   throw new Error("wrong notAfter");
 * }
 * if (JSON.stringify(cc).includes("PRIVATE KEY")) throw new Error("key shown");
 * ```
 *
 * @param certPem PEM certificate chain, leaf first.
 * @param keyPem PEM private key.
 * @returns The validated pair.
 * @throws {KubeauthError} `CERT_INVALID`, message starting
 * `failed parsing client key/certificate: ` and a reason without key data.
 */
export async function parseClientCertificate(
  certPem: string,
  keyPem: string,
): Promise<ClientCertificate> {
  return makeClientCertificate(await validateKeyPair(certPem, keyPem));
}
