/**
 * The credential model shared by every source of credentials (exec plugin,
 * static token, token file, client certificate files, basic auth, in-cluster).
 *
 * @module
 */
import { INSPECT_DENO, INSPECT_NODE } from "../runtime/inspect.ts";

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

const REDACTED = "[redacted]";

/** Fields accepted by {@linkcode makeCredentials}. */
export interface CredentialFields {
  /** Bearer token. */
  token?: string;
  /** Basic auth. */
  basic?: { username: string; password: string };
  /** Client certificate (see {@linkcode makeClientCertificate}). */
  clientCertificate?: ClientCertificate;
  /** Expiry. */
  expiresAt?: Date;
}

/**
 * Builds an immutable {@linkcode Credentials} object whose secrets never show
 * in `String()`, `JSON.stringify`, or `console.log`/inspect on Deno, Bun and
 * Node (they print `[redacted]`). Each call makes a new identity.
 *
 * @example Usage
 * ```ts
 * import { makeCredentials } from "@kubeauth/fetch";
 * const creds = makeCredentials({ token: "s3cret" });
 * if (JSON.stringify(creds).includes("s3cret")) throw new Error("not as shown");
 * if (creds.token !== "s3cret") throw new Error("not as shown");
 * ```
 *
 * @param fields The credential fields.
 * @returns A frozen credentials object.
 */
export function makeCredentials(fields: CredentialFields): Credentials {
  return new CredentialSet(fields);
}

class CredentialSet implements Credentials {
  readonly #token: string | undefined;
  readonly #basic: { username: string; password: string } | undefined;
  readonly clientCertificate?: ClientCertificate;
  readonly expiresAt?: Date;

  constructor(f: CredentialFields) {
    this.#token = f.token;
    this.#basic = f.basic ? { ...f.basic } : undefined;
    if (f.clientCertificate) this.clientCertificate = f.clientCertificate;
    if (f.expiresAt) this.expiresAt = new Date(f.expiresAt.getTime());
    Object.freeze(this);
  }

  get token(): string | undefined {
    return this.#token;
  }

  get basic():
    | { readonly username: string; readonly password: string }
    | undefined {
    return this.#basic ? { ...this.#basic } : undefined;
  }

  toJSON(): Record<string, unknown> {
    return {
      token: this.#token === undefined ? undefined : REDACTED,
      basic: this.#basic
        ? { username: this.#basic.username, password: REDACTED }
        : undefined,
      clientCertificate: this.clientCertificate,
      expiresAt: this.expiresAt?.toISOString(),
    };
  }

  toString(): string {
    return `Credentials ${JSON.stringify(this.toJSON())}`;
  }

  [INSPECT_NODE](): string {
    return this.toString();
  }

  [INSPECT_DENO](): string {
    return this.toString();
  }
}

/**
 * Builds an immutable {@linkcode ClientCertificate} whose private key never
 * shows in `String()`, `JSON.stringify`, or `console.log`/inspect.
 *
 * @example Usage
 * ```ts
 * import { makeClientCertificate } from "./credentials.ts";
 * // Fields as `parseClientCertificate` validated them (shortened here).
 * const cc = makeClientCertificate({
 *   certPem: "-----BEGIN CERTIFICATE-----\n…",
 *   keyPem: "-----BEGIN PRIVATE KEY-----\nk3y…",
 *   fingerprint: "9f86d081884c7d65",
 *   subject: "CN=alice,O=devs",
 *   notAfter: new Date("2030-01-01T00:00:00Z"),
 * });
 * if (!cc.keyPem.includes("k3y")) throw new Error("the key is readable");
 * if (JSON.stringify(cc).includes("k3y") || String(cc).includes("k3y")) {
 *   throw new Error("the key must not be printed");
 * }
 * ```
 *
 * @param fields The certificate fields (already validated by the caller).
 * @returns A frozen client certificate.
 */
export function makeClientCertificate(fields: {
  certPem: string;
  keyPem: string;
  fingerprint: string;
  subject: string;
  notAfter: Date;
}): ClientCertificate {
  return new ClientCertificateImpl(fields);
}

class ClientCertificateImpl implements ClientCertificate {
  readonly certPem: string;
  readonly #keyPem: string;
  readonly fingerprint: string;
  readonly subject: string;
  readonly notAfter: Date;

  constructor(f: {
    certPem: string;
    keyPem: string;
    fingerprint: string;
    subject: string;
    notAfter: Date;
  }) {
    this.certPem = f.certPem;
    this.#keyPem = f.keyPem;
    this.fingerprint = f.fingerprint;
    this.subject = f.subject;
    this.notAfter = new Date(f.notAfter.getTime());
    Object.freeze(this);
  }

  get keyPem(): string {
    return this.#keyPem;
  }

  toJSON(): Record<string, unknown> {
    return {
      subject: this.subject,
      notAfter: this.notAfter.toISOString(),
      fingerprint: this.fingerprint,
      key: REDACTED,
    };
  }

  toString(): string {
    return `ClientCertificate ${JSON.stringify(this.toJSON())}`;
  }

  [INSPECT_NODE](): string {
    return this.toString();
  }

  [INSPECT_DENO](): string {
    return this.toString();
  }
}
