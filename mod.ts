/**
 * kubeauth: Kubernetes client authentication for Deno, Bun and Node.
 *
 * `createAuthedFetch()` reads a kubeconfig the way kubectl does and returns a
 * `fetch` bound to one context: it runs the user's exec credential plugin,
 * caches and refreshes what it returns, injects the Bearer token and the TLS
 * client certificate, retries once after a 401 with fresh credentials, and
 * closes every connection opened with a client certificate once that
 * certificate rotates.
 *
 * @example Usage
 * ```ts ignore
 * import { createAuthedFetch } from "@kubeauth/fetch";
 * const kube = await createAuthedFetch();
 * const res = await kube("/api/v1/namespaces");
 * console.log(res.status, await res.json());
 * await kube.close();
 * ```
 *
 * @module
 */
export * from "./src/authed_fetch.ts";
export * from "./src/credential_source.ts";
export * from "./src/errors.ts";
export * from "./src/credentials.ts";
export * from "./src/kubeconfig/mod.ts";
export {
  parseCertificatePem,
  parseClientCertificate,
} from "./src/exec/x509.ts";
export type { CertificateInfo } from "./src/exec/x509.ts";
export { getExecAuthenticator } from "./src/exec/authenticator.ts";
export type { ExecAuthenticatorOptions } from "./src/exec/authenticator.ts";
export type { ExecEvent, ExecEventListener } from "./src/exec/events.ts";
export type { TransportEvent } from "./src/connection_registry.ts";
