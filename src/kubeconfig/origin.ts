/**
 * Where a loaded kubeconfig came from: the files that were merged and, for
 * every named cluster, user and context, the file that defined it. Kept
 * beside the object (in a `WeakMap`), so the `Kubeconfig` stays plain data
 * and errors found later can still name the right file.
 *
 * @module
 */
import type { Kubeconfig } from "./types.ts";

/** The origin of a loaded kubeconfig. */
export interface KubeconfigOrigin {
  /** The files merged into it, in precedence order. */
  files: string[];
  /** Cluster name → defining file. */
  clusters: Map<string, string>;
  /** User name → defining file. */
  users: Map<string, string>;
  /** Context name → defining file. */
  contexts: Map<string, string>;
}

const origins = new WeakMap<Kubeconfig, KubeconfigOrigin>();

/**
 * Records the origin of a kubeconfig object produced by the loader.
 *
 * @example Usage
 * ```ts
 * import { setKubeconfigOrigin, getKubeconfigOrigin } from "./origin.ts";
 * const kc = {};
 * setKubeconfigOrigin(kc, { files: ["/a"], clusters: new Map(), users: new Map(), contexts: new Map() });
 * if (!(getKubeconfigOrigin(kc)?.files[0] === "/a")) throw new Error("not as shown");
 * ```
 *
 * @param config The loaded kubeconfig.
 * @param origin Where it came from.
 */
export function setKubeconfigOrigin(
  config: Kubeconfig,
  origin: KubeconfigOrigin,
): void {
  origins.set(config, origin);
}

/**
 * The origin of a kubeconfig object returned by `loadKubeconfig`;
 * `undefined` for an object built elsewhere.
 *
 * @example Usage
 * ```ts
 * import { getKubeconfigOrigin } from "./origin.ts";
 * if (getKubeconfigOrigin({}) !== undefined) throw new Error("not as shown");
 * ```
 *
 * @param config The kubeconfig.
 * @returns Its origin, if known.
 */
export function getKubeconfigOrigin(
  config: Kubeconfig,
): KubeconfigOrigin | undefined {
  return origins.get(config);
}
