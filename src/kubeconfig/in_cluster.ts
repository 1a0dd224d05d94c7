/**
 * In-cluster configuration: the API server from `KUBERNETES_SERVICE_HOST`
 * and `KUBERNETES_SERVICE_PORT`, the pod's service-account token (as a token
 * file, re-read as it rotates), CA and namespace — as client-go's
 * `rest.InClusterConfig` and clientcmd's in-cluster namespace lookup.
 *
 * @module
 */
import { KubeconfigError } from "../errors.ts";
import { getRuntimeAdapter } from "../runtime/mod.ts";
import type { RuntimeAdapter } from "../runtime/types.ts";
import { joinPath, pathFlavor, resolvePath } from "./paths.ts";
import { describeReadError, readTextFile } from "./read_file.ts";
import type { ResolvedContext } from "./types.ts";

/** Where Kubernetes mounts the service-account token, CA and namespace. */
export const SERVICE_ACCOUNT_DIR =
  "/var/run/secrets/kubernetes.io/serviceaccount";

/** Options of {@linkcode loadInClusterConfig}. */
export interface InClusterOptions {
  /** The runtime adapter. Default: the running runtime's. */
  adapter?: RuntimeAdapter;
  /** The service-account directory. Default: {@linkcode SERVICE_ACCOUNT_DIR}. */
  dir?: string;
}

/**
 * Whether in-cluster configuration looks possible: both service variables
 * are set.
 *
 * @example Usage
 * ```ts
 * import { inClusterEnvironmentSet } from "./in_cluster.ts";
 * import { getRuntimeAdapter } from "../runtime/mod.ts";
 * // An adapter that sees a pod's environment (the real one is left alone).
 * const pod: Record<string, string> = {
 *   KUBERNETES_SERVICE_HOST: "10.96.0.1",
 *   KUBERNETES_SERVICE_PORT: "443",
 * };
 * const adapter = {
 *   ...await getRuntimeAdapter(),
 *   getEnv: (name: string) => pod[name],
 * };
 * if (!inClusterEnvironmentSet(adapter)) throw new Error("not as shown");
 * delete pod.KUBERNETES_SERVICE_PORT;
 * if (inClusterEnvironmentSet(adapter)) throw new Error("not as shown");
 * ```
 *
 * @param adapter The runtime adapter.
 * @returns True when `KUBERNETES_SERVICE_HOST` and `KUBERNETES_SERVICE_PORT` are set.
 */
export function inClusterEnvironmentSet(adapter: RuntimeAdapter): boolean {
  return !!adapter.getEnv("KUBERNETES_SERVICE_HOST") &&
    !!adapter.getEnv("KUBERNETES_SERVICE_PORT");
}

/**
 * Builds the configuration of a pod's service account: server
 * `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT` (an IPv6 host
 * in brackets), the user's `tokenFile` (`<dir>/token`, checked now, re-read
 * later by the credential source), the CA from `<dir>/ca.crt` (system roots
 * when it is absent, as client-go), and the namespace from `$POD_NAMESPACE`,
 * else `<dir>/namespace`, else `default`.
 *
 * @example Usage
 * ```ts
 * import { makeScratchDir } from "../runtime/scratch_dir.ts";
 * import { loadInClusterConfig } from "./in_cluster.ts";
 * import { getRuntimeAdapter } from "../runtime/mod.ts";
 * // A fake service-account directory and a pod's environment.
 * const scratch = await makeScratchDir();
 * const dir = scratch.path;
 * await scratch.writeFile(`${dir}/token`, "sa-token\n");
 * await scratch.writeFile(`${dir}/namespace`, "apps");
 * const pod: Record<string, string> = {
 *   KUBERNETES_SERVICE_HOST: "fd00::1",
 *   KUBERNETES_SERVICE_PORT: "443",
 * };
 * const adapter = {
 *   ...await getRuntimeAdapter(),
 *   getEnv: (name: string) => pod[name],
 * };
 * const ctx = await loadInClusterConfig({ adapter, dir });
 * if (ctx.cluster.server !== "https://[fd00::1]:443") throw new Error("not as shown");
 * if (!(ctx.namespace === "apps" && ctx.source === "in-cluster")) throw new Error("not as shown");
 * if (!(ctx.user.inCluster && ctx.user.tokenFile?.endsWith("token"))) throw new Error("not as shown");
 * await scratch.remove();
 * ```
 *
 * @param options The runtime adapter and the service-account directory.
 * @returns The resolved context (`contextName` `""`, `source` `in-cluster`).
 * @throws {KubeconfigError} `KUBECONFIG_NOT_FOUND` when not running in a
 *   cluster (service variables unset, or no token mounted);
 *   `KUBECONFIG_INVALID` when the token cannot be read or is empty.
 */
export async function loadInClusterConfig(
  options: InClusterOptions = {},
): Promise<ResolvedContext> {
  const adapter = options.adapter ?? await getRuntimeAdapter();
  const flavor = pathFlavor(adapter.os);
  const host = adapter.getEnv("KUBERNETES_SERVICE_HOST") ?? "";
  const port = adapter.getEnv("KUBERNETES_SERVICE_PORT") ?? "";
  if (host === "" || port === "") {
    throw new KubeconfigError(
      "KUBECONFIG_NOT_FOUND",
      "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined (not running in a Kubernetes pod?)",
    );
  }
  const dir = resolvePath(
    adapter.cwd(),
    options.dir ?? SERVICE_ACCOUNT_DIR,
    flavor,
  );
  const tokenFile = joinPath([dir, "token"], flavor);
  let token: string;
  try {
    token = (await readTextFile(adapter, tokenFile)).trim();
  } catch (err) {
    const why = describeReadError(err);
    throw new KubeconfigError(
      why.notFound
        ? "KUBECONFIG_NOT_FOUND"
        : why.notCapable
        ? "PERMISSION_DENIED"
        : "KUBECONFIG_INVALID",
      `unable to load in-cluster configuration: cannot read the service-account token "${tokenFile}": ${why.reason}${
        why.notFound
          ? " (is automountServiceAccountToken disabled for this pod?)"
          : ""
      }`,
      { file: tokenFile },
    );
  }
  if (token === "") {
    throw new KubeconfigError(
      "KUBECONFIG_INVALID",
      `unable to load in-cluster configuration: the service-account token "${tokenFile}" is empty`,
      { file: tokenFile },
    );
  }
  let caPem: string | undefined;
  try {
    const text = await readTextFile(adapter, joinPath([dir, "ca.crt"], flavor));
    if (text.includes("-----BEGIN CERTIFICATE-----")) caPem = text;
  } catch {
    // client-go logs and falls back to the system roots.
  }
  let namespace = adapter.getEnv("POD_NAMESPACE") ?? "";
  if (namespace === "") {
    try {
      namespace = (await readTextFile(
        adapter,
        joinPath([dir, "namespace"], flavor),
      )).trim();
    } catch {
      namespace = "";
    }
  }
  const bracketed = host.includes(":") && !host.startsWith("[")
    ? `[${host}]`
    : host;
  return {
    contextName: "",
    cluster: {
      name: "",
      server: `https://${bracketed}:${port}`,
      ...(caPem === undefined ? {} : { caPem }),
      insecureSkipTlsVerify: false,
      disableCompression: false,
    },
    user: { name: "", tokenFile, inCluster: true },
    namespace: namespace || "default",
    source: "in-cluster",
  };
}
