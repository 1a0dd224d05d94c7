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

// The fetch client.
export { authedFetch, createAuthedFetch } from "./src/fetch/authed_fetch.ts";
export type {
  AuthedFetch,
  AuthedFetchEvent,
  AuthedFetchOptions,
} from "./src/fetch/authed_fetch.ts";
export type { TransportEvent } from "./src/fetch/connection_registry.ts";
export { createCredentialSource } from "./src/fetch/credential_source.ts";
export type { CredentialSourceOptions } from "./src/fetch/credential_source.ts";

// Errors.
export {
  ExecPluginError,
  KubeauthError,
  KubeconfigError,
} from "./src/errors.ts";
export type {
  ExecPluginErrorOptions,
  KubeauthErrorCode,
  KubeauthErrorOptions,
  KubeconfigErrorOptions,
} from "./src/errors.ts";

// Credentials and their sources.
export { makeCredentials } from "./src/credentials/credentials.ts";
export type {
  ClientCertificate,
  CredentialFields,
  Credentials,
  CredentialSource,
  CredentialSourceKind,
  UnauthorizedResponse,
} from "./src/credentials/credentials.ts";
export { parseClientCertificate } from "./src/credentials/client_certificate.ts";

// Exec credential plugins.
export { getExecAuthenticator } from "./src/exec/authenticator.ts";
export type { ExecAuthenticatorOptions } from "./src/exec/authenticator.ts";
export type { ExecEvent, ExecEventListener } from "./src/exec/events.ts";
export type {
  ExecRunAnswer,
  ExecRunCache,
  ExecRunCacheEvent,
  ExecRunIdentity,
  ExecRunLoader,
  ExecRunResult,
} from "./src/exec/run_cache.ts";

// TLS material.
export { parseCertificatePem } from "./src/tls/x509.ts";
export type { CertificateInfo } from "./src/tls/x509.ts";

// Kubeconfig.
export {
  EXEC_CLUSTER_EXTENSION,
  loadInClusterConfig,
  loadKubeconfig,
  resolveContext,
  resolveDefaultContext,
  SERVICE_ACCOUNT_DIR,
} from "./src/kubeconfig/mod.ts";
export type {
  AuthInfoConfig,
  ClusterConfig,
  ContextConfig,
  ExecConfig,
  ExecEnvVar,
  InClusterOptions,
  Kubeconfig,
  LoadKubeconfigOptions,
  NamedExtension,
  ResolveContextOptions,
  ResolvedCluster,
  ResolvedContext,
  ResolveDefaultContextOptions,
  ResolvedExecConfig,
  ResolvedUser,
} from "./src/kubeconfig/mod.ts";

// Streams over WebSockets: exec, attach, port-forward.
export { WebSocketRefusedError } from "./src/errors.ts";
export type { WebSocketRequestOptions } from "./src/fetch/web_socket.ts";
export { attachToPod, execInPod } from "./src/streams/exec.ts";
export type {
  AttachOptions,
  ExecOptions,
  StreamClient,
} from "./src/streams/exec.ts";
export type { ExecSession } from "./src/streams/exec_session.ts";
export { portForward } from "./src/streams/port_forward.ts";
export type {
  PortForwardOptions,
  PortForwardStream,
} from "./src/streams/port_forward.ts";

// HTTP errors as typed errors, and watches.
export {
  ensureOk,
  httpError,
  KubeauthHttpError,
  statusError,
} from "./src/http/http_error.ts";
export type {
  KubeauthHttpErrorOptions,
  KubernetesStatus,
} from "./src/http/http_error.ts";
export { watch } from "./src/watch/watch.ts";
export type {
  KubeFetch,
  KubernetesObject,
  WatchEvent,
  WatchOptions,
} from "./src/watch/watch.ts";
