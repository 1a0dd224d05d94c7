/**
 * The source order of `createAuthedFetch`: the `kubeconfig` option, else
 * `$KUBECONFIG`, else `~/.kube/config`, else in-cluster configuration.
 *
 * @module
 */
import { KubeauthError, KubeconfigError } from "../errors.ts";
import { getRuntimeAdapter } from "../runtime/mod.ts";
import type { RuntimeAdapter } from "../runtime/types.ts";
import { inClusterEnvironmentSet, loadInClusterConfig } from "./in_cluster.ts";
import { kubeconfigCandidates, loadKubeconfigFiles } from "./load.ts";
import { pathFlavor } from "./paths.ts";
import { resolveContext } from "./resolve.ts";
import type { Kubeconfig, ResolvedContext } from "./types.ts";

/** Options of {@linkcode resolveDefaultContext}. */
export interface ResolveDefaultContextOptions {
  /** A kubeconfig file path, or a parsed kubeconfig object. */
  kubeconfig?: string | Kubeconfig;
  /** The context. Default: the kubeconfig's `current-context`. */
  context?: string;
  /** The runtime adapter. Default: the running runtime's. */
  adapter?: RuntimeAdapter;
  /** The service-account directory for in-cluster configuration. */
  inClusterDir?: string;
}

/**
 * Finds and resolves the context to use, in this order: the `kubeconfig`
 * option (a path, which must exist, or an object); else the files in
 * `$KUBECONFIG`; else `~/.kube/config`; else — only when none of those
 * files exists and no context was asked for — in-cluster configuration
 * when `KUBERNETES_SERVICE_HOST`/`_PORT` are set.
 *
 * @example Usage
 * ```ts
 * import { makeScratchDir } from "../runtime/scratch_dir.ts";
 * import { resolveDefaultContext } from "./default_context.ts";
 * const scratch = await makeScratchDir();
 * const dir = scratch.path;
 * await scratch.writeFile(
 *   `${dir}/config`,
 *   `current-context: dev
 * clusters:
 * - name: dev
 *   cluster: { server: "https://dev.example.com" }
 * contexts:
 * - name: dev
 *   context: { cluster: dev, user: alice }
 * users:
 * - name: alice
 *   user: { token: secret }
 * `,
 * );
 * // An explicit file; without one, $KUBECONFIG, ~/.kube/config, in-cluster.
 * const ctx = await resolveDefaultContext({ kubeconfig: `${dir}/config` });
 * if (!(ctx.contextName === "dev" && ctx.source.endsWith("config"))) throw new Error("not as shown");
 * if (ctx.cluster.server !== "https://dev.example.com") throw new Error("not as shown");
 * await scratch.remove();
 * ```
 *
 * @param options The kubeconfig, context, adapter and in-cluster directory.
 * @returns The resolved context.
 * @throws {KubeconfigError} `KUBECONFIG_NOT_FOUND` saying what was tried when
 *   there is no configuration at all; otherwise the errors of
 *   `loadKubeconfig`, `resolveContext` and `loadInClusterConfig`.
 */
export async function resolveDefaultContext(
  options: ResolveDefaultContextOptions = {},
): Promise<ResolvedContext> {
  const adapter = options.adapter ?? await getRuntimeAdapter();
  const { context } = options;
  if (typeof options.kubeconfig === "object" && options.kubeconfig !== null) {
    return await resolveContext(options.kubeconfig, { context, adapter });
  }
  const candidates = kubeconfigCandidates(
    adapter,
    typeof options.kubeconfig === "string" && options.kubeconfig !== ""
      ? options.kubeconfig
      : undefined,
  );
  const loaded = await loadKubeconfigFiles(adapter, candidates);
  if (loaded.loaded.length > 0) {
    return await resolveContext(loaded.config, { context, adapter });
  }

  const sep = pathFlavor(adapter.os) === "windows" ? ";" : ":";
  let tried: string;
  if (candidates.from === "KUBECONFIG") {
    tried = candidates.files.length === 0
      ? "$KUBECONFIG lists no file"
      : `none of the files in $KUBECONFIG exists (${
        candidates.files.join(sep)
      })`;
  } else if (candidates.from === "home") {
    tried = `$KUBECONFIG is not set and ${candidates.files[0]} does not exist`;
  } else {
    if (environmentDenied(adapter)) {
      throw new KubeauthError(
        "PERMISSION_DENIED",
        "Deno denied reading the environment, so $KUBECONFIG and $HOME cannot be read: run with --allow-env (or --allow-env=KUBECONFIG,HOME), or pass the kubeconfig file",
      );
    }
    tried = "$KUBECONFIG is not set and the home directory is unknown";
  }
  if (context) {
    throw new KubeconfigError(
      "KUBECONFIG_NOT_FOUND",
      `context ${
        JSON.stringify(context)
      } requested but no kubeconfig was found: ${tried}`,
    );
  }
  if (inClusterEnvironmentSet(adapter)) {
    try {
      return await loadInClusterConfig({ adapter, dir: options.inClusterDir });
    } catch (err) {
      if (err instanceof KubeconfigError) {
        throw new KubeconfigError(
          err.code,
          `${err.message} (no kubeconfig either: ${tried})`,
          { file: err.file },
        );
      }
      throw err;
    }
  }
  throw new KubeconfigError(
    "KUBECONFIG_NOT_FOUND",
    `no kubeconfig found: ${tried}, and not running in a cluster (KUBERNETES_SERVICE_HOST is not set); pass the kubeconfig option, set KUBECONFIG, or create ~/.kube/config`,
  );
}

/** Whether the runtime refuses to read the environment (Deno without --allow-env). */
function environmentDenied(adapter: RuntimeAdapter): boolean {
  try {
    adapter.env();
    return false;
  } catch (err) {
    const name = (err as { name?: unknown } | null)?.name;
    return name === "NotCapable" || name === "PermissionDenied";
  }
}
