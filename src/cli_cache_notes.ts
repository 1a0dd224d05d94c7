/**
 * What the CLI says on stderr about the credential cache (`--cache` and
 * `kubeauth cached`): a cache directory it would not use, an entry it
 * ignored (and replaced), an answer it could not store. Each means a plugin
 * run the user expected the cache to save, so each gets one line saying
 * why (the reasons never hold a secret). Hits, stores and recovered locks
 * say nothing.
 *
 * @module
 */
import type { ExecEvent } from "./exec/events.ts";
import type { AuthedFetchEvent } from "./fetch/authed_fetch.ts";

/**
 * What a cache did: a client's `credential-cache` event, or what
 * `runCachedPlugin` reports (the same outcomes, without `hit`).
 */
export type CacheEventLike = Pick<
  Extract<ExecEvent, { type: "credential-cache" }>,
  "outcome" | "reason"
>;

const SAID: Partial<Record<CacheEventLike["outcome"], string>> = {
  refused: "not used",
  ignored: "entry ignored",
  "not-stored": "answer not stored",
};

/**
 * The line for a cache event, or `undefined` for one that needs none.
 *
 * @example Usage
 * ```ts
 * import { cacheNote } from "./cli_cache_notes.ts";
 * const line = cacheNote({ outcome: "refused", reason: "/c/kubeauth is writable by others" });
 * if (line !== "credential cache not used: /c/kubeauth is writable by others") throw new Error("not as shown");
 * if (cacheNote({ outcome: "stored" }) !== undefined) throw new Error("not as shown");
 * ```
 *
 * @param event What the cache did.
 * @returns The line, without prefix or newline.
 */
export function cacheNote(event: CacheEventLike): string | undefined {
  const said = SAID[event.outcome];
  if (said === undefined) return undefined;
  return `credential cache ${said}${event.reason ? `: ${event.reason}` : ""}`;
}

/**
 * Writes the {@linkcode cacheNote} lines of a command's cache events in
 * order, as they happen ({@linkcode CacheNotes.onEvent} takes a client's
 * events); {@linkcode CacheNotes.flushed} waits for them before the command
 * exits.
 *
 * @example Usage
 * ```ts
 * import { CacheNotes } from "./cli_cache_notes.ts";
 * let stderr = "";
 * const notes = new CacheNotes(async (b) => void (stderr += new TextDecoder().decode(b)), "kubeauth");
 * notes.note({ outcome: "ignored", reason: "the entry is a symlink" });
 * notes.note({ outcome: "stored" });
 * notes.onEvent({ type: "credential-cache", command: "aws", outcome: "hit" });
 * await notes.flushed();
 * if (stderr !== "kubeauth: credential cache entry ignored: the entry is a symlink\n") throw new Error("not as shown");
 * ```
 */
export class CacheNotes {
  readonly #write: (bytes: Uint8Array) => Promise<void>;
  readonly #prefix: string;
  #pending: Promise<void> = Promise.resolve();

  /**
   * @param write Writes to stderr.
   * @param prefix Starts each line (`kubeauth`, `kubeauth cached`).
   */
  constructor(write: (bytes: Uint8Array) => Promise<void>, prefix: string) {
    this.#write = write;
    this.#prefix = prefix;
  }

  /**
   * Writes the event's line, if it has one, after the lines before it.
   *
   * @param event What the cache did.
   */
  note(event: CacheEventLike): void {
    const line = cacheNote(event);
    if (line === undefined) return;
    const bytes = new TextEncoder().encode(`${this.#prefix}: ${line}\n`);
    this.#pending = this.#pending.then(() => this.#write(bytes)).catch(
      () => {},
    );
  }

  /**
   * A client's event listener: notes its `credential-cache` events, ignores
   * the others.
   *
   * @param event Any event of `createAuthedFetch` or a credential source.
   */
  readonly onEvent = (event: AuthedFetchEvent): void => {
    if (event.type === "credential-cache") this.note(event);
  };

  /**
   * Resolves once every line noted so far is written (a failed write is
   * dropped: stderr is gone).
   *
   * @returns When the lines are out.
   */
  flushed(): Promise<void> {
    return this.#pending;
  }
}
