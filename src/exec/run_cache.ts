/**
 * The hook through which a credential cache shared by processes (see
 * src/cache/) takes part in exec plugin runs. The exec authenticator asks it
 * for the plugin's output instead of running the plugin itself; the cache
 * answers from disk or runs the plugin once (under its lock) and stores the
 * output. The hook sees only bytes, expiry dates and what determines the
 * credential; it knows nothing about ExecCredential.
 *
 * @module
 */
/** Everything that determines the credential a plugin run returns. */
export interface ExecRunIdentity {
  /** The command as configured (after the kubeconfig loader resolved a relative path). */
  command: string;
  /** The arguments. */
  args: readonly string[];
  /** The complete environment the plugin gets (without `KUBERNETES_EXEC_INFO`). */
  env: Readonly<Record<string, string>>;
  /**
   * The `KUBERNETES_EXEC_INFO` object the plugin gets (apiVersion, and the
   * cluster when `provideClusterInfo`); `spec.interactive` and
   * `spec.response` are not part of the identity.
   */
  request: unknown;
}

/** What one real plugin run produced, decoded. */
export interface ExecRunResult<T> {
  /** The plugin's stdout, exactly (secret). */
  stdout: Uint8Array;
  /** The decoded value. */
  value: T;
  /** When it expires (`expirationTimestamp`, else the certificate's NotAfter). */
  expiresAt: Date | undefined;
}

/** How the cache obtains and checks a value. */
export interface ExecRunLoader<T> {
  /** Runs the plugin (throws its error unchanged). */
  run(): Promise<ExecRunResult<T>>;
  /** Decodes a stored stdout; throws when it is not a valid answer. */
  decode(stdout: Uint8Array): Promise<Omit<ExecRunResult<T>, "stdout">>;
}

/** What {@linkcode ExecRunCache.obtain} resolves to. */
export interface ExecRunAnswer<T> extends ExecRunResult<T> {
  /** True when it came from the cache (no plugin run in this process). */
  cached: boolean;
}

/**
 * A cache of plugin outputs shared across processes.
 *
 * @example A cache that never stores (what no cache means)
 * ```ts
 * import type { ExecRunCache } from "./run_cache.ts";
 * const none: ExecRunCache = {
 *   id: "none",
 *   obtain: async (_identity, loader) => ({ ...(await loader.run()), cached: false }),
 * };
 * const got = await none.obtain(
 *   { command: "p", args: [], env: {}, request: {} },
 *   {
 *     run: async () => ({ stdout: new Uint8Array([1]), value: 1, expiresAt: undefined }),
 *     decode: () => Promise.reject(new Error("unused")),
 *   },
 * );
 * if (!(got.value === 1 && !got.cached)) throw new Error("not as shown");
 * ```
 */
export interface ExecRunCache {
  /** Identifies the store (e.g. its directory): authenticators sharing a cache share this. */
  readonly id: string;
  /**
   * A valid stored answer for `identity`, else the result of
   * `loader.run()` (at most one run at a time per identity across
   * processes), stored when it has an expiry.
   *
   * @param identity What determines the credential.
   * @param loader Runs the plugin, decodes stored output.
   * @param options `rejected`: a stdout the server refused (401): never
   *   answered from the store again; `signal` aborts the wait; `onEvent`
   *   hears what the cache did.
   */
  obtain<T>(
    identity: ExecRunIdentity,
    loader: ExecRunLoader<T>,
    options?: {
      rejected?: Uint8Array;
      signal?: AbortSignal;
      onEvent?: (event: ExecRunCacheEvent) => void;
    },
  ): Promise<ExecRunAnswer<T>>;
}

/**
 * What a cache did: `stored` an answer, `ignored` an entry (and why:
 * corrupt, truncated, foreign, symlink, permissions, expired…), `refused`
 * to use its directory (it runs the plugin uncached then), `lock-recovered`
 * from a holder that died, `not-stored` an answer without expiry. Never a
 * secret in `reason`.
 */
export interface ExecRunCacheEvent {
  /** What happened. */
  outcome: "stored" | "ignored" | "refused" | "lock-recovered" | "not-stored";
  /** Why, for people (no secret). */
  reason?: string;
}
