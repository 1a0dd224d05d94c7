/**
 * The exec authenticator: runs the plugin when credentials are needed,
 * caches them until shortly before `expirationTimestamp`, shares one run
 * among all concurrent callers, backs off after failures, refreshes after a
 * 401 only when the rejected credentials are still the current ones
 * (client-go's rule), and shares one authenticator per exec configuration
 * process-wide (as client-go's global cache does), with reference counting.
 *
 * @module
 */
import type {
  Credentials,
  CredentialSource,
  UnauthorizedResponse,
} from "../credentials/credentials.ts";
import { makeCredentials } from "../credentials/credentials.ts";
import { closedError, ExecPluginError, KubeauthError } from "../errors.ts";
import type { ExecConfig, ResolvedCluster } from "../kubeconfig/types.ts";
import type { RuntimeAdapter } from "../runtime/types.ts";
import {
  decideInteractive,
  type NormalizedExecConfig,
  normalizeExecConfig,
} from "./config.ts";
import type { ExecEvent, ExecEventListener } from "./events.ts";
import { decodeExecCredential, encodeExecInfo } from "./protocol.ts";
import {
  DEFAULT_MAX_OUTPUT_BYTES,
  DEFAULT_STDOUT_GRACE_MS,
  DEFAULT_TIMEOUT_MS,
  runExecPlugin,
} from "./runner.ts";
import { parseClientCertificate } from "../credentials/client_certificate.ts";
import { SingleFlight } from "../credentials/single_flight.ts";
import type {
  ExecRunAnswer,
  ExecRunCache,
  ExecRunLoader,
  ExecRunResult,
} from "./run_cache.ts";

/** Options of an exec credential source. */
export interface ExecAuthenticatorOptions {
  /** The runtime adapter to spawn plugins with. */
  adapter: RuntimeAdapter;
  /**
   * Kill a non-interactive plugin run after this many ms (default 60000).
   * `0` or `Infinity`: no timeout.
   */
  timeoutMs?: number;
  /** Timeout of an interactive run (default: none; a login can take long). */
  interactiveTimeoutMs?: number;
  /** Said in the timeout error: how the user raises the timeout. */
  timeoutHint?: string;
  /** Cap on a plugin's stdout (default 16 MiB). */
  maxOutputBytes?: number;
  /** After the plugin exited, how long its stdout may stay open (default 1000 ms). */
  stdoutGraceMs?: number;
  /** Receives this handle's events. */
  onEvent?: ExecEventListener;
  /** The clock, in ms since the epoch (for tests). Default `Date.now`. */
  now?: () => number;
  /** First delay after a failed run (default 1000 ms); doubles per failure. */
  backoffBaseMs?: number;
  /** Longest delay between failed runs (default 30000 ms). */
  backoffMaxMs?: number;
  /** Refresh this fraction of the lifetime before expiry (default 0.1)… */
  refreshMarginRatio?: number;
  /** …but at most this many ms before it (default 60000). */
  refreshMarginMaxMs?: number;
  /**
   * When a plugin returns an `expirationTimestamp` that has already passed
   * (clock skew), use the credentials this long anyway (default 10000 ms)
   * instead of re-running the plugin for every request; a `warning` event
   * is emitted.
   */
  minValidityMs?: number;
  /**
   * Standard input is used for something else (e.g. a request body read from
   * stdin): `IfAvailable` runs non-interactively, `Always` fails. A string
   * says why (client-go's `StdinUnavailableMessage`).
   */
  stdinUnavailable?: boolean | string;
  /**
   * A credential cache shared by processes (see src/cache/): plugin output
   * comes from it while valid, and a run stores its output there.
   */
  cache?: ExecRunCache;
}

const BACKOFF_BASE_MS = 1000;
const BACKOFF_MAX_MS = 30_000;
const MARGIN_RATIO = 0.1;
const MARGIN_MAX_MS = 60_000;
const MIN_VALIDITY_MS = 10_000;

const CLOSED_MESSAGE =
  "the exec credential source was closed; create a new client";

function sameSecrets(a: Credentials, b: Credentials): boolean {
  return a.token === b.token &&
    a.clientCertificate?.fingerprint === b.clientCertificate?.fingerprint;
}

/**
 * One exec authenticator: a {@linkcode CredentialSource} of kind `exec`.
 * Use {@linkcode getExecAuthenticator} to share one per configuration
 * process-wide; construct directly for a private instance.
 *
 * @example Usage
 * ```ts
 * import { ExecAuthenticator } from "./authenticator.ts";
 * import { getRuntimeAdapter } from "../runtime/mod.ts";
 * // A tiny plugin printing an ExecCredential without expiry.
 * const credential = '{"apiVersion":"client.authentication.k8s.io/v1",' +
 *   '"kind":"ExecCredential","status":{"token":"t0ken"}}';
 * const exec = {
 *   command: "sh",
 *   args: ["-c", `echo '${credential}'`],
 *   apiVersion: "client.authentication.k8s.io/v1",
 *   interactiveMode: "Never",
 * };
 * const cluster = {
 *   name: "dev",
 *   server: "https://127.0.0.1:6443",
 *   insecureSkipTlsVerify: false,
 *   disableCompression: false,
 * };
 * let runs = 0;
 * const auth = new ExecAuthenticator(exec, cluster, {
 *   adapter: await getRuntimeAdapter(),
 *   onEvent: (e) => {
 *     if (e.type === "plugin-run" && e.ok) runs++;
 *   },
 * });
 * const creds = await auth.get();
 * if (creds.token !== "t0ken") throw new Error("token not returned");
 * if (await auth.get() !== creds) throw new Error("not cached");
 * if (runs !== 1) throw new Error(`expected one plugin run, got ${runs}`);
 * await auth.close();
 * ```
 */
export class ExecAuthenticator implements CredentialSource {
  /** Always `exec`. */
  readonly kind = "exec" as const;
  /** The plugin command. */
  readonly command: string;
  readonly #config: NormalizedExecConfig;
  readonly #cluster: ResolvedCluster | undefined;
  readonly #options: ExecAuthenticatorOptions;
  readonly #now: () => number;
  readonly #listeners = new Set<ExecEventListener>();
  #current: Credentials | undefined;
  #currentStdout: Uint8Array | undefined;
  #freshUntil = -Infinity;
  #expiresAt: number | undefined;
  #rejected = false;
  /** Fresh credentials rejected again, in a row; the 401 backoff's end. */
  #unauthorizedStreak = 0;
  #unauthorizedRetryAt = 0;
  readonly #flight = new SingleFlight<Credentials>();
  #runAbort: AbortController | undefined;
  #failures = 0;
  #lastError: ExecPluginError | undefined;
  #retryAt = 0;
  #closed = false;

  /**
   * Validates the configuration (throws `EXEC_CONFIG_INVALID` with
   * client-go's messages, e.g. `exec plugin: invalid apiVersion "X"`).
   * Nothing runs until {@linkcode ExecAuthenticator.get}.
   *
   * @param exec The kubeconfig exec stanza (command already resolved).
   * @param cluster The cluster (sent to the plugin when `provideClusterInfo`).
   * @param options Timeouts, limits, clock, events.
   */
  constructor(
    exec: ExecConfig | NormalizedExecConfig,
    cluster: ResolvedCluster | undefined,
    options: ExecAuthenticatorOptions,
  ) {
    this.#config = normalizeExecConfig(exec);
    this.command = this.#config.command;
    this.#cluster = this.#config.provideClusterInfo ? cluster : undefined;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    if (options.onEvent) this.#listeners.add(options.onEvent);
  }

  /**
   * Adds an event listener.
   *
   * @param listener The listener.
   */
  addListener(listener: ExecEventListener): void {
    this.#listeners.add(listener);
  }

  /**
   * Removes an event listener.
   *
   * @param listener The listener.
   */
  removeListener(listener: ExecEventListener): void {
    this.#listeners.delete(listener);
  }

  /**
   * The current credentials: cached while fresh, else from one shared plugin
   * run. During a failure backoff, fails fast with the last error (its
   * `retryAt` and message say when the next run happens), unless the cached
   * credentials have not expired yet.
   *
   * @param signal Rejects this call only, with the signal's reason.
   * @returns The credentials.
   */
  get(signal?: AbortSignal): Promise<Credentials> {
    if (this.#closed) {
      return Promise.reject(closedError(undefined, CLOSED_MESSAGE));
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    const current = this.#current;
    const now = this.#now();
    if (
      current && now < this.#freshUntil &&
      (!this.#rejected || now < this.#unauthorizedRetryAt)
    ) {
      return Promise.resolve(current);
    }
    return this.#flight.join(this.#refresh(undefined), signal);
  }

  /**
   * After `used` got a 401: refreshes when `used` is still the current
   * credentials (concurrent 401s share one run), or waits for a refresh
   * already under way. Resolves to credentials newer than `used` with
   * different secrets, else `null` (refresh failed, in backoff, or the plugin
   * returned the same token/certificate).
   *
   * @param used The credentials the rejected request carried.
   * @param response The 401 (sent to v1alpha1 plugins in `spec.response`).
   * @param signal Rejects this call only.
   * @returns Newer credentials, or null.
   */
  async refreshAfterUnauthorized(
    used: Credentials,
    response: UnauthorizedResponse,
    signal?: AbortSignal,
  ): Promise<Credentials | null> {
    if (this.#closed) throw closedError(undefined, CLOSED_MESSAGE);
    signal?.throwIfAborted();
    let pending: Promise<Credentials>;
    let ours = false;
    if (used === this.#current) {
      this.#rejected = true;
      if (this.#now() < this.#unauthorizedRetryAt) return null;
      ours = true;
      pending = this.#refresh(response);
    } else if (this.#flight.current) {
      pending = this.#flight.current;
    } else {
      const c = this.#current;
      return c && !this.#rejected && !sameSecrets(c, used) ? c : null;
    }
    let fresh: Credentials;
    try {
      fresh = await this.#flight.join(pending, signal);
    } catch (err) {
      if (signal?.aborted || this.#closed) throw err;
      return null;
    }
    if (fresh !== used && !sameSecrets(fresh, used)) {
      if (ours) this.#unauthorizedStreak = 0;
      return fresh;
    }
    if (ours && fresh !== used) this.#startUnauthorizedBackoff();
    return null;
  }

  /**
   * Kills a plugin run in progress, forgets the credentials, and makes every
   * later call fail with `CLOSED`. Resolves once the plugin is gone.
   * Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#runAbort?.abort(closedError(undefined, CLOSED_MESSAGE));
    const inflight = this.#flight.current;
    this.#current = undefined;
    if (inflight) await inflight.catch(() => {});
    this.#listeners.clear();
  }

  #emit(event: ExecEvent): void {
    for (const l of [...this.#listeners]) {
      try {
        l(event);
      } catch {
        // A listener's failure must not break authentication.
      }
    }
  }

  #stillValid(now: number): boolean {
    return this.#current !== undefined && !this.#rejected &&
      (this.#expiresAt === undefined || now < this.#expiresAt);
  }

  #refresh(response: UnauthorizedResponse | undefined): Promise<Credentials> {
    const running = this.#flight.current;
    if (running) return running;
    const now = this.#now();
    const last = this.#lastError;
    if (last && now < this.#retryAt) {
      if (this.#stillValid(now)) return Promise.resolve(this.#current!);
      return Promise.reject(this.#backoffError(last, now));
    }
    return this.#flight.run(() => this.#run(response));
  }

  /**
   * The plugin, run after a 401, returned the very credentials the server
   * had just rejected: running it again for every request would not help
   * (client-go does), so 401s do not run it before a backoff like after a
   * plugin failure; a warning event says why.
   */
  #startUnauthorizedBackoff(): void {
    const now = this.#now();
    const o = this.#options;
    const streak = ++this.#unauthorizedStreak;
    const base = o.backoffBaseMs ?? BACKOFF_BASE_MS;
    const max = o.backoffMaxMs ?? BACKOFF_MAX_MS;
    this.#unauthorizedRetryAt = now +
      Math.min(max, base * 2 ** Math.min(streak - 1, 30));
    this.#emit({
      type: "warning",
      command: this.command,
      message:
        `the server rejected (401) the credentials of exec plugin ${this.command}, and the plugin, run again, returned the same ones (${streak} time${
          streak === 1 ? "" : "s"
        } in a row): it is not run again for a 401 before ${
          new Date(this.#unauthorizedRetryAt).toISOString()
        } (backoff); check the plugin's account, cluster or audience settings, or that the server accepts its credentials`,
    });
  }

  #backoffError(last: ExecPluginError, now: number): ExecPluginError {
    const waitS = Math.max(1, Math.ceil((this.#retryAt - now) / 1000));
    return new ExecPluginError(
      last.code,
      `${last.message}\n(the plugin failed ${this.#failures} time${
        this.#failures === 1 ? "" : "s"
      } in a row; next attempt in ${waitS}s, not before ${
        new Date(this.#retryAt).toISOString()
      })`,
      {
        command: last.command,
        ...(last.exitCode !== undefined ? { exitCode: last.exitCode } : {}),
        ...(last.signal !== undefined ? { signal: last.signal } : {}),
        ...(last.stderrTail !== undefined
          ? { stderrTail: last.stderrTail }
          : {}),
        ...(last.installHint !== undefined
          ? { installHint: last.installHint }
          : {}),
        retryAt: new Date(this.#retryAt),
        cause: last,
      },
    );
  }

  async #run(response: UnauthorizedResponse | undefined): Promise<Credentials> {
    const o = this.#options;
    const cfg = this.#config;
    const adapter = o.adapter;
    if (this.#closed) throw closedError(undefined, CLOSED_MESSAGE);
    // Not a plugin failure: no run, no backoff (client-go checks this
    // first). With a cache, only a run asks: a stored credential from an
    // interactive login serves a later command that has no terminal, and a
    // cache hit does not pay for the terminal check.
    const decide = () =>
      decideInteractive(
        cfg.interactiveMode,
        adapter.stdinIsTerminal(),
        o.stdinUnavailable ?? false,
      );
    let interactive = o.cache ? undefined : decide();
    const env: Record<string, string> = adapter.env();
    for (const e of cfg.env) env[e.name] = e.value;
    delete env.KUBERNETES_EXEC_INFO;
    const abort = new AbortController();
    this.#runAbort = abort;
    const startedAt = this.#now();
    const started = performance.now();
    const facts = { exitCode: null as number | null, stderrTail: "" };
    const loader: ExecRunLoader<Credentials> = {
      run: async () => {
        interactive ??= decide();
        const info = this.#execInfo(interactive, response);
        const run = await runExecPlugin({
          adapter,
          command: cfg.command,
          args: cfg.args,
          env: { ...env, KUBERNETES_EXEC_INFO: info },
          interactive,
          timeoutMs: interactive
            ? o.interactiveTimeoutMs
            : o.timeoutMs ?? DEFAULT_TIMEOUT_MS,
          ...(o.timeoutHint !== undefined
            ? { timeoutHint: o.timeoutHint }
            : {}),
          maxOutputBytes: o.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
          stdoutGraceMs: o.stdoutGraceMs ?? DEFAULT_STDOUT_GRACE_MS,
          ...(cfg.installHint !== undefined
            ? { installHint: cfg.installHint }
            : {}),
          signal: abort.signal,
        });
        facts.exitCode = run.exitCode;
        facts.stderrTail = run.stderrTail;
        return { stdout: run.stdout, ...await this.#decode(run.stdout) };
      },
      decode: (stdout) => this.#decode(stdout),
    };
    let answer: ExecRunAnswer<Credentials>;
    try {
      answer = await this.#obtain(loader, env, abort.signal);
    } catch (err) {
      if (this.#runAbort === abort) this.#runAbort = undefined;
      if (this.#closed) throw closedError(undefined, CLOSED_MESSAGE);
      if (isInteractiveUnavailable(err)) throw err;
      const error = this.#asPluginError(err, facts.exitCode, facts.stderrTail);
      const now = this.#now();
      this.#failures++;
      const base = o.backoffBaseMs ?? BACKOFF_BASE_MS;
      const max = o.backoffMaxMs ?? BACKOFF_MAX_MS;
      this.#retryAt = now +
        Math.min(max, base * 2 ** Math.min(this.#failures - 1, 30));
      const withRetry = new ExecPluginError(error.code, error.message, {
        command: error.command,
        ...(error.exitCode !== undefined ? { exitCode: error.exitCode } : {}),
        ...(error.signal !== undefined ? { signal: error.signal } : {}),
        ...(error.stderrTail !== undefined
          ? { stderrTail: error.stderrTail }
          : {}),
        ...(error.installHint !== undefined
          ? { installHint: error.installHint }
          : {}),
        retryAt: new Date(this.#retryAt),
        cause: error.cause ?? err,
      });
      this.#lastError = withRetry;
      this.#emit({
        type: "plugin-run",
        command: cfg.command,
        durationMs: performance.now() - started,
        exitCode: error.exitCode ?? facts.exitCode,
        signal: error.signal ?? null,
        ok: false,
        error: error.code,
      });
      // A proactive refresh that failed: the cached credentials still work.
      if (this.#stillValid(now)) return this.#current!;
      throw withRetry;
    }
    if (this.#runAbort === abort) this.#runAbort = undefined;
    if (this.#closed) throw closedError(undefined, CLOSED_MESSAGE);
    if (answer.cached) {
      this.#emit({
        type: "credential-cache",
        command: cfg.command,
        outcome: "hit",
      });
    } else {
      this.#emit({
        type: "plugin-run",
        command: cfg.command,
        durationMs: performance.now() - started,
        exitCode: facts.exitCode,
        signal: null,
        ok: true,
      });
    }
    this.#currentStdout = answer.stdout;
    const credentials = answer.value;
    this.#accept(credentials, startedAt);
    return credentials;
  }

  /** The `KUBERNETES_EXEC_INFO` of one run. */
  #execInfo(
    interactive: boolean,
    response: UnauthorizedResponse | undefined,
  ): string {
    const cfg = this.#config;
    return encodeExecInfo({
      apiVersion: cfg.apiVersion,
      interactive,
      ...(this.#cluster ? { cluster: this.#cluster } : {}),
      ...(response && cfg.apiVersion === "client.authentication.k8s.io/v1alpha1"
        ? { response }
        : {}),
    });
  }

  /** The plugin's answer: from the cache when one is configured, else a run. */
  async #obtain(
    loader: ExecRunLoader<Credentials>,
    env: Record<string, string>,
    signal: AbortSignal,
  ): Promise<ExecRunAnswer<Credentials>> {
    const cache = this.#options.cache;
    if (!cache) return { ...(await loader.run()), cached: false };
    const cfg = this.#config;
    const rejected = this.#rejected ? this.#currentStdout : undefined;
    const request = JSON.parse(encodeExecInfo({
      apiVersion: cfg.apiVersion,
      interactive: false,
      ...(this.#cluster ? { cluster: this.#cluster } : {}),
    }));
    return await cache.obtain(
      {
        command: cfg.command,
        args: cfg.args,
        env,
        request,
      },
      loader,
      {
        signal,
        ...(rejected ? { rejected } : {}),
        onEvent: (e) =>
          this.#emit({ type: "credential-cache", command: cfg.command, ...e }),
      },
    );
  }

  /** Decodes one ExecCredential answer (a run's, or a stored one). */
  async #decode(
    stdout: Uint8Array,
  ): Promise<Omit<ExecRunResult<Credentials>, "stdout">> {
    const status = decodeExecCredential(stdout, this.#config.apiVersion);
    const clientCertificate = status.clientCertificateData
      ? await parseClientCertificate(
        status.clientCertificateData,
        status.clientKeyData ?? "",
      )
      : undefined;
    const value = makeCredentials({
      ...(status.token ? { token: status.token } : {}),
      ...(clientCertificate ? { clientCertificate } : {}),
      ...(status.expirationTimestamp
        ? { expiresAt: status.expirationTimestamp }
        : {}),
    });
    return {
      value,
      expiresAt: status.expirationTimestamp ?? clientCertificate?.notAfter,
    };
  }

  #accept(creds: Credentials, startedAt: number): void {
    const now = this.#now();
    const previous = this.#current;
    this.#failures = 0;
    this.#lastError = undefined;
    this.#retryAt = 0;
    this.#current = creds;
    this.#rejected = false;
    const exp = creds.expiresAt?.getTime();
    this.#expiresAt = exp;
    if (exp === undefined) {
      this.#freshUntil = Infinity;
    } else if (exp <= now) {
      const min = this.#options.minValidityMs ?? MIN_VALIDITY_MS;
      this.#freshUntil = now + min;
      // Expired while the plugin was still running: a slow plugin, not skew.
      const why = exp >= startedAt
        ? `expired while the plugin was still running (it took ${
          Math.round((now - startedAt) / 100) / 10
        }s; the credentials it returns live shorter than it runs)`
        : `is already past (local time ${
          new Date(now).toISOString()
        }; clock skew?)`;
      this.#emit({
        type: "warning",
        command: this.command,
        message: `exec plugin returned an expirationTimestamp ${
          creds.expiresAt!.toISOString()
        } that ${why}; using the credentials for ${
          Math.round(min / 1000)
        }s before running the plugin again`,
      });
    } else {
      const lifetime = exp - now;
      const margin = Math.min(
        this.#options.refreshMarginMaxMs ?? MARGIN_MAX_MS,
        lifetime * (this.#options.refreshMarginRatio ?? MARGIN_RATIO),
      );
      this.#freshUntil = exp - margin;
    }
    const before = previous?.clientCertificate?.fingerprint;
    const after = creds.clientCertificate?.fingerprint;
    this.#emit({
      type: "credentials-rotated",
      certificateChanged: before !== after,
      ...(creds.expiresAt ? { expiresAt: creds.expiresAt } : {}),
      ...(creds.clientCertificate
        ? { subject: creds.clientCertificate.subject }
        : {}),
    });
  }

  #asPluginError(
    err: unknown,
    exitCode: number | null,
    stderrTail: string,
  ): ExecPluginError {
    if (err instanceof ExecPluginError) return err;
    const facts = {
      command: this.command,
      ...(exitCode !== null ? { exitCode } : {}),
      ...(stderrTail !== "" ? { stderrTail } : {}),
      cause: err,
    };
    if (err instanceof KubeauthError) {
      return new ExecPluginError(err.code, err.message, facts);
    }
    // Unexpected: never pass a foreign message on (it could quote output).
    return new ExecPluginError(
      "EXEC_FAILED",
      `exec: executable ${this.command}: unexpected failure while obtaining credentials${
        err instanceof Error ? ` (${err.name})` : ""
      }`,
      facts,
    );
  }
}

/** One registry entry: a shared authenticator and its handle count. */
interface SharedEntry {
  auth: ExecAuthenticator;
  refs: number;
}

const registry = new Map<string, SharedEntry>();
const objectIds = new WeakMap<object, number>();
let nextObjectId = 1;

function objectId(o: object | undefined): number | null {
  if (o === undefined) return null;
  let id = objectIds.get(o);
  if (id === undefined) {
    id = nextObjectId++;
    objectIds.set(o, id);
  }
  return id;
}

function stableStringify(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(",")}]`;
  if (v instanceof Date) return JSON.stringify(v.toISOString());
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${
      Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) =>
        `${JSON.stringify(k)}:${stableStringify(o[k])}`
      ).join(",")
    }}`;
  }
  return JSON.stringify(v) ?? "null";
}

function registryKey(
  cfg: NormalizedExecConfig,
  cluster: ResolvedCluster | undefined,
  o: ExecAuthenticatorOptions,
): string {
  const { onEvent: _onEvent, adapter, now, cache, ...rest } = o;
  return stableStringify({
    exec: cfg,
    cluster: cfg.provideClusterInfo && cluster
      ? {
        server: cluster.server,
        caPem: cluster.caPem,
        insecureSkipTlsVerify: cluster.insecureSkipTlsVerify,
        tlsServerName: cluster.tlsServerName,
        proxyUrl: cluster.proxyUrl,
        disableCompression: cluster.disableCompression,
        execExtension: cluster.execExtension,
      }
      : null,
    options: {
      ...rest,
      adapter: objectId(adapter),
      now: objectId(now),
      cache: cache?.id ?? null,
    },
  });
}

/** A handle on a shared authenticator: its own events, its own close(). */
class ExecCredentialHandle implements CredentialSource {
  readonly kind = "exec" as const;
  readonly command: string;
  readonly #entry: SharedEntry;
  readonly #key: string;
  readonly #listener: ExecEventListener | undefined;
  #closed = false;

  constructor(
    entry: SharedEntry,
    key: string,
    listener: ExecEventListener | undefined,
  ) {
    this.#entry = entry;
    this.#key = key;
    this.#listener = listener;
    this.command = entry.auth.command;
    if (listener) entry.auth.addListener(listener);
  }

  get(signal?: AbortSignal): Promise<Credentials> {
    if (this.#closed) {
      return Promise.reject(closedError(undefined, CLOSED_MESSAGE));
    }
    return this.#entry.auth.get(signal);
  }

  refreshAfterUnauthorized(
    used: Credentials,
    response: UnauthorizedResponse,
    signal?: AbortSignal,
  ): Promise<Credentials | null> {
    if (this.#closed) {
      return Promise.reject(closedError(undefined, CLOSED_MESSAGE));
    }
    return this.#entry.auth.refreshAfterUnauthorized(used, response, signal);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#listener) this.#entry.auth.removeListener(this.#listener);
    this.#entry.refs--;
    if (this.#entry.refs === 0) {
      if (registry.get(this.#key) === this.#entry) registry.delete(this.#key);
      await this.#entry.auth.close();
    }
  }
}

/**
 * The credential source for an exec stanza. Handles for the same key — the
 * whole exec configuration, plus the cluster when `provideClusterInfo` (as
 * client-go), plus the options other than `onEvent` — share ONE
 * authenticator (cache, single-flight, backoff) process-wide. Each handle
 * gets its own `onEvent` events and its own `close()`; the last close kills a
 * running plugin and drops the shared authenticator.
 *
 * @example Usage
 * ```ts
 * import { getExecAuthenticator } from "./authenticator.ts";
 * import { getRuntimeAdapter } from "../runtime/mod.ts";
 * const adapter = await getRuntimeAdapter();
 * const credential = '{"apiVersion":"client.authentication.k8s.io/v1",' +
 *   '"kind":"ExecCredential","status":{"token":"t0ken"}}';
 * const exec = {
 *   command: "sh",
 *   args: ["-c", `echo '${credential}'`],
 *   apiVersion: "client.authentication.k8s.io/v1",
 *   interactiveMode: "Never",
 * };
 * const cluster = {
 *   name: "dev",
 *   server: "https://127.0.0.1:6443",
 *   insecureSkipTlsVerify: false,
 *   disableCompression: false,
 * };
 * let runs = 0;
 * const a = getExecAuthenticator(exec, cluster, {
 *   adapter,
 *   onEvent: (e) => {
 *     if (e.type === "plugin-run") runs++;
 *   },
 * });
 * const b = getExecAuthenticator(exec, cluster, { adapter });
 * const [fromA, fromB] = await Promise.all([a.get(), b.get()]);
 * // One shared authenticator: one plugin run, the same credentials.
 * if (runs !== 1) throw new Error(`expected one plugin run, got ${runs}`);
 * if (fromA !== fromB || fromA.token !== "t0ken") throw new Error("not shared");
 * await a.close();
 * await b.close();
 * ```
 *
 * @param exec The exec stanza (command already resolved by the loader).
 * @param cluster The resolved cluster.
 * @param options Timeouts, limits, clock, events.
 * @returns A credential source of kind `exec`.
 * @throws {KubeauthError} `EXEC_CONFIG_INVALID` for an invalid stanza.
 */
export function getExecAuthenticator(
  exec: ExecConfig,
  cluster: ResolvedCluster,
  options: ExecAuthenticatorOptions,
): CredentialSource & { readonly command: string } {
  const cfg = normalizeExecConfig(exec);
  const key = registryKey(cfg, cluster, options);
  let entry = registry.get(key);
  if (!entry) {
    const { onEvent: _onEvent, ...shared } = options;
    entry = { auth: new ExecAuthenticator(cfg, cluster, shared), refs: 0 };
    registry.set(key, entry);
  }
  entry.refs++;
  return new ExecCredentialHandle(entry, key, options.onEvent);
}

/**
 * How many shared exec authenticators are alive (for tests and diagnostics).
 *
 * @example Usage
 * ```ts
 * import {
 *   getExecAuthenticator,
 *   sharedExecAuthenticatorCount,
 * } from "./authenticator.ts";
 * import { getRuntimeAdapter } from "../runtime/mod.ts";
 * const exec = {
 *   command: "my-plugin",
 *   apiVersion: "client.authentication.k8s.io/v1",
 *   interactiveMode: "Never",
 * };
 * const cluster = {
 *   name: "dev",
 *   server: "https://127.0.0.1:6443",
 *   insecureSkipTlsVerify: false,
 *   disableCompression: false,
 * };
 * const before = sharedExecAuthenticatorCount();
 * const source = getExecAuthenticator(exec, cluster, {
 *   adapter: await getRuntimeAdapter(),
 * });
 * if (sharedExecAuthenticatorCount() !== before + 1) throw new Error("not added");
 * await source.close(); // the last handle: the entry goes away
 * if (sharedExecAuthenticatorCount() !== before) throw new Error("not removed");
 * ```
 *
 * @returns The number of registry entries.
 */
export function sharedExecAuthenticatorCount(): number {
  return registry.size;
}

/** A run refused before it started: no terminal for `interactiveMode: Always`. */
function isInteractiveUnavailable(err: unknown): boolean {
  return err instanceof KubeauthError &&
    err.code === "EXEC_INTERACTIVE_UNAVAILABLE";
}
