/**
 * Portable command resolution shared by the runtime adapters: a bare name is
 * looked up on the `PATH` of the environment the child will get (not the
 * parent's), a relative path containing a separator is taken relative to the
 * child's working directory, an absolute path is used as is.
 *
 * @module
 */

import { SpawnError } from "./types.ts";

/** What a file system probe says about one candidate path. */
export type FileKind =
  | "executable"
  | "not-executable"
  | "missing"
  | "directory";

/** The few facts about the host that command resolution needs. */
export interface CommandResolutionHost {
  /** `windows` or a POSIX name. */
  os: string;
  /** The parent's current working directory. */
  cwd: string;
  /** Classifies one candidate path (follows symlinks). */
  probe(path: string): FileKind;
}

/**
 * Turns {@linkcode SpawnOptions.command} into the path to execute.
 *
 * @example Usage
 * ```ts
 * import { resolveCommand } from "./command_path.ts";
 * const path = resolveCommand("sh", { PATH: "/usr/bin:/bin" }, undefined, {
 *   os: "linux",
 *   cwd: "/",
 *   probe: () => "executable",
 * });
 * if (path !== "/usr/bin/sh") throw new Error(`resolved ${path}`);
 * ```
 *
 * @param command A bare name, or a path.
 * @param env The child's complete environment (its `PATH` is searched).
 * @param cwd The child's working directory, if it gets its own.
 * @param host The runtime's file probe, OS and cwd.
 * @returns The path to execute.
 * @throws {SpawnError} `not-found` when a bare name is on no `PATH` entry;
 * `permission-denied` when it is found only as non-executable files;
 * `is-directory` when the path, or a bare name's only match, is a directory.
 */
export function resolveCommand(
  command: string,
  env: Readonly<Record<string, string>>,
  cwd: string | undefined,
  host: CommandResolutionHost,
): string {
  const windows = host.os === "windows";
  const hasSeparator = command.includes("/") ||
    (windows && command.includes("\\"));
  if (command === "") {
    throw new SpawnError("not-found", command, "empty command");
  }
  const childCwd = cwd === undefined ? host.cwd : join(host.cwd, cwd, windows);
  if (hasSeparator) {
    const full = join(childCwd, command, windows);
    if (host.probe(full) === "directory") {
      throw new SpawnError("is-directory", command, `${full} is a directory`);
    }
    return full;
  }
  const pathVar = windows ? (env.Path ?? env.PATH ?? env.path) : env.PATH;
  const dirs = (pathVar ?? "").split(windows ? ";" : ":");
  const exts = windows && !/\.[^.\\/]+$/.test(command)
    ? (env.PATHEXT ?? ".COM;.EXE;.BAT;.CMD").split(";").filter((e) => e !== "")
    : [""];
  let denied: string | undefined;
  let directory: string | undefined;
  for (const dir of dirs) {
    // An empty PATH entry means the current directory (POSIX rule).
    const base = join(childCwd, dir === "" ? "." : dir, windows);
    for (const ext of exts) {
      const full = join(base, command + ext, windows);
      const kind = host.probe(full);
      if (kind === "executable") return full;
      if (kind === "not-executable") denied ??= full;
      if (kind === "directory") directory ??= full;
    }
  }
  if (denied !== undefined) {
    throw new SpawnError(
      "permission-denied",
      command,
      `${denied} is not executable`,
    );
  }
  if (directory !== undefined) {
    throw new SpawnError(
      "is-directory",
      command,
      `${directory} on $PATH is a directory`,
    );
  }
  throw new SpawnError(
    "not-found",
    command,
    `executable file not found in $PATH`,
  );
}

function isAbsolute(p: string, windows: boolean): boolean {
  if (p.startsWith("/")) return true;
  return windows && (/^[a-zA-Z]:[\\/]/.test(p) || p.startsWith("\\\\"));
}

function join(a: string, b: string, windows: boolean): string {
  if (isAbsolute(b, windows)) return b;
  const sep = windows ? "\\" : "/";
  const left = a.endsWith("/") || (windows && a.endsWith("\\"))
    ? a.slice(0, -1)
    : a;
  const right = b.startsWith("./") || (windows && b.startsWith(".\\"))
    ? b.slice(2)
    : b;
  if (right === "." || right === "") return left;
  return `${left}${sep}${right}`;
}
