/**
 * Kubeconfig loading and resolution, static credentials and in-cluster
 * configuration.
 *
 * @example Usage
 * ```ts ignore
 * import { loadKubeconfig, resolveContext, createStaticCredentialSource } from "./mod.ts";
 * const ctx = await resolveContext(await loadKubeconfig(), { context: "dev" });
 * const source = createStaticCredentialSource(ctx.user); // null for exec users
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
export {
  createStaticCredentialSource,
  type StaticCredentialSourceOptions,
} from "./static_sources.ts";
export { unsupportedAuthProviderError } from "./auth_provider.ts";
