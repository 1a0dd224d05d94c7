/**
 * A private temporary directory (0700) for the documentation examples and
 * the tests: files written into it, then removed with everything in it. The
 * runtime layer owns it because it touches the file system; it works alike
 * on Deno, Bun and Node.
 *
 * @module
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";

/** A temporary directory and what can be done with it. */
export interface ScratchDir {
  /** The directory's absolute path. */
  readonly path: string;
  /**
   * Writes a file (mode 0600), replacing one that exists.
   *
   * @param path Where: absolute, or relative to the directory.
   * @param data Text (written as UTF-8) or bytes.
   * @returns The file's absolute path.
   */
  writeFile(path: string, data: string | Uint8Array): Promise<string>;
  /** Removes the directory and everything in it. */
  remove(): Promise<void>;
}

/**
 * Creates a private directory under the system's temporary directory.
 *
 * @example Usage
 * ```ts
 * import { makeScratchDir } from "./scratch_dir.ts";
 * import { getRuntimeAdapter } from "./mod.ts";
 * const dir = await makeScratchDir();
 * const file = await dir.writeFile("config", "current-context: dev\n");
 * const adapter = await getRuntimeAdapter();
 * const text = new TextDecoder().decode(await adapter.readFile(file));
 * await dir.remove();
 * if (text !== "current-context: dev\n") throw new Error("not as shown");
 * ```
 *
 * @param prefix The start of the directory's name.
 * @returns The directory.
 */
export async function makeScratchDir(
  prefix = "kubeauth-",
): Promise<ScratchDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return {
    path,
    async writeFile(file, data) {
      const target = isAbsolute(file) ? file : join(path, file);
      await writeFile(target, data, { mode: 0o600 });
      return target;
    },
    remove: () => rm(path, { recursive: true, force: true }),
  };
}
