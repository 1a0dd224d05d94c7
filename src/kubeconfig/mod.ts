/**
 * Kubeconfig loading, merging and resolution, and in-cluster configuration:
 * data only, no credentials are obtained here.
 *
 * @example Usage
 * ```ts ignore
 * import { loadKubeconfig, resolveContext } from "./mod.ts";
 * const ctx = await resolveContext(await loadKubeconfig(), { context: "dev" });
 * console.log(ctx.cluster.server, ctx.user.name);
 * ```
 *
 * @module
 */
export type * from "./types.ts";
export { loadKubeconfig, type LoadKubeconfigOptions } from "./load.ts";
export {
  EXEC_CLUSTER_EXTENSION,
  resolveContext,
  type ResolveContextOptions,
} from "./resolve.ts";
export {
  type InClusterOptions,
  loadInClusterConfig,
  SERVICE_ACCOUNT_DIR,
} from "./in_cluster.ts";
export {
  resolveDefaultContext,
  type ResolveDefaultContextOptions,
} from "./default_context.ts";
export { unsupportedAuthProviderError } from "./auth_provider.ts";
