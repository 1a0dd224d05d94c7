/**
 * One cache entry on disk: `<key>.json` holding exactly what the plugin
 * printed plus metadata, written atomically (a 0600 temp file renamed into
 * place) and read only when it is a regular file of this user with no
 * permission for anyone else.
 *
 * @module
 */
import { type CacheHost, octal } from "./directory.ts";

/** The format marker of an entry. */
export const ENTRY_FORMAT = "kubeauth.dev/credential-cache/v1";

/** Largest entry read (a plugin's stdout is capped at 16 MiB). */
const MAX_ENTRY_BYTES = 24 * 1024 * 1024;

/** A parsed entry. `stdout` is secret. */
export interface CacheEntry {
  /** The plugin's output, exactly. */
  stdout: Uint8Array;
  /** When the plugin ran (ms since the epoch). */
  obtainedAt: number;
  /** When the credential expires (ms since the epoch). */
  expiresAt: number;
}

/** What reading an entry found. */
export type EntryRead =
  | { kind: "missing" }
  | { kind: "ignored"; reason: string }
  | { kind: "entry"; entry: CacheEntry };

/**
 * Reads the entry at `path`. Anything that is not a well-formed entry for
 * `key` (symlink, other owner, mode wider than 0600, corrupt, truncated,
 * another key's) is removed and reported as `ignored` with the reason.
 *
 * @example A missing entry
 * ```ts
 * import { makeScratchDir } from "../runtime/scratch_dir.ts";
 * import { readEntry } from "./entry_file.ts";
 * import { cacheHost } from "./directory.ts";
 * import { getRuntimeAdapter } from "../runtime/mod.ts";
 * const host = cacheHost(await getRuntimeAdapter())!;
 * const scratch = await makeScratchDir();
 * const dir = scratch.path;
 * const found = await readEntry(host, `${dir}/ab12.json`, "ab12");
 * if (found.kind !== "missing") throw new Error("not as shown");
 * // A corrupt entry is removed and reported.
 * await scratch.writeFile(`${dir}/ab12.json`, "{");
 * const bad = await readEntry(host, `${dir}/ab12.json`, "ab12");
 * if (bad.kind !== "ignored") throw new Error("not as shown");
 * if (await host.fileInfo(`${dir}/ab12.json`) !== null) throw new Error("not as shown");
 * await scratch.remove();
 * ```
 *
 * @param host File primitives.
 * @param path The entry file.
 * @param key The key it must belong to.
 * @returns What was found.
 */
export async function readEntry(
  host: CacheHost,
  path: string,
  key: string,
): Promise<EntryRead> {
  const info = await host.fileInfo(path);
  if (info === null) return { kind: "missing" };
  const refuse = async (reason: string): Promise<EntryRead> => {
    if (info.kind !== "directory") {
      await host.removeFile(path).catch(() => false);
    }
    return { kind: "ignored", reason };
  };
  if (info.kind === "symlink") return await refuse("the entry is a symlink");
  if (info.kind !== "file") return await refuse("the entry is not a file");
  const me = host.userId();
  if (me !== undefined && info.uid !== null && info.uid !== me) {
    return await refuse(`the entry is owned by user ${info.uid}`);
  }
  if (info.mode !== null && (info.mode & 0o077) !== 0) {
    return await refuse(
      `the entry's mode ${octal(info.mode)} is wider than 0600`,
    );
  }
  if (info.size > MAX_ENTRY_BYTES) {
    return await refuse("the entry is too large");
  }
  let bytes: Uint8Array;
  try {
    bytes = await host.readFile(path);
  } catch (err) {
    if ((err as { code?: string; name?: string })?.name === "NotFound") {
      return { kind: "missing" };
    }
    if ((err as { code?: string })?.code === "ENOENT") {
      return { kind: "missing" };
    }
    throw err;
  }
  const parsed = parseEntry(bytes, key);
  if (typeof parsed === "string") return await refuse(parsed);
  return { kind: "entry", entry: parsed };
}

function parseEntry(bytes: Uint8Array, key: string): CacheEntry | string {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return "the entry is corrupt or truncated (not JSON)";
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    return "the entry is corrupt (not an object)";
  }
  if (doc.format !== ENTRY_FORMAT) {
    return "the entry is foreign (not a kubeauth cache entry)";
  }
  if (doc.key !== key) {
    return "the entry is foreign (it belongs to another key)";
  }
  const obtainedAt = Date.parse(String(doc.obtainedAt));
  const expiresAt = Date.parse(String(doc.expiresAt));
  if (
    typeof doc.stdout !== "string" || !Number.isFinite(obtainedAt) ||
    !Number.isFinite(expiresAt)
  ) {
    return "the entry is corrupt (missing fields)";
  }
  return {
    stdout: new TextEncoder().encode(doc.stdout),
    obtainedAt,
    expiresAt,
  };
}

/**
 * Writes an entry atomically: a new 0600 temp file in the same directory,
 * renamed over `path` (which replaces a symlink there instead of following
 * it). Readers see the old entry or the new one, never a torn file.
 *
 * @example Usage
 * ```ts
 * import { makeScratchDir } from "../runtime/scratch_dir.ts";
 * import { readEntry, writeEntry } from "./entry_file.ts";
 * import { cacheHost } from "./directory.ts";
 * import { getRuntimeAdapter } from "../runtime/mod.ts";
 * const host = cacheHost(await getRuntimeAdapter())!;
 * const scratch = await makeScratchDir();
 * const dir = scratch.path;
 * const stdout = new TextEncoder().encode('{"kind":"ExecCredential"}');
 * const obtainedAt = Date.now();
 * const expiresAt = obtainedAt + 3_600_000;
 * const key = "ab12";
 * if (!(await writeEntry(host, dir, key, { stdout, obtainedAt, expiresAt }))) throw new Error("not as shown");
 * const found = await readEntry(host, `${dir}/${key}.json`, key);
 * if (!(found.kind === "entry" && found.entry.expiresAt === expiresAt)) throw new Error("not as shown");
 * await scratch.remove();
 * ```
 *
 * @param host File primitives.
 * @param dir The cache directory.
 * @param key The key (names the file).
 * @param entry What to store.
 * @returns `false` when the output is not UTF-8 text (nothing stored).
 */
export async function writeEntry(
  host: CacheHost,
  dir: string,
  key: string,
  entry: CacheEntry,
): Promise<boolean> {
  let stdout: string;
  try {
    stdout = new TextDecoder("utf-8", { fatal: true }).decode(entry.stdout);
  } catch {
    return false;
  }
  const text = JSON.stringify({
    format: ENTRY_FORMAT,
    key,
    obtainedAt: new Date(entry.obtainedAt).toISOString(),
    expiresAt: new Date(entry.expiresAt).toISOString(),
    stdout,
  });
  const tmp = `${dir}/.${key}.${host.processId()}.${randomSuffix()}.tmp`;
  if (
    !await host.createFileExclusive(
      tmp,
      new TextEncoder().encode(text),
      0o600,
    )
  ) {
    return false;
  }
  try {
    await host.rename(tmp, `${dir}/${key}.json`);
  } catch (err) {
    await host.removeFile(tmp).catch(() => false);
    throw err;
  }
  return true;
}

/**
 * 16 random hex digits.
 *
 * @example Usage
 * ```ts
 * import { randomSuffix } from "./entry_file.ts";
 * if (!(/^[0-9a-f]{16}$/.test(randomSuffix()))) throw new Error("not as shown");
 * ```
 *
 * @returns The suffix.
 */
export function randomSuffix(): string {
  const b = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
