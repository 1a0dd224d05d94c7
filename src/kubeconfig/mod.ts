/**
 * Kubeconfig loading, merging and resolution, and in-cluster configuration:
 * data only, no credentials are obtained here.
 *
 * @example Usage
 * ```ts
 * import { makeScratchDir } from "../runtime/scratch_dir.ts";
 * import { loadKubeconfig, resolveContext } from "./mod.ts";
 * const scratch = await makeScratchDir();
 * const dir = scratch.path;
 * await scratch.writeFile(
 *   `${dir}/config`,
 *   `clusters:
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
 * const kc = await loadKubeconfig({ path: `${dir}/config` });
 * const ctx = await resolveContext(kc, { context: "dev" });
 * if (ctx.cluster.server !== "https://dev.example.com") throw new Error("not as shown");
 * if (ctx.user.name !== "alice") throw new Error("not as shown");
 * await scratch.remove();
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
