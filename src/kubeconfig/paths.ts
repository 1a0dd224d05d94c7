/**
 * Portable file-path helpers for kubeconfig resolution, for POSIX and
 * Windows paths alike, with no runtime API: the flavour comes from the
 * runtime adapter's `os`. They follow Go's `path/filepath` where kubectl's
 * behaviour depends on it (`Join` cleans, absolute paths are left as written).
 *
 * @module
 */

/** Which path syntax to use: `windows` for Windows, `posix` for the rest. */
export type PathFlavor = "posix" | "windows";

/**
 * The path flavour for a runtime adapter's `os` value.
 *
 * @example Usage
 * ```ts
 * import { pathFlavor } from "./paths.ts";
 * if (pathFlavor("windows") !== "windows") throw new Error("not as shown");
 * if (pathFlavor("linux") !== "posix") throw new Error("not as shown");
 * ```
 *
 * @param os The operating system as the runtime names it (`windows`, `linux`, `darwin`…).
 * @returns The flavour.
 */
export function pathFlavor(os: string): PathFlavor {
  return os === "windows" || os === "win32" ? "windows" : "posix";
}

function isSep(ch: string | undefined, flavor: PathFlavor): boolean {
  return ch === "/" || (flavor === "windows" && ch === "\\");
}

/**
 * Splits a Windows path into its volume (`C:`, `\\server\share`) and the
 * rest. POSIX paths have no volume.
 */
function splitVolume(p: string, flavor: PathFlavor): [string, string] {
  if (flavor !== "windows") return ["", p];
  if (/^[A-Za-z]:/.test(p)) return [p.slice(0, 2), p.slice(2)];
  // UNC: \\server\share\rest
  const m = /^[\\/]{2}([^\\/]+)[\\/]+([^\\/]+)/.exec(p);
  if (m) return [`\\\\${m[1]}\\${m[2]}`, p.slice(m[0].length)];
  return ["", p];
}

/**
 * Whether `p` is absolute: `/x` on POSIX; `C:\x`, `C:/x` or `\\server\share`
 * on Windows. A rooted Windows path without a drive (`\x`) counts as
 * absolute too (it is taken on the current drive, as Node does).
 *
 * @example Usage
 * ```ts
 * import { isAbsolutePath } from "./paths.ts";
 * if (!isAbsolutePath("/etc/ca.crt", "posix")) throw new Error("not as shown");
 * if (!isAbsolutePath("C:\\certs\\ca.crt", "windows")) throw new Error("not as shown");
 * if (isAbsolutePath("certs/ca.crt", "posix")) throw new Error("not as shown");
 * ```
 *
 * @param p The path.
 * @param flavor The path flavour.
 * @returns True when absolute.
 */
export function isAbsolutePath(p: string, flavor: PathFlavor): boolean {
  if (flavor === "posix") return p.startsWith("/");
  const [volume, rest] = splitVolume(p, flavor);
  if (volume.startsWith("\\\\")) return true;
  return isSep(rest[0], flavor);
}

/**
 * Cleans a path like Go's `filepath.Clean`: collapses separators, removes
 * `.` elements and resolves `..` where possible. On Windows the separator
 * becomes `\`. An empty path becomes `.`.
 *
 * @example Usage
 * ```ts
 * import { cleanPath } from "./paths.ts";
 * if (cleanPath("/a/./b/../c//d", "posix") !== "/a/c/d") throw new Error("not as shown");
 * if (cleanPath("C:/a/../b", "windows") !== "C:\\b") throw new Error("not as shown");
 * ```
 *
 * @param p The path.
 * @param flavor The path flavour.
 * @returns The cleaned path.
 */
export function cleanPath(p: string, flavor: PathFlavor): string {
  const sep = flavor === "windows" ? "\\" : "/";
  const [volume, rest] = splitVolume(p, flavor);
  const rooted = isSep(rest[0], flavor) || volume.startsWith("\\\\");
  const parts = rest.split(flavor === "windows" ? /[\\/]+/ : /\/+/);
  const out: string[] = [];
  for (const part of parts) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!rooted) out.push("..");
      continue;
    }
    out.push(part);
  }
  const body = out.join(sep);
  if (rooted) return volume + sep + body;
  if (body === "") return volume === "" ? "." : volume + ".";
  return volume + body;
}

/**
 * The directory part of a path, cleaned (Go's `filepath.Dir`):
 * `/a/b/config` → `/a/b`, `config` → `.`.
 *
 * @example Usage
 * ```ts
 * import { dirname } from "./paths.ts";
 * if (dirname("/home/jane/.kube/config", "posix") !== "/home/jane/.kube") throw new Error("not as shown");
 * if (dirname("C:\\Users\\jane\\config", "windows") !== "C:\\Users\\jane") throw new Error("not as shown");
 * ```
 *
 * @param p The path.
 * @param flavor The path flavour.
 * @returns The directory.
 */
export function dirname(p: string, flavor: PathFlavor): string {
  const [volume, rest] = splitVolume(p, flavor);
  let i = rest.length - 1;
  while (i >= 0 && !isSep(rest[i], flavor)) i--;
  const dir = rest.slice(0, i + 1);
  if (volume.startsWith("\\\\") && dir === "") return volume + "\\";
  return cleanPath(volume + dir, flavor);
}

/**
 * Joins path elements and cleans the result (Go's `filepath.Join`).
 * Empty elements are ignored.
 *
 * @example Usage
 * ```ts
 * import { joinPath } from "./paths.ts";
 * if (joinPath(["/home/jane", "./bin/plugin"], "posix") !== "/home/jane/bin/plugin") throw new Error("not as shown");
 * ```
 *
 * @param parts The elements.
 * @param flavor The path flavour.
 * @returns The joined, cleaned path (`""` when every element is empty).
 */
export function joinPath(parts: readonly string[], flavor: PathFlavor): string {
  const sep = flavor === "windows" ? "\\" : "/";
  const nonEmpty = parts.filter((x) => x !== "");
  if (nonEmpty.length === 0) return "";
  return cleanPath(nonEmpty.join(sep), flavor);
}

/**
 * Makes `p` absolute against `base` the way kubectl resolves file references
 * in a kubeconfig: an absolute path is returned as written, a relative one is
 * joined to `base` and cleaned. On Windows a drive-less rooted path (`\x`)
 * takes the drive of `base`.
 *
 * @example Usage
 * ```ts
 * import { resolvePath } from "./paths.ts";
 * if (resolvePath("/home/jane/.kube", "certs/ca.crt", "posix") !== "/home/jane/.kube/certs/ca.crt") throw new Error("not as shown");
 * if (resolvePath("/home/jane/.kube", "/etc/ca.crt", "posix") !== "/etc/ca.crt") throw new Error("not as shown");
 * ```
 *
 * @param base An absolute directory.
 * @param p The path to resolve.
 * @param flavor The path flavour.
 * @returns The absolute path.
 */
export function resolvePath(
  base: string,
  p: string,
  flavor: PathFlavor,
): string {
  if (flavor === "windows") {
    const [volume] = splitVolume(p, flavor);
    if (volume === "" && isSep(p[0], flavor)) {
      return cleanPath(splitVolume(base, flavor)[0] + p, flavor);
    }
  }
  if (isAbsolutePath(p, flavor)) return p;
  return joinPath([base, p], flavor);
}

/**
 * Whether a command contains a path separator (`/`; on Windows `\` or `/`),
 * i.e. whether kubectl resolves it as a file rather than looking it up on
 * `PATH`.
 *
 * @example Usage
 * ```ts
 * import { hasPathSeparator } from "./paths.ts";
 * if (!hasPathSeparator("./bin/plugin", "posix")) throw new Error("not as shown");
 * if (hasPathSeparator("aws", "posix")) throw new Error("not as shown");
 * ```
 *
 * @param command The command.
 * @param flavor The path flavour.
 * @returns True when it names a file by path.
 */
export function hasPathSeparator(command: string, flavor: PathFlavor): boolean {
  return command.includes("/") ||
    (flavor === "windows" && command.includes("\\"));
}

/**
 * Splits a path list such as `$KUBECONFIG` (Go's `filepath.SplitList`): on
 * `:` for POSIX, on `;` for Windows (where `"…"` quotes a part that contains
 * `;`). Empty parts are kept (callers skip them); an empty list gives `[]`.
 *
 * @example Usage
 * ```ts
 * import { splitPathList } from "./paths.ts";
 * if (splitPathList("a::b", "posix").join(",") !== "a,,b") throw new Error("not as shown");
 * if (splitPathList("C:\\a;D:\\b", "windows").length !== 2) throw new Error("not as shown");
 * ```
 *
 * @param list The list.
 * @param flavor The path flavour.
 * @returns The parts.
 */
export function splitPathList(list: string, flavor: PathFlavor): string[] {
  if (list === "") return [];
  if (flavor === "posix") return list.split(":");
  const parts: string[] = [];
  let current = "";
  let quoted = false;
  for (const ch of list) {
    if (ch === '"') quoted = !quoted;
    else if (ch === ";" && !quoted) {
      parts.push(current);
      current = "";
    } else current += ch;
  }
  parts.push(current);
  return parts;
}
