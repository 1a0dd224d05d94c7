/**
 * Helpers shared by the adapters of the runtimes that provide `node:`
 * modules (Bun and Node). Deno's adapter does not use them.
 *
 * @module
 */
import { accessSync, constants, statSync } from "node:fs";
import { createRequire } from "node:module";
import type { FileKind } from "./command_path.ts";
import { SpawnError } from "./types.ts";

/**
 * Classifies a path for command lookup with `access(2)`, as `execvp` would.
 *
 * @example Usage
 * ```ts
 * import { probeExecutable } from "./node_common.ts";
 * if (probeExecutable("/bin/sh") !== "executable") throw new Error("sh?");
 * ```
 *
 * @param path The candidate path.
 * @returns What the file is.
 */
export function probeExecutable(path: string): FileKind {
  try {
    const st = statSync(path);
    if (st.isDirectory()) return "directory";
    if (!st.isFile()) return "missing";
  } catch {
    return "missing";
  }
  try {
    accessSync(path, constants.X_OK);
    return "executable";
  } catch {
    return "not-executable";
  }
}

/**
 * Maps a Node-style spawn error (`code` = `ENOENT`, `EACCES`…) to a
 * {@linkcode SpawnError}.
 *
 * @example Usage
 * ```ts
 * import { spawnErrorFromCode } from "./node_common.ts";
 * const err = spawnErrorFromCode("aws", Object.assign(new Error("x"), { code: "ENOENT" }));
 * if (err.reason !== "not-found") throw new Error(err.reason);
 * ```
 *
 * @param command The command as given.
 * @param err The runtime's error.
 * @returns The classified error.
 */
export function spawnErrorFromCode(command: string, err: unknown): SpawnError {
  if (err instanceof SpawnError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  const reason = code === "ENOENT" || code === "ENOTDIR"
    ? "not-found"
    : code === "EACCES" || code === "EPERM"
    ? "permission-denied"
    : "other";
  return new SpawnError(reason, command, message, err);
}

let tty: { isatty(fd: number): boolean } | undefined;

/**
 * `isatty(fd)`, loading `node:tty` on the first call: imported with the
 * adapter, it cost every Bun command ~15 ms of start-up, and only a plugin
 * run asks whether stdin is a terminal.
 *
 * @example Usage
 * ```ts
 * import { isTerminal } from "./node_common.ts";
 * if (typeof isTerminal(0) !== "boolean") throw new Error("not as shown");
 * ```
 *
 * @param fd The file descriptor.
 * @returns Whether it is a terminal.
 */
export function isTerminal(fd: number): boolean {
  tty ??= createRequire(import.meta.url)("node:tty") as {
    isatty(fd: number): boolean;
  };
  return tty.isatty(fd);
}
