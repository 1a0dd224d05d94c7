/**
 * A lock file per cache key, so that across processes one plugin run at a
 * time happens per key. The holder writes its pid and a nonce into
 * `<key>.lock`, created exclusively (0600). A lock whose holder process is
 * gone is stale and removed at once; a lock file without a readable holder
 * (its creator died between creating and writing it) is stale once older
 * than {@linkcode UNREADABLE_LOCK_STALE_MS}.
 *
 * @module
 */
import type { CacheHost } from "./directory.ts";
import { randomSuffix } from "./entry_file.ts";

/** How old a lock file without a readable holder must be to count as stale. */
export const UNREADABLE_LOCK_STALE_MS = 3000;

/** A held lock. */
export interface HeldLock {
  /** Removes the lock file if it is still this holder's. Idempotent. */
  release(): Promise<void>;
}

/** What one attempt to take the lock found. */
export type LockAttempt =
  | { kind: "acquired"; lock: HeldLock }
  | { kind: "held"; pid: number }
  | { kind: "recovered"; reason: string };

interface Holder {
  pid: number;
  nonce: string;
}

async function readHolder(
  host: CacheHost,
  path: string,
): Promise<Holder | null | "unreadable"> {
  let text: string;
  try {
    text = new TextDecoder().decode(await host.readFile(path));
  } catch {
    return (await host.fileInfo(path)) === null ? null : "unreadable";
  }
  try {
    const h = JSON.parse(text) as Partial<Holder>;
    if (typeof h.pid === "number" && typeof h.nonce === "string") {
      return { pid: h.pid, nonce: h.nonce };
    }
  } catch {
    // fall through
  }
  return "unreadable";
}

/**
 * One non-blocking attempt to take the lock at `path`: `acquired`, `held`
 * by a live process, or `recovered` (a stale lock was removed; try again).
 *
 * @example Usage
 * ```ts
 * import { makeScratchDir } from "../runtime/scratch_dir.ts";
 * import { tryLock } from "./lock_file.ts";
 * import { cacheHost } from "./directory.ts";
 * import { getRuntimeAdapter } from "../runtime/mod.ts";
 * const host = cacheHost(await getRuntimeAdapter())!;
 * const scratch = await makeScratchDir();
 * const dir = scratch.path;
 * const a = await tryLock(host, `${dir}/ab12.lock`, Date.now);
 * const b = await tryLock(host, `${dir}/ab12.lock`, Date.now);
 * if (a.kind !== "acquired") throw new Error("not as shown");
 * if (!(b.kind === "held" && b.pid === host.processId())) throw new Error("not as shown"); // by us
 * if (a.kind === "acquired") await a.lock.release();
 * const c = await tryLock(host, `${dir}/ab12.lock`, Date.now);
 * if (c.kind !== "acquired") throw new Error("not as shown");
 * if (c.kind === "acquired") await c.lock.release();
 * await scratch.remove();
 * ```
 *
 * @param host File and process primitives.
 * @param path The lock file.
 * @param now The clock (ms since the epoch).
 * @returns The outcome.
 */
export async function tryLock(
  host: CacheHost,
  path: string,
  now: () => number,
): Promise<LockAttempt> {
  const me: Holder = { pid: host.processId(), nonce: randomSuffix() };
  const text = new TextEncoder().encode(JSON.stringify(me));
  if (await host.createFileExclusive(path, text, 0o600)) {
    return { kind: "acquired", lock: new OwnLock(host, path, me.nonce) };
  }
  const holder = await readHolder(host, path);
  if (holder === null) return { kind: "recovered", reason: "lock released" };
  if (holder === "unreadable") {
    const info = await host.fileInfo(path);
    if (info === null) return { kind: "recovered", reason: "lock released" };
    if (info.kind !== "file") {
      await host.removeFile(path).catch(() => false);
      return { kind: "recovered", reason: "the lock was not a regular file" };
    }
    if (now() - info.mtimeMs < UNREADABLE_LOCK_STALE_MS) {
      return { kind: "held", pid: 0 };
    }
    await host.removeFile(path).catch(() => false);
    return {
      kind: "recovered",
      reason: "removed a lock file without a readable holder",
    };
  }
  if (host.processAlive(holder.pid)) {
    return { kind: "held", pid: holder.pid };
  }
  await host.removeFile(path).catch(() => false);
  return {
    kind: "recovered",
    reason: `removed a stale lock: its holder (pid ${holder.pid}) is gone`,
  };
}

class OwnLock implements HeldLock {
  readonly #host: CacheHost;
  readonly #path: string;
  readonly #nonce: string;
  #released = false;

  constructor(host: CacheHost, path: string, nonce: string) {
    this.#host = host;
    this.#path = path;
    this.#nonce = nonce;
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    const holder = await readHolder(this.#host, this.#path);
    if (
      holder !== null && holder !== "unreadable" && holder.nonce === this.#nonce
    ) {
      await this.#host.removeFile(this.#path).catch(() => false);
    }
  }
}
