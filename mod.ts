/**
 * kubeauth: Kubernetes client authentication for Deno, Bun and Node.
 *
 * @example Usage
 * ```ts ignore
 * import { createAuthedFetch } from "@kubeauth/fetch";
 * const kube = await createAuthedFetch();
 * const res = await kube("/api/v1/namespaces");
 * console.log(res.status, await res.json());
 * await kube.close();
 * ```
 *
 * @module
 */
export * from "./src/errors.ts";
export * from "./src/credentials.ts";
export type * from "./src/kubeconfig/types.ts";
