/**
 * Credential sources for kubeconfig users with static credentials: a
 * bearer token, a token file, basic auth, a client certificate, or a bearer
 * token together with a client certificate. client-go's precedence: when a
 * user has any of these, they are used and its exec plugin is not run.
 *
 * Files are re-read as they rotate: a token file when older than
 * `tokenFileMaxAgeMs` (client-go: one minute; bound service-account tokens
 * rotate) and after a 401; client certificate files when older than
 * `certFileMaxAgeMs` (client-go: five minutes) and after a 401. A new
 * {@linkcode Credentials} object is made only when the content changed, so
 * a changed client certificate is what tells the transport to rotate its
 * connections. A failed re-read keeps the previous credentials (client-go).
 *
 * @module
 */
import type {
  ClientCertificate,
  Credentials,
  CredentialSource,
  CredentialSourceKind,
  UnauthorizedResponse,
} from "./credentials.ts";
import { makeCredentials } from "./credentials.ts";
import { closedError, KubeauthError, KubeconfigError } from "../errors.ts";
import { parseClientCertificate } from "./client_certificate.ts";
import type { RuntimeAdapter } from "../runtime/types.ts";
import { unsupportedAuthProviderError } from "../kubeconfig/auth_provider.ts";
import { describeReadError, readTextFile } from "../kubeconfig/read_file.ts";
import type { ResolvedUser } from "../kubeconfig/types.ts";
import { SingleFlight } from "./single_flight.ts";
import { badTokenCharacter } from "./token.ts";

/** Options of {@linkcode createStaticCredentialSource}. */
export interface StaticCredentialSourceOptions {
  /** The runtime adapter, to read files. */
  adapter: RuntimeAdapter;
  /** Re-read the token file when the last read is older than this. Default 60000 (client-go). */
  tokenFileMaxAgeMs?: number;
  /** Re-read client certificate files when older than this. Default 300000 (client-go). */
  certFileMaxAgeMs?: number;
  /** The clock, in milliseconds. Default `Date.now`. */
  now?: () => number;
}

type Mode = "initial" | "stale" | "forced";

function ownerOf(user: ResolvedUser): string {
  return user.inCluster
    ? "the in-cluster service account"
    : `user ${JSON.stringify(user.name)}`;
}

/**
 * Refuses a token that cannot go into an Authorization header before any
 * request is built (a runtime's own error would quote the header value).
 */
function checkToken(token: string, user: ResolvedUser): void {
  const bad = badTokenCharacter(token);
  if (bad === undefined) return;
  const where = user.tokenFile
    ? `the token file "${user.tokenFile}"`
    : "the kubeconfig";
  throw new KubeauthError(
    "CREDENTIAL_INVALID",
    `the bearer token of ${
      ownerOf(user)
    } (from ${where}) cannot be sent in an HTTP Authorization header: it contains ${bad.what} (character ${
      bad.index + 1
    } of ${token.length}); fix the token`,
  );
}

class StaticCredentialSource implements CredentialSource {
  readonly kind: CredentialSourceKind;
  readonly #user: ResolvedUser;
  readonly #adapter: RuntimeAdapter;
  readonly #tokenMaxAge: number;
  readonly #certMaxAge: number;
  readonly #now: () => number;
  readonly #certFromFiles: boolean;
  readonly #hasCert: boolean;

  #current: Credentials | undefined;
  #token: string | undefined;
  #tokenReadAt = 0;
  #cert: ClientCertificate | undefined;
  #certRaw: string | undefined;
  #certReadAt = 0;
  readonly #flight = new SingleFlight<Credentials>();
  #closed = false;

  constructor(
    user: ResolvedUser,
    kind: CredentialSourceKind,
    options: StaticCredentialSourceOptions,
  ) {
    this.kind = kind;
    this.#user = user;
    this.#adapter = options.adapter;
    this.#tokenMaxAge = options.tokenFileMaxAgeMs ?? 60_000;
    this.#certMaxAge = options.certFileMaxAgeMs ?? 300_000;
    this.#now = options.now ?? Date.now;
    this.#certFromFiles = !!(user.clientCertificateFile || user.clientKeyFile);
    this.#hasCert = this.#certFromFiles ||
      !!(user.clientCertificatePem || user.clientKeyPem);
  }

  get(signal?: AbortSignal): Promise<Credentials> {
    if (this.#closed) return Promise.reject(this.#closedError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#current && !this.#stale()) {
      return Promise.resolve(this.#current);
    }
    return this.#flight.join(
      this.#refresh(this.#current ? "stale" : "initial"),
      signal,
    );
  }

  async refreshAfterUnauthorized(
    used: Credentials,
    _response: UnauthorizedResponse,
    signal?: AbortSignal,
  ): Promise<Credentials | null> {
    if (this.#closed) throw this.#closedError();
    signal?.throwIfAborted();
    if (this.#current === undefined) return null;
    if (used !== this.#current) return this.#current;
    if (!this.#user.tokenFile && !this.#certFromFiles) return null;
    const before = this.#current;
    const after = await this.#flight.join(this.#refresh("forced"), signal);
    return after !== before ? after : null;
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  #closedError(): KubeauthError {
    return closedError(
      undefined,
      `the credential source of ${ownerOf(this.#user)} is closed`,
    );
  }

  #stale(): boolean {
    const now = this.#now();
    if (this.#user.tokenFile && now - this.#tokenReadAt >= this.#tokenMaxAge) {
      return true;
    }
    return this.#certFromFiles && now - this.#certReadAt >= this.#certMaxAge;
  }

  #refresh(mode: Mode): Promise<Credentials> {
    return this.#flight.run(() => this.#doRefresh(mode));
  }

  async #doRefresh(mode: Mode): Promise<Credentials> {
    const now = this.#now();
    let changed = this.#current === undefined;

    const user = this.#user;
    if (user.tokenFile) {
      if (
        mode !== "stale" || now - this.#tokenReadAt >= this.#tokenMaxAge
      ) {
        const token = await this.#readToken(mode === "initial");
        if (token !== undefined) {
          this.#tokenReadAt = now;
          if (token !== this.#token) {
            this.#token = token;
            changed = true;
          }
        }
      }
    } else if (mode === "initial") {
      this.#token = user.token;
    }

    if (this.#hasCert) {
      if (
        mode === "initial" ||
        (this.#certFromFiles &&
          (mode === "forced" || now - this.#certReadAt >= this.#certMaxAge))
      ) {
        const cert = await this.#loadCert(mode === "initial");
        this.#certReadAt = now;
        if (cert !== undefined && cert !== this.#cert) {
          this.#cert = cert;
          changed = true;
        }
      }
    }

    if (changed || this.#current === undefined) {
      if (this.#token) checkToken(this.#token, user);
      this.#current = makeCredentials({
        ...(this.#token ? { token: this.#token } : {}),
        ...(user.username
          ? {
            basic: { username: user.username, password: user.password ?? "" },
          }
          : {}),
        ...(this.#cert ? { clientCertificate: this.#cert } : {}),
      });
    }
    return this.#current;
  }

  /**
   * Reads the token file. Initially a failure is an error (unless a static
   * token is there to fall back on, as client-go); later it keeps the old
   * token (returns `undefined`).
   */
  async #readToken(initial: boolean): Promise<string | undefined> {
    const user = this.#user;
    const path = user.tokenFile!;
    let problem: string;
    try {
      const text = await readTextFile(this.#adapter, path);
      const token = text.trim();
      if (token !== "") return token;
      problem = "the file is empty";
    } catch (err) {
      problem = describeReadError(err).reason;
    }
    if (!initial) return undefined;
    if (user.token) return user.token;
    throw new KubeauthError(
      "CREDENTIAL_INVALID",
      `unable to read the token file "${path}" of ${ownerOf(user)}: ${problem}`,
    );
  }

  /**
   * Loads and validates the client certificate. Initially from the PEM
   * already resolved (else from the files), later from the files. A later
   * failure (file missing, or cert and key mismatched mid-rotation) keeps
   * the old certificate (returns `undefined`); unchanged content returns the
   * same object.
   */
  async #loadCert(initial: boolean): Promise<ClientCertificate | undefined> {
    const user = this.#user;
    let certPem = initial ? user.clientCertificatePem : undefined;
    let keyPem = initial ? user.clientKeyPem : undefined;
    const where = this.#certFromFiles
      ? `client-certificate "${
        user.clientCertificateFile ?? "(data)"
      }", client-key "${user.clientKeyFile ?? "(data)"}"`
      : "client-certificate-data, client-key-data";
    try {
      if (certPem === undefined || keyPem === undefined) {
        const adapter = this.#adapter;
        certPem ??= user.clientCertificateFile
          ? await this.#readPem(
            adapter,
            user.clientCertificateFile,
            "client-certificate",
          )
          : user.clientCertificatePem;
        keyPem ??= user.clientKeyFile
          ? await this.#readPem(adapter, user.clientKeyFile, "client-key")
          : user.clientKeyPem;
      }
      if (certPem === undefined || keyPem === undefined) {
        throw new KubeconfigError(
          "KUBECONFIG_INVALID",
          `${ownerOf(user)} has a client ${
            certPem === undefined ? "key" : "certificate"
          } without a client ${
            certPem === undefined ? "certificate" : "key"
          }: both are needed`,
        );
      }
      const raw = `${certPem}\u0000${keyPem}`;
      if (raw === this.#certRaw && this.#cert) return this.#cert;
      let cert: ClientCertificate;
      try {
        cert = await parseClientCertificate(certPem, keyPem);
      } catch (err) {
        const message = err instanceof KubeauthError
          ? err.message
          : "failed parsing client key/certificate";
        throw new KubeauthError(
          "CERT_INVALID",
          `${message} (${ownerOf(user)}: ${where})`,
        );
      }
      this.#certRaw = raw;
      return cert;
    } catch (err) {
      if (initial) throw err;
      return undefined;
    }
  }

  async #readPem(
    adapter: RuntimeAdapter,
    path: string,
    field: string,
  ): Promise<string> {
    try {
      return await readTextFile(adapter, path);
    } catch (err) {
      throw new KubeauthError(
        "CREDENTIAL_INVALID",
        `unable to read ${field} "${path}" of ${ownerOf(this.#user)}: ${
          describeReadError(err).reason
        }`,
      );
    }
  }
}

/**
 * Creates the credential source for a user's static credentials, following
 * client-go's precedence: a token or token file, basic auth, or a client
 * certificate means these are used and the exec plugin is not run. A token
 * (or token file) and a client certificate combine (token in the header,
 * certificate on the TLS connection); so do basic auth and a certificate.
 * With both `token` and `tokenFile`, the file wins while it can be read
 * (client-go). Returns `null` when the user has nothing static (an exec
 * user, or anonymous): the caller decides.
 *
 * @example Usage
 * ```ts
 * import { createStaticCredentialSource } from "./static_sources.ts";
 * import { getRuntimeAdapter } from "../runtime/mod.ts";
 * const adapter = await getRuntimeAdapter();
 * // Usually `ctx.user` of a resolved kubeconfig context.
 * const user = { name: "alice", token: "s3cret" };
 * const source = createStaticCredentialSource(user, { adapter });
 * if (source?.kind !== "token") throw new Error("expected a token source");
 * const creds = await source.get();
 * if (creds.token !== "s3cret") throw new Error("token not returned");
 * await source.close();
 * // A user with nothing static (e.g. an exec user): the caller decides.
 * if (createStaticCredentialSource({ name: "bob" }, { adapter }) !== null) {
 *   throw new Error("expected no source");
 * }
 * ```
 *
 * @param user The resolved user.
 * @param options Adapter, file re-read intervals and clock.
 * @returns The source, or `null` when there are no static credentials.
 * @throws {KubeconfigError} `KUBECONFIG_INVALID` when the user relies on a
 *   legacy `auth-provider` (see {@linkcode unsupportedAuthProviderError}), or
 *   has both a token and basic auth.
 */
export function createStaticCredentialSource(
  user: ResolvedUser,
  options: StaticCredentialSourceOptions,
): CredentialSource | null {
  const hasToken = !!user.token;
  const hasTokenFile = !!user.tokenFile;
  const hasBasic = !!user.username;
  const hasCert = !!(user.clientCertificatePem || user.clientCertificateFile ||
    user.clientKeyPem || user.clientKeyFile);
  if (
    user.authProvider && !user.exec && !hasToken && !hasTokenFile && !hasBasic
  ) {
    throw unsupportedAuthProviderError(user.authProvider, user.name);
  }
  if ((hasToken || hasTokenFile) && hasBasic) {
    throw new KubeconfigError(
      "KUBECONFIG_INVALID",
      `username/password or bearer token may be set, but not both (${
        ownerOf(user)
      })`,
    );
  }
  let kind: CredentialSourceKind;
  if (user.inCluster) kind = "in-cluster";
  else if (hasTokenFile) kind = "token-file";
  else if (hasToken) kind = "token";
  else if (hasBasic) kind = "basic-auth";
  else if (hasCert) kind = "client-certificate";
  else return null;
  return new StaticCredentialSource(user, kind, options);
}
