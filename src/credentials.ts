/**
 * The credential model shared by every source of credentials (exec plugin,
 * static token, token file, client certificate files, basic auth, in-cluster).
 *
 * @module
 */

/** A client certificate with its key, as PEM, plus what was parsed from it. */
export interface ClientCertificate {
  /** PEM certificate chain, leaf first (intermediates kept). */
  readonly certPem: string;
  /** PEM private key (PKCS#1, PKCS#8 or SEC1). Secret. */
  readonly keyPem: string;
  /**
   * A stable identity of the pair: equal for equal cert+key, different
   * otherwise (e.g. a SHA-256 hex digest of cert and key). Not secret.
   */
  readonly fingerprint: string;
  /** The leaf certificate's subject, e.g. `CN=alice,O=devs`. */
  readonly subject: string;
  /** The leaf certificate's NotAfter. */
  readonly notAfter: Date;
}

/** Where a credential came from (shown by `kubeauth credential`). */
export type CredentialSourceKind =
  | "exec"
  | "token"
  | "token-file"
  | "client-certificate"
  | "basic-auth"
  | "in-cluster"
  | "none";

/**
 * One generation of credentials. Objects are immutable; a refresh creates a
 * new object (the 401 rule compares identity, as client-go compares pointers).
 * Secrets print as `[redacted]` (see `redactSecrets`).
 */
export interface Credentials {
  /** Bearer token, if any. Secret. */
  readonly token?: string;
  /** Basic auth, if any. The password is secret. */
  readonly basic?: { readonly username: string; readonly password: string };
  /** Client certificate, if any. */
  readonly clientCertificate?: ClientCertificate;
  /** When these credentials stop being valid (`expirationTimestamp`), if known. */
  readonly expiresAt?: Date;
}

/** What a 401 answer looked like (v1alpha1 plugins receive it in `spec.response`). */
export interface UnauthorizedResponse {
  /** The HTTP status code (401). */
  code: number;
  /** The response headers. */
  header: Record<string, string[]>;
}

/**
 * A source of credentials for one kubeconfig user. Implemented by the exec
 * authenticator and by the static sources.
 */
export interface CredentialSource {
  /** What kind of source this is. */
  readonly kind: CredentialSourceKind;
  /**
   * The current credentials: cached ones while valid, else freshly obtained.
   * Concurrent callers share one acquisition. Aborting `signal` rejects this
   * call only; a shared plugin run goes on for the others.
   */
  get(signal?: AbortSignal): Promise<Credentials>;
  /**
   * Called after `used` got a 401. Refreshes only if `used` is still the
   * current generation (client-go's rule); resolves to credentials newer than
   * `used` when there are any (so the caller may retry once), else `null`.
   */
  refreshAfterUnauthorized(
    used: Credentials,
    response: UnauthorizedResponse,
    signal?: AbortSignal,
  ): Promise<Credentials | null>;
  /** Stops timers and kills any plugin run in progress. Idempotent. */
  close(): Promise<void>;
}
