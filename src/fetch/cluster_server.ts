/**
 * The cluster side of a resolved context: its server URL, checked, and the
 * TLS settings every transport to it uses.
 *
 * @module
 */
import { KubeconfigError } from "../errors.ts";
import type { ResolvedContext } from "../kubeconfig/types.ts";
import type { TransportOptions } from "../runtime/types.ts";

/**
 * The cluster's server URL: http(s) only, no user information; query and
 * fragment dropped.
 *
 * @example Usage
 * ```ts
 * import { parseServer } from "./cluster_server.ts";
 * import type { ResolvedContext } from "../kubeconfig/types.ts";
 * const ctx = { cluster: { name: "c", server: "https://k8s.test:6443/p?x=1" } } as ResolvedContext;
 * if (parseServer(ctx).href !== "https://k8s.test:6443/p") throw new Error("unexpected");
 * ```
 *
 * @param ctx The resolved context.
 * @returns The server URL.
 * @throws {KubeconfigError} `KUBECONFIG_INVALID` for an unusable URL.
 */
export function parseServer(ctx: ResolvedContext): URL {
  const name = ctx.cluster.name === "" ? "in-cluster" : ctx.cluster.name;
  let url: URL;
  try {
    url = new URL(ctx.cluster.server);
  } catch {
    // No `cause`: the runtime's message quotes the URL, which may hold a password.
    throw new KubeconfigError(
      "KUBECONFIG_INVALID",
      `cluster "${name}" has no valid server URL: set clusters[].cluster.server to e.g. https://host:6443`,
      { file: ctx.source },
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new KubeconfigError(
      "KUBECONFIG_INVALID",
      `cluster "${name}" has a server URL with scheme ${url.protocol}: only https: and http: are supported`,
      { file: ctx.source },
    );
  }
  if (url.username !== "" || url.password !== "") {
    throw new KubeconfigError(
      "KUBECONFIG_INVALID",
      `cluster "${name}" has user information in its server URL: put credentials in the kubeconfig user instead`,
      { file: ctx.source },
    );
  }
  url.search = "";
  url.hash = "";
  return url;
}

/**
 * The transport settings of the context's cluster (CA, TLS verification,
 * server name, proxy).
 *
 * @example Usage
 * ```ts
 * import { transportOptions } from "./cluster_server.ts";
 * import type { ResolvedContext } from "../kubeconfig/types.ts";
 * const ctx = { cluster: { insecureSkipTlsVerify: true } } as ResolvedContext;
 * if (transportOptions(ctx).insecureSkipVerify !== true) throw new Error("unexpected");
 * ```
 *
 * @param ctx The resolved context.
 * @returns The transport options.
 */
export function transportOptions(ctx: ResolvedContext): TransportOptions {
  const c = ctx.cluster;
  const tls: TransportOptions = {};
  if (c.caPem !== undefined) tls.ca = c.caPem;
  if (c.insecureSkipTlsVerify) tls.insecureSkipVerify = true;
  if (c.tlsServerName !== undefined) tls.serverName = c.tlsServerName;
  if (c.proxyUrl !== undefined) tls.proxy = c.proxyUrl;
  return tls;
}
