/**
 * Reading files through the runtime adapter, with the runtime's error
 * turned into a short, secret-free reason (`no such file or directory`,
 * `permission denied`…) that works the same on Deno, Bun and Node.
 *
 * @module
 */
import type { RuntimeAdapter } from "../runtime/types.ts";

/** Why a file could not be read. */
export interface ReadFailure {
  /** The file does not exist (ENOENT / `NotFound`). */
  notFound: boolean;
  /** A Deno permission (`--allow-read`) is missing. */
  notCapable: boolean;
  /** A short reason for messages, e.g. `permission denied`. */
  reason: string;
}

const REASONS: Record<string, string> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EISDIR: "is a directory",
  ENOTDIR: "not a directory",
  ELOOP: "too many levels of symbolic links",
  ENAMETOOLONG: "file name too long",
};

const DENO_NAMES: Record<string, string> = {
  NotFound: "ENOENT",
  PermissionDenied: "EACCES",
  IsADirectory: "EISDIR",
  NotADirectory: "ENOTDIR",
};

/**
 * Classifies an error thrown by {@linkcode RuntimeAdapter.readFile}.
 *
 * @example Usage
 * ```ts
 * import { describeReadError } from "./read_file.ts";
 * const why = describeReadError(Object.assign(new Error("x"), { code: "ENOENT" }));
 * if (!(why.notFound && why.reason === "no such file or directory")) throw new Error("not as shown");
 * ```
 *
 * @param err The error.
 * @returns The classification.
 */
export function describeReadError(err: unknown): ReadFailure {
  const e = (err ?? {}) as {
    code?: unknown;
    name?: unknown;
    message?: unknown;
  };
  const name = typeof e.name === "string" ? e.name : "";
  let code = typeof e.code === "string" ? e.code : "";
  if (!REASONS[code] && DENO_NAMES[name]) code = DENO_NAMES[name];
  if (name === "NotCapable") {
    return {
      notFound: false,
      notCapable: true,
      reason: "read permission not granted (run Deno with --allow-read)",
    };
  }
  const message = typeof e.message === "string" ? e.message : String(err);
  return {
    notFound: code === "ENOENT",
    notCapable: false,
    reason: REASONS[code] ?? (message || "unknown error"),
  };
}

/**
 * Reads a file as UTF-8 text (a byte-order mark is dropped).
 *
 * @example Usage
 * ```ts
 * import { makeScratchDir } from "../runtime/scratch_dir.ts";
 * import { readTextFile } from "./read_file.ts";
 * import { getRuntimeAdapter } from "../runtime/mod.ts";
 * const scratch = await makeScratchDir();
 * const dir = scratch.path;
 * await scratch.writeFile(`${dir}/config`, "\uFEFFkind: Config\n"); // with a BOM
 * const text = await readTextFile(await getRuntimeAdapter(), `${dir}/config`);
 * if (text !== "kind: Config\n") throw new Error("not as shown");
 * await scratch.remove();
 * ```
 *
 * @param adapter The runtime adapter.
 * @param path An absolute path.
 * @returns The text.
 * @throws The adapter's error, untouched (classify it with {@linkcode describeReadError}).
 */
export async function readTextFile(
  adapter: RuntimeAdapter,
  path: string,
): Promise<string> {
  const bytes = await adapter.readFile(path);
  return new TextDecoder().decode(bytes);
}
