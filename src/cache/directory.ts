/**
 * Where the credential cache lives, and the checks that make a directory
 * safe to keep credentials in.
 *
 * @module
 */
import type { CacheFileSystem, RuntimeAdapter } from "../runtime/types.ts";

/** What the cache needs from the runtime: its file primitives and `readFile`. */
export type CacheHost = CacheFileSystem & Pick<RuntimeAdapter, "readFile">;

/**
 * The cache's view of an adapter, `null` when the adapter has no
 * {@linkcode RuntimeAdapter.cacheFiles}.
 *
 * @example Usage
 * ```ts
 * import { cacheHost } from "./directory.ts";
 * import { getRuntimeAdapter } from "../runtime/mod.ts";
 * const host = cacheHost(await getRuntimeAdapter());
 * if (!(host !== null && host.processAlive(host.processId()))) throw new Error("not as shown");
 * ```
 *
 * @param adapter The runtime adapter.
 * @returns The host, or null.
 */
export function cacheHost(adapter: RuntimeAdapter): CacheHost | null {
  const files = adapter.cacheFiles;
  if (!files) return null;
  return { ...files, readFile: (path) => adapter.readFile(path) };
}

/**
 * The default cache directory: `$KUBECACHEDIR/kubeauth`, else
 * `~/.kube/cache/kubeauth` (kubectl's cache root); `undefined` without a
 * home directory.
 *
 * @example Usage
 * ```ts
 * import { defaultCacheDir } from "./directory.ts";
 * const env: Record<string, string> = { KUBECACHEDIR: "/var/cache/kube" };
 * const dir = defaultCacheDir({ getEnv: (n) => env[n], homeDir: () => "/home/u" });
 * if (dir !== "/var/cache/kube/kubeauth") throw new Error("not as shown");
 * ```
 *
 * @param adapter Environment and home directory.
 * @returns The directory path.
 */
export function defaultCacheDir(
  adapter: Pick<RuntimeAdapter, "getEnv" | "homeDir">,
): string | undefined {
  const root = adapter.getEnv("KUBECACHEDIR");
  if (root) return joinPath(root, "kubeauth");
  const home = adapter.homeDir();
  return home ? joinPath(home, ".kube", "cache", "kubeauth") : undefined;
}

/**
 * Joins path segments with `/` (accepted by every runtime, Windows included).
 *
 * @example Usage
 * ```ts
 * import { joinPath } from "./directory.ts";
 * if (joinPath("/a/", "b", "c") !== "/a/b/c") throw new Error("not as shown");
 * ```
 *
 * @param parts The segments.
 * @returns The joined path.
 */
export function joinPath(...parts: string[]): string {
  return parts.map((p, i) => i === 0 ? p.replace(/[/\\]+$/, "") : p).join(
    "/",
  );
}

/**
 * Creates the directory (0700) when missing and checks it: a real directory
 * (not a symlink), owned by this user, writable by nobody else. A directory
 * of ours readable by others is tightened to 0700.
 *
 * @example A directory in a fresh temporary place is accepted
 * ```ts
 * import { makeScratchDir } from "../runtime/scratch_dir.ts";
 * import { cacheHost, prepareCacheDir } from "./directory.ts";
 * import { getRuntimeAdapter } from "../runtime/mod.ts";
 * const host = cacheHost(await getRuntimeAdapter())!;
 * const scratch = await makeScratchDir();
 * const base = scratch.path;
 * const problem = await prepareCacheDir(host, `${base}/kubeauth`);
 * if (problem !== null) throw new Error("not as shown");
 * const info = await host.fileInfo(`${base}/kubeauth`);
 * if (!(info?.kind === "directory" && (info.mode ?? 0o700) === 0o700)) throw new Error("not as shown");
 * await scratch.remove();
 * ```
 *
 * @param host File primitives.
 * @param dir The directory.
 * @returns `null` when usable, else why not (no secret).
 */
export async function prepareCacheDir(
  host: CacheHost,
  dir: string,
): Promise<string | null> {
  let info = await host.fileInfo(dir);
  if (info === null) {
    await host.makeDirectory(dir, 0o700);
    info = await host.fileInfo(dir);
    if (info?.kind === "directory" && info.mode !== null) {
      await host.chmod(dir, 0o700);
      info = { ...info, mode: 0o700 };
    }
  }
  if (info === null) return `${dir} could not be created`;
  if (info.kind === "symlink") return `${dir} is a symlink`;
  if (info.kind !== "directory") return `${dir} is not a directory`;
  const me = host.userId();
  if (me !== undefined && info.uid !== null && info.uid !== me) {
    return `${dir} is owned by user ${info.uid}, not by this user (${me})`;
  }
  if (info.mode !== null && (info.mode & 0o022) !== 0) {
    return `${dir} is writable by others (mode ${octal(info.mode)})`;
  }
  if (info.mode !== null && (info.mode & 0o077) !== 0) {
    await host.chmod(dir, 0o700);
  }
  return null;
}

/**
 * A mode as four octal digits.
 *
 * @example Usage
 * ```ts
 * import { octal } from "./directory.ts";
 * if (octal(0o644) !== "0644") throw new Error("not as shown");
 * ```
 *
 * @param mode Permission bits.
 * @returns E.g. `0644`.
 */
export function octal(mode: number): string {
  return "0" + (mode & 0o777).toString(8).padStart(3, "0");
}
