/**
 * The kubeconfig model: the file format as kubectl writes it (`Kubeconfig`)
 * and the resolved, path-normalised view of one context (`ResolvedContext`).
 *
 * @module
 */

/** One `{name, value}` pair of an exec plugin's `env` list. */
export interface ExecEnvVar {
  /** Variable name (non-empty). */
  name: string;
  /** Variable value (may be empty). */
  value: string;
}

/** `users[].user.exec`: how to run an exec credential plugin. */
export interface ExecConfig {
  /** The program. A path with a separator is resolved against the kubeconfig's directory. */
  command: string;
  /** Arguments, verbatim. `null` in the file (GKE) becomes `[]`. */
  args?: string[] | null;
  /** Extra environment. `null` in the file (GKE) becomes `[]`. */
  env?: ExecEnvVar[] | null;
  /** `client.authentication.k8s.io/v1`, `/v1beta1` or (deprecated) `/v1alpha1`. */
  apiVersion: string;
  /** Shown when the command is not found. */
  installHint?: string;
  /** Whether to pass cluster information in `KUBERNETES_EXEC_INFO`. */
  provideClusterInfo?: boolean;
  /** `Never`, `IfAvailable` or `Always` (required for v1; default `IfAvailable` for v1beta1). */
  interactiveMode?: string;
}

/** `clusters[].cluster`. */
export interface ClusterConfig {
  /** API server URL, e.g. `https://1.2.3.4:6443/k8s/clusters/c-xxx`. */
  server: string;
  /** CA file path. */
  "certificate-authority"?: string;
  /** Base64 PEM CA bundle. */
  "certificate-authority-data"?: string;
  /** Skip server certificate verification. */
  "insecure-skip-tls-verify"?: boolean;
  /** Name used to verify the server certificate. */
  "tls-server-name"?: string;
  /** Proxy URL. */
  "proxy-url"?: string;
  /** Disable response compression. */
  "disable-compression"?: boolean;
  /** Extensions; `client.authentication.k8s.io/exec` is passed to exec plugins. */
  extensions?: NamedExtension[];
}

/** `users[].user`. */
export interface AuthInfoConfig {
  /** Static bearer token. Secret. */
  token?: string;
  /** File holding a bearer token. */
  tokenFile?: string;
  /** Client certificate file. */
  "client-certificate"?: string;
  /** Base64 PEM client certificate. */
  "client-certificate-data"?: string;
  /** Client key file. */
  "client-key"?: string;
  /** Base64 PEM client key. Secret. */
  "client-key-data"?: string;
  /** Basic auth user name. */
  username?: string;
  /** Basic auth password. Secret. */
  password?: string;
  /** Exec credential plugin. */
  exec?: ExecConfig;
  /** Legacy auth provider (unsupported: see the error for its replacement). */
  "auth-provider"?: { name: string; config?: Record<string, string> };
  /** Impersonation is not supported; kept for completeness. */
  as?: string;
}

/** `contexts[].context`. */
export interface ContextConfig {
  /** Cluster name. */
  cluster: string;
  /** User name. */
  user: string;
  /** Default namespace. */
  namespace?: string;
}

/** A `{name, extension}` entry. */
export interface NamedExtension {
  /** Extension name. */
  name: string;
  /** Extension object, verbatim. */
  extension: unknown;
}

/** A parsed kubeconfig (one file, or several merged). */
export interface Kubeconfig {
  /** Usually `v1`. */
  apiVersion?: string;
  /** Usually `Config`. */
  kind?: string;
  /** The default context. */
  "current-context"?: string;
  /** Named clusters. */
  clusters?: { name: string; cluster: ClusterConfig }[];
  /** Named users. */
  users?: { name: string; user: AuthInfoConfig }[];
  /** Named contexts. */
  contexts?: { name: string; context: ContextConfig }[];
  /** Other fields are kept but unused. */
  [key: string]: unknown;
}

/**
 * One cluster, resolved: file references read, paths made absolute,
 * base64 decoded.
 */
export interface ResolvedCluster {
  /** The cluster's name in the kubeconfig (`""` for in-cluster). */
  name: string;
  /** `server` exactly as written. */
  server: string;
  /** PEM CA bundle (from `-data` or the file), if any. */
  caPem?: string;
  /** `insecure-skip-tls-verify`. */
  insecureSkipTlsVerify: boolean;
  /** `tls-server-name`. */
  tlsServerName?: string;
  /** `proxy-url`. */
  proxyUrl?: string;
  /** `disable-compression`. */
  disableCompression: boolean;
  /** The `client.authentication.k8s.io/exec` extension, verbatim, if present. */
  execExtension?: unknown;
}

/**
 * `users[].user.exec` after resolution: `args`/`env` always lists,
 * `interactiveMode` defaulted (`IfAvailable` for v1beta1), `command`
 * absolute when it contains a path separator.
 */
export interface ResolvedExecConfig extends ExecConfig {
  /** Arguments, verbatim (`[]` when absent or `null`). */
  args: string[];
  /** Extra environment (`[]` when absent or `null`). */
  env: ExecEnvVar[];
  /** `Never`, `IfAvailable` or `Always`. */
  interactiveMode: string;
}

/** One user, resolved: paths absolute, data decoded. Secrets inside. */
export interface ResolvedUser {
  /** The user's name in the kubeconfig. */
  name: string;
  /** Static token. */
  token?: string;
  /** Absolute token file path. */
  tokenFile?: string;
  /** PEM client certificate (from `-data` or the file). */
  clientCertificatePem?: string;
  /** PEM client key (from `-data` or the file). */
  clientKeyPem?: string;
  /** Absolute client certificate file path (re-read on change), if from a file. */
  clientCertificateFile?: string;
  /** Absolute client key file path, if from a file. */
  clientKeyFile?: string;
  /** Basic auth user name. */
  username?: string;
  /** Basic auth password. */
  password?: string;
  /** Exec config, `command` resolved against the defining file's directory when it has a separator. */
  exec?: ResolvedExecConfig;
  /** Name of an unsupported legacy auth provider, if configured. */
  authProvider?: string;
  /** True for the service-account identity of in-cluster config. */
  inCluster?: boolean;
}

/** A context resolved into everything needed to talk to the cluster. */
export interface ResolvedContext {
  /** The context's name (`""` for in-cluster). */
  contextName: string;
  /** The cluster. */
  cluster: ResolvedCluster;
  /** The user. */
  user: ResolvedUser;
  /** The default namespace (`default` when unset). */
  namespace: string;
  /** The kubeconfig file(s) it came from, or `in-cluster`. */
  source: string;
}
