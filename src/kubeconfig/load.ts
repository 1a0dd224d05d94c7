/**
 * Loading kubeconfig files: which files (an explicit path, `$KUBECONFIG`,
 * or `~/.kube/config`), reading them through the runtime adapter, parsing,
 * and merging them with kubectl's rules.
 *
 * @module
 */
import { KubeconfigError } from "../errors.ts";
import { getRuntimeAdapter } from "../runtime/mod.ts";
import type { RuntimeAdapter } from "../runtime/types.ts";
import { type KubeconfigFile, mergeKubeconfigs } from "./merge.ts";
import { setKubeconfigOrigin } from "./origin.ts";
import { normalizeKubeconfig, parseYamlDocument } from "./parse.ts";
import {
  dirname,
  joinPath,
  pathFlavor,
  resolvePath,
  splitPathList,
} from "./paths.ts";
import { describeReadError, readTextFile } from "./read_file.ts";
import type { Kubeconfig } from "./types.ts";

/** Options of {@linkcode loadKubeconfig}. */
export interface LoadKubeconfigOptions {
  /**
   * The kubeconfig file, or several files merged with kubectl's rules (the
   * first file wins). Every file named here must exist. A relative path is
   * taken against the current directory; `":"` is not a list separator here
   * (as with `kubectl --kubeconfig`). Default (also for `""` or `[]`):
   * `$KUBECONFIG`, else `~/.kube/config`.
   */
  path?: string | string[];
  /** The runtime adapter. Default: the running runtime's. */
  adapter?: RuntimeAdapter;
}

/** Which files to load, and where that list came from. */
export interface KubeconfigCandidates {
  /** Absolute, de-duplicated file paths, highest precedence first. */
  files: string[];
  /**
   * `option`: named by the caller (each must exist); `KUBECONFIG`: from the
   * environment variable (missing ones skipped); `home`: `~/.kube/config`;
   * `none`: no `$KUBECONFIG` and no home directory.
   */
  from: "option" | "KUBECONFIG" | "home" | "none";
}

/** The outcome of {@linkcode loadKubeconfigFiles}. */
export interface LoadedKubeconfig {
  /** The merged kubeconfig (empty when no file was found). */
  config: Kubeconfig;
  /** The files that were read, in precedence order. */
  loaded: string[];
  /** The candidate files that did not exist. */
  missing: string[];
}

/**
 * Decides which kubeconfig files to read, as kubectl does: the explicit
 * path(s), else every entry of `$KUBECONFIG` (split on `:`, or `;` on
 * Windows; empty entries dropped; duplicates removed), else
 * `~/.kube/config`. `$KUBECONFIG` set but empty counts as unset.
 *
 * @example Usage
 * ```ts
 * import { kubeconfigCandidates } from "./load.ts";
 * import { getRuntimeAdapter } from "../runtime/mod.ts";
 * // An adapter that sees KUBECONFIG, without touching the real environment.
 * const env: Record<string, string> = {
 *   KUBECONFIG: "/a/config:/b/config:/a/config",
 * };
 * const adapter = {
 *   ...await getRuntimeAdapter(),
 *   os: "linux",
 *   getEnv: (name: string) => env[name],
 *   homeDir: () => "/home/me",
 * };
 * const { files, from } = kubeconfigCandidates(adapter);
 * if (from !== "KUBECONFIG") throw new Error("not as shown");
 * if (files.join(" ") !== "/a/config /b/config") throw new Error("not as shown");
 * const named = kubeconfigCandidates(adapter, "/etc/kube/dev.yaml");
 * if (named.from !== "option") throw new Error("not as shown");
 * env.KUBECONFIG = "";
 * const home = kubeconfigCandidates(adapter);
 * if (!(home.from === "home" && home.files[0] === "/home/me/.kube/config")) throw new Error("not as shown");
 * ```
 *
 * @param adapter The runtime adapter (environment, home, cwd).
 * @param path The explicit path(s), if any.
 * @returns The candidate files.
 */
export function kubeconfigCandidates(
  adapter: RuntimeAdapter,
  path?: string | string[],
): KubeconfigCandidates {
  const flavor = pathFlavor(adapter.os);
  const absolute = (list: string[]): string[] => {
    const cwd = adapter.cwd();
    const out: string[] = [];
    for (const p of list) {
      if (p === "") continue;
      const abs = resolvePath(cwd, p, flavor);
      if (!out.includes(abs)) out.push(abs);
    }
    return out;
  };
  const explicit = typeof path === "string"
    ? [path]
    : Array.isArray(path)
    ? path
    : [];
  if (explicit.some((p) => p !== "")) {
    return { files: absolute(explicit), from: "option" };
  }
  const env = adapter.getEnv("KUBECONFIG");
  if (env !== undefined && env !== "") {
    return { files: absolute(splitPathList(env, flavor)), from: "KUBECONFIG" };
  }
  const home = adapter.homeDir();
  if (home === undefined || home === "") return { files: [], from: "none" };
  return { files: [joinPath([home, ".kube", "config"], flavor)], from: "home" };
}

/**
 * Reads, parses and merges candidate files. Missing files are skipped
 * (recorded in `missing`) unless they were named explicitly. Relative file
 * references in each file are made absolute against that file's directory.
 *
 * @example Usage
 * ```ts
 * import { makeScratchDir } from "../runtime/scratch_dir.ts";
 * import { type KubeconfigCandidates, loadKubeconfigFiles } from "./load.ts";
 * import { getRuntimeAdapter } from "../runtime/mod.ts";
 * const scratch = await makeScratchDir();
 * const dir = scratch.path;
 * await scratch.writeFile(`${dir}/a`, "current-context: a\n");
 * await scratch.writeFile(`${dir}/b`, "current-context: b\n");
 * const candidates: KubeconfigCandidates = {
 *   files: [`${dir}/a`, `${dir}/gone`, `${dir}/b`],
 *   from: "KUBECONFIG", // missing files are skipped
 * };
 * const adapter = await getRuntimeAdapter();
 * const { config, loaded, missing } = await loadKubeconfigFiles(adapter, candidates);
 * if (config["current-context"] !== "a") throw new Error("not as shown"); // the first file wins
 * if (!(loaded.length === 2 && missing[0] === `${dir}/gone`)) throw new Error("not as shown");
 * await scratch.remove();
 * ```
 *
 * @param adapter The runtime adapter.
 * @param candidates The files to read.
 * @returns The merged config and which files were read or missing.
 * @throws {KubeconfigError} `KUBECONFIG_NOT_FOUND` for a missing explicit file;
 *   `KUBECONFIG_INVALID` for an unreadable or malformed file.
 */
export async function loadKubeconfigFiles(
  adapter: RuntimeAdapter,
  candidates: KubeconfigCandidates,
): Promise<LoadedKubeconfig> {
  const flavor = pathFlavor(adapter.os);
  const parsed: KubeconfigFile[] = [];
  const missing: string[] = [];
  for (const file of candidates.files) {
    let text: string;
    try {
      text = await readTextFile(adapter, file);
    } catch (err) {
      const why = describeReadError(err);
      if (why.notFound && candidates.from !== "option") {
        missing.push(file);
        continue;
      }
      if (why.notFound) {
        throw new KubeconfigError(
          "KUBECONFIG_NOT_FOUND",
          `kubeconfig file "${file}" not found`,
          { file },
        );
      }
      throw new KubeconfigError(
        why.notCapable ? "PERMISSION_DENIED" : "KUBECONFIG_INVALID",
        `cannot read kubeconfig file "${file}": ${why.reason}`,
        { file },
      );
    }
    const raw = parseYamlDocument(text, file);
    const config = normalizeKubeconfig(raw, {
      file,
      baseDir: dirname(file, flavor),
      flavor,
    });
    parsed.push({ file, config });
  }
  const { config, origin } = mergeKubeconfigs(parsed);
  setKubeconfigOrigin(config, origin);
  return { config, loaded: origin.files, missing };
}

/**
 * Loads a kubeconfig like kubectl: the given file(s), else the files listed
 * in `$KUBECONFIG`, else `~/.kube/config`, merged with kubectl's rules (the
 * first file to define a name or `current-context` wins). Files listed in
 * `$KUBECONFIG` that do not exist are skipped; when none exists the result
 * is an empty config, as with kubectl. Relative file references
 * (`certificate-authority`, `client-certificate`, `client-key`,
 * `tokenFile`, an exec `command` with a path separator) are made absolute
 * against the directory of the file that defined them, so the result is
 * self-contained.
 *
 * @example Usage
 * ```ts
 * import { makeScratchDir } from "../runtime/scratch_dir.ts";
 * import { loadKubeconfig } from "./load.ts";
 * const scratch = await makeScratchDir();
 * const dir = scratch.path;
 * await scratch.writeFile(
 *   `${dir}/config`,
 *   `current-context: dev
 * clusters:
 * - name: dev
 *   cluster: { server: "https://dev.example.com", certificate-authority: ca.crt }
 * contexts:
 * - name: dev
 *   context: { cluster: dev, user: me }
 * users:
 * - name: me
 *   user: { token: secret }
 * `,
 * );
 * const kc = await loadKubeconfig({ path: `${dir}/config` });
 * if (kc["current-context"] !== "dev") throw new Error("not as shown");
 * if (!(kc.contexts?.map((c) => c.name).join() === "dev")) throw new Error("not as shown");
 * // A relative file reference now points next to the file that named it.
 * const ca = kc.clusters?.[0].cluster["certificate-authority"];
 * if (!(ca?.startsWith(dir) && ca.endsWith("ca.crt"))) throw new Error("not as shown");
 * await scratch.remove();
 * ```
 *
 * @param options The file(s) and the runtime adapter.
 * @returns The merged kubeconfig.
 * @throws {KubeconfigError} `KUBECONFIG_NOT_FOUND` when an explicit file is
 *   missing; `KUBECONFIG_INVALID` when a file cannot be read or parsed
 *   (naming the file, and the line for YAML errors).
 */
export async function loadKubeconfig(
  options: LoadKubeconfigOptions = {},
): Promise<Kubeconfig> {
  const adapter = options.adapter ?? await getRuntimeAdapter();
  const candidates = kubeconfigCandidates(adapter, options.path);
  return (await loadKubeconfigFiles(adapter, candidates)).config;
}
