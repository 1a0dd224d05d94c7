/**
 * Resolving one context of a kubeconfig into everything needed to talk to
 * the cluster: the cluster (server, CA PEM, TLS options, the exec
 * extension), the user (static credentials decoded or read, exec config
 * validated) and the namespace.
 *
 * @module
 */
import { KubeconfigError } from "../errors.ts";
import { getRuntimeAdapter } from "../runtime/mod.ts";
import type { RuntimeAdapter } from "../runtime/types.ts";
import { decodeBase64Strict } from "../tls/base64.ts";
import { validateExecConfig } from "./exec_validation.ts";
import { getKubeconfigOrigin } from "./origin.ts";
import { normalizeKubeconfig } from "./parse.ts";
import { hasPathSeparator, pathFlavor, resolvePath } from "./paths.ts";
import { describeReadError, readTextFile } from "./read_file.ts";
import { withRedactedInspect } from "./redact.ts";
import type {
  AuthInfoConfig,
  ClusterConfig,
  Kubeconfig,
  ResolvedCluster,
  ResolvedContext,
  ResolvedUser,
} from "./types.ts";

/** The name of the cluster extension passed to exec plugins. */
export const EXEC_CLUSTER_EXTENSION = "client.authentication.k8s.io/exec";

/** Options of {@linkcode resolveContext}. */
export interface ResolveContextOptions {
  /** The context to use. Default: the kubeconfig's `current-context`. */
  context?: string;
  /**
   * The runtime adapter, used to read CA, certificate and key files. Default:
   * the running runtime's (only loaded when a file must be read).
   */
  adapter?: RuntimeAdapter;
  /**
   * Where the kubeconfig came from, for messages and
   * {@linkcode ResolvedContext.source}. Default: the files `loadKubeconfig`
   * read, else `kubeconfig object`.
   */
  source?: string;
}

function list(names: Iterable<string>, kind: string): string {
  const all = [...names].map((n) => JSON.stringify(n));
  return all.length === 0
    ? `it has no ${kind}`
    : `available ${kind}: ${all.join(", ")}`;
}

function inFile(file: string | undefined): string {
  return file === undefined ? "" : ` (kubeconfig file "${file}")`;
}

class Resolver {
  readonly adapter: RuntimeAdapter;

  constructor(adapter: RuntimeAdapter) {
    this.adapter = adapter;
  }

  /** Makes a path absolute against the cwd (paths from `loadKubeconfig` already are). */
  absolute(path: string): string {
    const adapter = this.adapter;
    return resolvePath(adapter.cwd(), path, pathFlavor(adapter.os));
  }

  /** Reads a file a kubeconfig entry refers to. */
  async read(
    path: string,
    what: string,
    owner: string,
    file: string | undefined,
  ): Promise<string> {
    const adapter = this.adapter;
    try {
      return await readTextFile(adapter, path);
    } catch (err) {
      const why = describeReadError(err);
      throw new KubeconfigError(
        why.notCapable ? "PERMISSION_DENIED" : "KUBECONFIG_INVALID",
        `unable to read ${what} "${path}" for ${owner}: ${why.reason}${
          inFile(file)
        }`,
        { file },
      );
    }
  }
}

function decode(
  value: string,
  field: string,
  owner: string,
  file: string | undefined,
): string {
  const bytes = decodeBase64Strict(value);
  if (bytes === null) {
    throw new KubeconfigError(
      "KUBECONFIG_INVALID",
      `${field} of ${owner} is not valid base64${inFile(file)}`,
      { file },
    );
  }
  return new TextDecoder().decode(bytes);
}

async function resolveCluster(
  r: Resolver,
  name: string,
  cluster: ClusterConfig,
  file: string | undefined,
): Promise<ResolvedCluster> {
  const owner = `cluster ${JSON.stringify(name)}`;
  const fail = (message: string): never => {
    throw new KubeconfigError("KUBECONFIG_INVALID", message + inFile(file), {
      file,
    });
  };
  if (!cluster.server) {
    fail(
      `${owner} has no server: set clusters[].cluster.server to the API server URL`,
    );
  }
  const caFile = cluster["certificate-authority"] || undefined;
  const caData = cluster["certificate-authority-data"] || undefined;
  if (caFile !== undefined && caData !== undefined) {
    fail(
      `certificate-authority-data and certificate-authority are both specified for ${name}. certificate-authority-data will override.`,
    );
  }
  const insecure = cluster["insecure-skip-tls-verify"] === true;
  if (insecure && (caFile !== undefined || caData !== undefined)) {
    fail(
      `specifying a root certificates file with the insecure flag is not allowed (${owner} has insecure-skip-tls-verify and a certificate authority)`,
    );
  }
  let caPem: string | undefined;
  if (caData !== undefined) {
    caPem = decode(caData, "certificate-authority-data", owner, file);
  } else if (caFile !== undefined) {
    const path = r.absolute(caFile);
    caPem = await r.read(path, "certificate-authority", owner, file);
  }
  if (caPem !== undefined && !caPem.includes("-----BEGIN CERTIFICATE-----")) {
    fail(
      `${
        caData !== undefined
          ? "certificate-authority-data"
          : "certificate-authority"
      } of ${owner} is not a PEM certificate bundle (no "-----BEGIN CERTIFICATE-----")`,
    );
  }
  const resolved: ResolvedCluster = {
    name,
    server: cluster.server,
    insecureSkipTlsVerify: insecure,
    disableCompression: cluster["disable-compression"] === true,
  };
  if (caPem !== undefined) resolved.caPem = caPem;
  if (cluster["tls-server-name"]) {
    resolved.tlsServerName = cluster["tls-server-name"];
  }
  if (cluster["proxy-url"]) resolved.proxyUrl = cluster["proxy-url"];
  const ext = cluster.extensions?.find((e) =>
    e.name === EXEC_CLUSTER_EXTENSION
  );
  if (ext) resolved.execExtension = ext.extension;
  return resolved;
}

async function resolveUser(
  r: Resolver,
  name: string,
  user: AuthInfoConfig,
  file: string | undefined,
): Promise<ResolvedUser> {
  const owner = `user ${JSON.stringify(name)}`;
  const fail = (message: string): never => {
    throw new KubeconfigError("KUBECONFIG_INVALID", message + inFile(file), {
      file,
    });
  };
  const resolved: ResolvedUser = { name };
  const authProvider = user["auth-provider"];
  if (user.exec) {
    const exec = validateExecConfig(user.exec, name, !!authProvider, file);
    if (exec.command.includes("/") || exec.command.includes("\\")) {
      // A command with a path separator names a file; one still relative
      // (object built in code) is taken against the current directory.
      const adapter = r.adapter;
      const flavor = pathFlavor(adapter.os);
      if (hasPathSeparator(exec.command, flavor)) {
        exec.command = resolvePath(adapter.cwd(), exec.command, flavor);
      }
    }
    resolved.exec = exec;
  }
  if (authProvider) resolved.authProvider = authProvider.name;

  const token = user.token || undefined;
  const tokenFile = user.tokenFile || undefined;
  const username = user.username || undefined;
  const password = user.password || undefined;
  if (
    token !== undefined && (username !== undefined || password !== undefined)
  ) {
    fail(
      `more than one authentication method found for ${name}; found [token basicAuth], only one is allowed`,
    );
  }
  if (tokenFile !== undefined && username !== undefined) {
    fail(
      `username/password or bearer token may be set, but not both (${owner} has tokenFile and username)`,
    );
  }
  if (password !== undefined && username === undefined) {
    fail(`${owner} has a password but no username`);
  }
  if (token !== undefined) resolved.token = token;
  if (tokenFile !== undefined) {
    resolved.tokenFile = r.absolute(tokenFile);
  }
  if (username !== undefined) {
    resolved.username = username;
    resolved.password = password ?? "";
  }

  const certFile = user["client-certificate"] || undefined;
  const certData = user["client-certificate-data"] || undefined;
  const keyFile = user["client-key"] || undefined;
  const keyData = user["client-key-data"] || undefined;
  const hasCert = certFile !== undefined || certData !== undefined;
  const hasKey = keyFile !== undefined || keyData !== undefined;
  if (certFile !== undefined && certData !== undefined) {
    fail(
      `client-cert-data and client-cert are both specified for ${name}. client-cert-data will override.`,
    );
  }
  if (keyFile !== undefined && keyData !== undefined) {
    fail(
      `client-key-data and client-key are both specified for ${name}; client-key-data will override`,
    );
  }
  if (hasCert && !hasKey) {
    fail(
      `client-key-data or client-key must be specified for ${name} to use the clientCert authentication method.`,
    );
  }
  if (hasKey && !hasCert) {
    fail(
      `client-certificate-data or client-certificate must be specified for ${name} to use the clientCert authentication method (it has a client key only).`,
    );
  }
  if (certData !== undefined) {
    resolved.clientCertificatePem = decode(
      certData,
      "client-certificate-data",
      owner,
      file,
    );
  } else if (certFile !== undefined) {
    const path = r.absolute(certFile);
    resolved.clientCertificateFile = path;
    resolved.clientCertificatePem = await r.read(
      path,
      "client-certificate",
      owner,
      file,
    );
  }
  if (keyData !== undefined) {
    resolved.clientKeyPem = decode(keyData, "client-key-data", owner, file);
  } else if (keyFile !== undefined) {
    const path = r.absolute(keyFile);
    resolved.clientKeyFile = path;
    resolved.clientKeyPem = await r.read(path, "client-key", owner, file);
  }
  return resolved;
}

/**
 * Resolves one context of a kubeconfig: picks the context (default: the
 * `current-context`), its cluster and its user; reads the CA, client
 * certificate and key files and decodes the `-data` fields; validates the
 * exec stanza with client-go's rules and messages. Paths still relative
 * (in an object built in code) are taken against the current directory.
 * A context without a user resolves to an anonymous user (`name: ""`).
 *
 * @example Usage
 * ```ts
 * import { makeScratchDir } from "../runtime/scratch_dir.ts";
 * import { resolveContext } from "./resolve.ts";
 * import { loadKubeconfig } from "./load.ts";
 * const scratch = await makeScratchDir();
 * const dir = scratch.path;
 * await scratch.writeFile(
 *   `${dir}/config`,
 *   `current-context: dev
 * clusters:
 * - name: dev
 *   cluster: { server: "https://dev.example.com" }
 * - name: prod
 *   cluster: { server: "https://prod.example.com" }
 * contexts:
 * - name: dev
 *   context: { cluster: dev, user: alice }
 * - name: prod
 *   context: { cluster: prod, user: alice, namespace: shop }
 * users:
 * - name: alice
 *   user: { token: secret }
 * `,
 * );
 * const kc = await loadKubeconfig({ path: `${dir}/config` });
 * const ctx = await resolveContext(kc, { context: "prod" });
 * if (ctx.cluster.server !== "https://prod.example.com") throw new Error("not as shown");
 * if (!(ctx.user.name === "alice" && ctx.user.token === "secret")) throw new Error("not as shown");
 * if (ctx.namespace !== "shop") throw new Error("not as shown");
 * const current = await resolveContext(kc); // the current-context
 * if (!(current.contextName === "dev" && current.namespace === "default")) throw new Error("not as shown");
 * await scratch.remove();
 * ```
 *
 * @param config The kubeconfig (from `loadKubeconfig`, or built in code).
 * @param options The context name, runtime adapter and source label.
 * @returns The resolved context.
 * @throws {KubeconfigError} `CONTEXT_NOT_FOUND` when no context is selected or
 *   the context, its cluster or its user does not exist (the message lists
 *   those that do); `KUBECONFIG_INVALID` for a missing server, undecodable
 *   data, unreadable files, or conflicting fields; `EXEC_CONFIG_INVALID` for
 *   an invalid exec stanza.
 */
export async function resolveContext(
  config: Kubeconfig,
  options: ResolveContextOptions = {},
): Promise<ResolvedContext> {
  const origin = getKubeconfigOrigin(config);
  const r = new Resolver(options.adapter ?? await getRuntimeAdapter());
  let source = options.source;
  if (source === undefined) {
    if (origin === undefined) source = "kubeconfig object";
    else if (origin.files.length === 0) {
      source = "empty kubeconfig (no file found)";
    } else {
      const sep =
        options.adapter && pathFlavor(options.adapter.os) === "windows"
          ? ";"
          : ":";
      source = origin.files.join(sep);
    }
  }
  const kc = normalizeKubeconfig(config, { flavor: "posix" });
  const from = ` in ${source}`;

  const contextName = options.context || kc["current-context"] || "";
  if (contextName === "") {
    throw new KubeconfigError(
      "CONTEXT_NOT_FOUND",
      `no context selected: current-context is not set${from}; pass a context name (${
        list(kc.contexts!.map((c) => c.name), "contexts")
      })`,
    );
  }
  const context = kc.contexts!.find((c) => c.name === contextName)?.context;
  if (!context) {
    throw new KubeconfigError(
      "CONTEXT_NOT_FOUND",
      `context ${JSON.stringify(contextName)} not found${from} (${
        list(kc.contexts!.map((c) => c.name), "contexts")
      })`,
    );
  }
  const contextFile = origin?.contexts.get(contextName);
  if (!context.cluster) {
    throw new KubeconfigError(
      "CONTEXT_NOT_FOUND",
      `context ${JSON.stringify(contextName)} names no cluster${from}${
        inFile(contextFile)
      }; set contexts[].context.cluster (${
        list(kc.clusters!.map((c) => c.name), "clusters")
      })`,
      { file: contextFile },
    );
  }
  const cluster = kc.clusters!.find((c) => c.name === context.cluster)?.cluster;
  if (!cluster) {
    throw new KubeconfigError(
      "CONTEXT_NOT_FOUND",
      `cluster ${JSON.stringify(context.cluster)} of context ${
        JSON.stringify(contextName)
      } not found${from} (${
        list(kc.clusters!.map((c) => c.name), "clusters")
      })`,
      { file: contextFile },
    );
  }
  const resolvedCluster = await resolveCluster(
    r,
    context.cluster,
    cluster,
    origin?.clusters.get(context.cluster),
  );

  let resolvedUser: ResolvedUser = { name: "" };
  if (context.user) {
    const user = kc.users!.find((u) => u.name === context.user)?.user;
    if (!user) {
      throw new KubeconfigError(
        "CONTEXT_NOT_FOUND",
        `user ${JSON.stringify(context.user)} of context ${
          JSON.stringify(contextName)
        } not found${from} (${list(kc.users!.map((u) => u.name), "users")})`,
        { file: contextFile },
      );
    }
    resolvedUser = await resolveUser(
      r,
      context.user,
      user,
      origin?.users.get(context.user),
    );
  }
  // Printed (console.log/inspect) with its secrets redacted.
  withRedactedInspect(resolvedCluster);
  withRedactedInspect(resolvedUser);
  return withRedactedInspect({
    contextName,
    cluster: resolvedCluster,
    user: resolvedUser,
    namespace: context.namespace || "default",
    source,
  });
}
