/**
 * Merging several kubeconfig files the way kubectl merges `$KUBECONFIG`:
 * the first file to define a cluster, user or context name wins, and that
 * entry is taken whole (fields of a same-named entry in a later file are
 * not mixed in); the first non-empty `current-context` wins; other
 * top-level fields come from the first file that has them.
 *
 * @module
 */
import type { KubeconfigOrigin } from "./origin.ts";
import type { Kubeconfig, NamedExtension } from "./types.ts";
import { withRedactedInspect } from "./redact.ts";

/** One normalised file to merge. */
export interface KubeconfigFile {
  /** The file's absolute path. */
  file: string;
  /** Its normalised content. */
  config: Kubeconfig;
}

/**
 * Merges normalised kubeconfig files, highest precedence first.
 *
 * @example Usage
 * ```ts
 * import { mergeKubeconfigs } from "./merge.ts";
 * const { config } = mergeKubeconfigs([
 *   { file: "/a", config: { clusters: [{ name: "c", cluster: { server: "https://a" } }] } },
 *   { file: "/b", config: { "current-context": "x", clusters: [{ name: "c", cluster: { server: "https://b" } }] } },
 * ]);
 * if (config.clusters![0].cluster.server !== "https://a") throw new Error("not as shown");
 * if (config["current-context"] !== "x") throw new Error("not as shown");
 * ```
 *
 * @param files The files, first = highest precedence.
 * @returns The merged kubeconfig and where each entry came from.
 */
export function mergeKubeconfigs(
  files: readonly KubeconfigFile[],
): { config: Kubeconfig; origin: KubeconfigOrigin } {
  const origin: KubeconfigOrigin = {
    files: files.map((f) => f.file),
    clusters: new Map(),
    users: new Map(),
    contexts: new Map(),
  };
  const out: Kubeconfig = {};
  const clusters: NonNullable<Kubeconfig["clusters"]> = [];
  const users: NonNullable<Kubeconfig["users"]> = [];
  const contexts: NonNullable<Kubeconfig["contexts"]> = [];
  const extensions: NamedExtension[] = [];
  const extensionNames = new Set<string>();
  let hasExtensions = false;

  for (const { file, config } of files) {
    for (const [key, value] of Object.entries(config)) {
      if (
        key === "clusters" || key === "users" || key === "contexts" ||
        key === "extensions" || key === "current-context"
      ) continue;
      if (!(key in out) && value !== undefined) out[key] = value;
    }
    if (!out["current-context"] && config["current-context"]) {
      out["current-context"] = config["current-context"];
    }
    for (const e of config.clusters ?? []) {
      if (origin.clusters.has(e.name)) continue;
      origin.clusters.set(e.name, file);
      clusters.push(e);
    }
    for (const e of config.users ?? []) {
      if (origin.users.has(e.name)) continue;
      origin.users.set(e.name, file);
      users.push(e);
    }
    for (const e of config.contexts ?? []) {
      if (origin.contexts.has(e.name)) continue;
      origin.contexts.set(e.name, file);
      contexts.push(e);
    }
    const ext = config.extensions;
    if (Array.isArray(ext)) {
      hasExtensions = true;
      for (const e of ext as NamedExtension[]) {
        if (extensionNames.has(e.name)) continue;
        extensionNames.add(e.name);
        extensions.push(e);
      }
    }
  }
  out.apiVersion = "v1";
  out.kind = "Config";
  out.clusters = clusters;
  out.users = users;
  out.contexts = contexts;
  if (hasExtensions) out.extensions = extensions;
  return { config: withRedactedInspect(out), origin };
}
