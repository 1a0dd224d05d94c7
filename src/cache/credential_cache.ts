/**
 * The opt-in credential cache shared by processes: plugin output stored per
 * key in a private directory, used while valid beyond the refresh margin,
 * and at most one plugin run at a time per key across processes.
 *
 * @module
 */
import type {
  ExecRunAnswer,
  ExecRunCache,
  ExecRunCacheEvent,
  ExecRunIdentity,
  ExecRunLoader,
  ExecRunResult,
} from "../exec/run_cache.ts";
import type { RuntimeAdapter } from "../runtime/types.ts";
import {
  type CacheHost,
  cacheHost,
  defaultCacheDir,
  joinPath,
  prepareCacheDir,
} from "./directory.ts";
import { type CacheEntry, readEntry, writeEntry } from "./entry_file.ts";
import { cacheKey } from "./key.ts";
import { tryLock } from "./lock_file.ts";

/** Options of {@linkcode CredentialCache}. */
export interface CredentialCacheOptions {
  /** File and process primitives. */
  adapter: RuntimeAdapter;
  /** The directory (default: `$KUBECACHEDIR/kubeauth`, else `~/.kube/cache/kubeauth`). */
  dir?: string;
  /** The clock, ms since the epoch (default `Date.now`). */
  now?: () => number;
  /** An entry is used until this fraction of its lifetime before expiry (default 0.1)… */
  refreshMarginRatio?: number;
  /** …but at most this many ms before it (default 60000). */
  refreshMarginMaxMs?: number;
  /** First wait for a lock held by another process (default 10 ms); doubles… */
  pollMinMs?: number;
  /** …up to this (default 100 ms). */
  pollMaxMs?: number;
}

type Emit = (event: ExecRunCacheEvent) => void;

/** Stale locks removed in a row before the cache gives up on the lock. */
const MAX_RECOVERIES = 50;

/** Where one key's files are. */
interface Where {
  host: CacheHost;
  dir: string;
  key: string;
  entry: string;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function describeError(err: unknown): string {
  const e = err as { code?: string; name?: string } | null;
  return e?.code ?? e?.name ?? "error";
}

/**
 * A directory of plugin outputs shared by every process of this user. See
 * the README's "Credential cache" section for the security model.
 *
 * @example Two answers, one plugin run
 * ```ts
 * import { makeScratchDir } from "../runtime/scratch_dir.ts";
 * import { CredentialCache } from "./credential_cache.ts";
 * import { getRuntimeAdapter } from "../runtime/mod.ts";
 * const adapter = await getRuntimeAdapter();
 * const scratch = await makeScratchDir();
 * const base = scratch.path;
 * const dir = `${base}/kubeauth`;
 * const cache = new CredentialCache({ adapter, dir });
 * let runs = 0;
 * const loader = {
 *   run: async () => {
 *     runs++;
 *     const expiresAt = new Date(Date.now() + 3_600_000);
 *     return { stdout: new TextEncoder().encode("{}"), value: "t", expiresAt };
 *   },
 *   decode: async () => ({ value: "t", expiresAt: new Date(Date.now() + 3_600_000) }),
 * };
 * const identity = { command: "p", args: [], env: {}, request: {} };
 * await cache.obtain(identity, loader);
 * const second = await cache.obtain(identity, loader);
 * if (!(runs === 1 && second.cached)) throw new Error("not as shown");
 * await scratch.remove();
 * ```
 */
export class CredentialCache implements ExecRunCache {
  /** The directory (identifies the store). */
  readonly id: string;
  /** The directory, `undefined` when none could be determined. */
  readonly dir: string | undefined;
  readonly #adapter: RuntimeAdapter;
  readonly #now: () => number;
  readonly #options: CredentialCacheOptions;

  /**
   * Creates a cache handle; nothing touches the disk until used.
   *
   * @param options Adapter, directory, clock, margins.
   */
  constructor(options: CredentialCacheOptions) {
    this.#adapter = options.adapter;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.dir = options.dir ?? defaultCacheDir(options.adapter);
    this.id = `dir:${this.dir ?? ""}`;
  }

  /**
   * Whether an entry may still be used: valid beyond the refresh margin.
   *
   * @param entry Its obtainedAt and expiresAt.
   * @returns True while fresh.
   */
  isFresh(entry: Pick<CacheEntry, "obtainedAt" | "expiresAt">): boolean {
    const lifetime = Math.max(0, entry.expiresAt - entry.obtainedAt);
    const margin = Math.min(
      this.#options.refreshMarginMaxMs ?? 60_000,
      lifetime * (this.#options.refreshMarginRatio ?? 0.1),
    );
    return this.#now() < entry.expiresAt - margin;
  }

  /**
   * A valid stored answer, else one plugin run (under the key's lock),
   * stored when it has an expiry. A cache that cannot be used (no
   * directory, unsafe directory) runs the plugin uncached and says why in a
   * `refused` event; entries that cannot be used are `ignored` and replaced.
   *
   * @param identity What determines the credential.
   * @param loader Runs the plugin; decodes stored output.
   * @param options `rejected` output (401), abort signal, event listener.
   * @returns The answer.
   */
  async obtain<T>(
    identity: ExecRunIdentity,
    loader: ExecRunLoader<T>,
    options: {
      rejected?: Uint8Array;
      signal?: AbortSignal;
      onEvent?: (event: ExecRunCacheEvent) => void;
    } = {},
  ): Promise<ExecRunAnswer<T>> {
    const emit: Emit = options.onEvent ?? (() => {});
    const dir = this.dir;
    const host = cacheHost(this.#adapter);
    const problem = host === null
      ? `the ${this.#adapter.name} runtime adapter has no file primitives for the cache`
      : dir === undefined
      ? "no cache directory: set KUBECACHEDIR or HOME"
      : await prepareCacheDir(host, dir).catch((err) =>
        `cannot create ${dir} (${describeError(err)})`
      );
    if (problem !== null || dir === undefined || host === null) {
      emit({ outcome: "refused", reason: problem ?? "no directory" });
      return { ...(await loader.run()), cached: false };
    }
    const command = host.resolveCommandPath(identity.command, identity.env) ??
      identity.command;
    const key = cacheKey({ ...identity, command });
    const at = { host, dir, key, entry: joinPath(dir, `${key}.json`) };
    const found = await this.#lookup(at, loader, options.rejected, emit);
    if (found) return found;
    return await this.#underLock(at, loader, options, emit);
  }

  async #underLock<T>(
    at: Where,
    loader: ExecRunLoader<T>,
    options: { rejected?: Uint8Array; signal?: AbortSignal },
    emit: Emit,
  ): Promise<ExecRunAnswer<T>> {
    const lockPath = joinPath(at.dir, `${at.key}.lock`);
    let delay = this.#options.pollMinMs ?? 10;
    let recoveries = 0;
    for (;;) {
      options.signal?.throwIfAborted();
      const attempt = await tryLock(at.host, lockPath, this.#now);
      if (attempt.kind === "acquired") {
        try {
          const found = await this.#lookup(at, loader, options.rejected, emit);
          if (found) return found;
          const result = await loader.run();
          await this.#store(at, result, emit);
          return { ...result, cached: false };
        } finally {
          await attempt.lock.release();
        }
      }
      if (attempt.kind === "recovered") {
        if (attempt.reason !== "lock released") {
          emit({ outcome: "lock-recovered", reason: attempt.reason });
        }
        // Another process may win each retry: back off after a few, and
        // give up on a lock that cannot be removed (run uncached).
        if (++recoveries > MAX_RECOVERIES) {
          emit({
            outcome: "refused",
            reason: `cannot take the lock (${attempt.reason})`,
          });
          return { ...(await loader.run()), cached: false };
        }
        if (recoveries > 3) await wait(delay, options.signal);
        continue;
      }
      await wait(delay, options.signal);
      delay = Math.min(delay * 2, this.#options.pollMaxMs ?? 100);
      const found = await this.#lookup(at, loader, options.rejected, emit);
      if (found) return found;
    }
  }

  async #lookup<T>(
    at: Where,
    loader: ExecRunLoader<T>,
    rejected: Uint8Array | undefined,
    emit: Emit,
  ): Promise<ExecRunAnswer<T> | null> {
    let read;
    try {
      read = await readEntry(at.host, at.entry, at.key);
    } catch (err) {
      emit({
        outcome: "ignored",
        reason: `the entry cannot be read (${describeError(err)})`,
      });
      return null;
    }
    if (read.kind === "missing") return null;
    if (read.kind === "ignored") {
      emit({ outcome: "ignored", reason: read.reason });
      return null;
    }
    const entry = read.entry;
    if (rejected && sameBytes(entry.stdout, rejected)) {
      await at.host.removeFile(at.entry).catch(() => false);
      emit({
        outcome: "ignored",
        reason: "the server refused these credentials (401): entry dropped",
      });
      return null;
    }
    if (!this.isFresh(entry)) return null;
    let decoded: Omit<ExecRunResult<T>, "stdout">;
    try {
      decoded = await loader.decode(entry.stdout);
    } catch {
      await at.host.removeFile(at.entry).catch(() => false);
      emit({
        outcome: "ignored",
        reason: "the entry is not a valid ExecCredential for this plugin",
      });
      return null;
    }
    return { stdout: entry.stdout, ...decoded, cached: true };
  }

  async #store<T>(
    at: Where,
    result: ExecRunResult<T>,
    emit: Emit,
  ): Promise<void> {
    if (result.expiresAt === undefined) {
      emit({
        outcome: "not-stored",
        reason:
          "the credential has no expiry (no expirationTimestamp, no certificate)",
      });
      return;
    }
    const entry: CacheEntry = {
      stdout: result.stdout,
      obtainedAt: this.#now(),
      expiresAt: result.expiresAt.getTime(),
    };
    if (!this.isFresh(entry)) {
      emit({
        outcome: "not-stored",
        reason: "the credential expires too soon",
      });
      return;
    }
    try {
      const ok = await writeEntry(at.host, at.dir, at.key, entry);
      emit(
        ok ? { outcome: "stored" } : {
          outcome: "not-stored",
          reason: "the plugin's output is not UTF-8 text",
        },
      );
    } catch (err) {
      emit({
        outcome: "not-stored",
        reason: `cannot write the entry (${describeError(err)})`,
      });
    }
  }
}
