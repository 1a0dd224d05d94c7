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
 * ```ts ignore
 * import { parseClientCertificate } from "./client_certificate.ts";
 * const cc = await parseClientCertificate(certPem, keyPem);
 * console.log(cc.subject, cc.notAfter, cc.fingerprint);
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
