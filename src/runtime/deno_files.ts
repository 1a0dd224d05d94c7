/**
 * The file and process primitives of the credential cache on Deno
 * (`Deno.lstat`, `Deno.open({ createNew })`, `Deno.kill(pid, 0)`…).
 * Deno permissions: `--allow-read` and `--allow-write` for the cache
 * directory, `--allow-sys=uid` for the owner check, `--allow-run` (already
 * needed for plugins) for the lock holder's liveness check.
 *
 * @module
 */
import { resolveCommand } from "./command_path.ts";
import type { FileKind } from "./command_path.ts";
import type { CacheFileSystem, FileInfo } from "./types.ts";

interface DenoFileInfo {
  isFile: boolean;
  isDirectory: boolean;
  isSymlink: boolean;
  mode: number | null;
  uid: number | null;
  size: number;
  mtime: Date | null;
}

interface DenoFilesLike {
  build: { os: string };
  errors: Record<string, new (...args: never[]) => Error>;
  pid: number;
  uid(): number | null;
  kill(pid: number, signo: number): void;
  lstat(path: string): Promise<DenoFileInfo>;
  statSync(path: string): { isFile: boolean; mode: number | null };
  mkdir(path: string, o: { recursive: boolean; mode: number }): Promise<void>;
  open(path: string, o: {
    write: boolean;
    createNew: boolean;
    mode: number;
  }): Promise<{
    write(p: Uint8Array): Promise<number>;
    chmod?(mode: number): Promise<void>;
    close(): void;
  }>;
  rename(from: string, to: string): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
  remove(path: string): Promise<void>;
  cwd(): string;
}

function denoFiles(): DenoFilesLike {
  return (globalThis as unknown as { Deno: DenoFilesLike }).Deno;
}

function probe(D: DenoFilesLike, path: string): FileKind {
  try {
    const st = D.statSync(path);
    if (!st.isFile) return "missing";
    if (D.build.os === "windows" || st.mode === null) return "executable";
    return (st.mode & 0o111) !== 0 ? "executable" : "not-executable";
  } catch {
    return "missing";
  }
}

/**
 * The cache primitives on Deno.
 *
 * @example Usage
 * ```ts
 * import { denoCacheFiles } from "./deno_files.ts";
 * const files = denoCacheFiles();
 * if (!files.processAlive(files.processId())) throw new Error("not as shown");
 * ```
 *
 * @returns The primitives.
 */
export function denoCacheFiles(): CacheFileSystem {
  const D = denoFiles();
  const windows = D.build.os === "windows";
  const notFound = (err: unknown) => err instanceof D.errors.NotFound;
  return {
    userId: () => (windows ? undefined : D.uid() ?? undefined),
    processId: () => D.pid,
    processAlive(pid) {
      try {
        D.kill(pid, 0);
        return true;
      } catch (err) {
        return !notFound(err); // EPERM: alive, owned by someone else
      }
    },
    async fileInfo(path): Promise<FileInfo | null> {
      let st: DenoFileInfo;
      try {
        st = await D.lstat(path);
      } catch (err) {
        if (notFound(err) || err instanceof D.errors.NotADirectory) return null;
        throw err;
      }
      return {
        kind: st.isSymlink
          ? "symlink"
          : st.isFile
          ? "file"
          : st.isDirectory
          ? "directory"
          : "other",
        mode: st.mode === null ? null : st.mode & 0o7777,
        uid: st.uid,
        size: st.size,
        mtimeMs: st.mtime?.getTime() ?? 0,
      };
    },
    makeDirectory: (path, mode) => D.mkdir(path, { recursive: true, mode }),
    async createFileExclusive(path, data, mode) {
      let file;
      try {
        file = await D.open(path, { write: true, createNew: true, mode });
      } catch (err) {
        if (err instanceof D.errors.AlreadyExists) return false;
        throw err;
      }
      try {
        if (!windows) await D.chmod(path, mode); // umask-proof
        let rest = data;
        while (rest.length > 0) rest = rest.subarray(await file.write(rest));
      } finally {
        file.close();
      }
      return true;
    },
    rename: (from, to) => D.rename(from, to),
    chmod: (path, mode) => D.chmod(path, mode),
    async removeFile(path) {
      try {
        await D.remove(path);
        return true;
      } catch (err) {
        if (notFound(err)) return false;
        throw err;
      }
    },
    resolveCommandPath(command, env) {
      try {
        return resolveCommand(command, env, undefined, {
          os: D.build.os,
          cwd: D.cwd(),
          probe: (p) => probe(D, p),
        });
      } catch {
        return undefined;
      }
    },
  };
}
