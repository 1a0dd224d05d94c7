/**
 * The file and process primitives of the credential cache for the runtimes
 * that provide `node:` modules (Bun and Node).
 *
 * @module
 */
import { constants } from "node:fs";
import { chmod, lstat, mkdir, open, rename, unlink } from "node:fs/promises";
import process from "node:process";
import { resolveCommand } from "./command_path.ts";
import { probeExecutable } from "./node_common.ts";
import type { CacheFileSystem, FileInfo } from "./types.ts";

function codeOf(err: unknown): string | undefined {
  return (err as { code?: string } | null)?.code;
}

/**
 * The cache primitives on `node:fs` and `node:process`.
 *
 * @example Usage
 * ```ts
 * import { nodeCacheFiles } from "./node_files.ts";
 * const files = nodeCacheFiles("linux");
 * if (!files.processAlive(files.processId())) throw new Error("not as shown");
 * ```
 *
 * @param os The adapter's OS name (`windows`, `linux`…).
 * @returns The primitives.
 */
export function nodeCacheFiles(os: string): CacheFileSystem {
  return {
    userId:
      () => (typeof process.geteuid === "function"
        ? process.geteuid()
        : undefined),
    processId: () => process.pid,
    processAlive(pid) {
      try {
        process.kill(pid, 0);
        return true;
      } catch (err) {
        return codeOf(err) === "EPERM";
      }
    },
    async fileInfo(path): Promise<FileInfo | null> {
      try {
        const st = await lstat(path);
        return {
          kind: st.isSymbolicLink()
            ? "symlink"
            : st.isFile()
            ? "file"
            : st.isDirectory()
            ? "directory"
            : "other",
          mode: os === "windows" ? null : st.mode & 0o7777,
          uid: os === "windows" ? null : st.uid,
          size: st.size,
          mtimeMs: st.mtimeMs,
        };
      } catch (err) {
        if (codeOf(err) === "ENOENT" || codeOf(err) === "ENOTDIR") return null;
        throw err;
      }
    },
    async makeDirectory(path, mode) {
      await mkdir(path, { recursive: true, mode });
    },
    async createFileExclusive(path, data, mode) {
      let handle;
      try {
        handle = await open(
          path,
          constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL,
          mode,
        );
      } catch (err) {
        if (codeOf(err) === "EEXIST") return false;
        throw err;
      }
      try {
        if (os !== "windows") await handle.chmod(mode); // umask-proof
        await handle.writeFile(data);
      } finally {
        await handle.close();
      }
      return true;
    },
    rename: (from, to) => rename(from, to),
    chmod: (path, mode) => chmod(path, mode),
    async removeFile(path) {
      try {
        await unlink(path);
        return true;
      } catch (err) {
        if (codeOf(err) === "ENOENT") return false;
        throw err;
      }
    },
    resolveCommandPath(command, env) {
      try {
        return resolveCommand(command, env, undefined, {
          os,
          cwd: process.cwd(),
          probe: probeExecutable,
        });
      } catch {
        return undefined;
      }
    },
  };
}
