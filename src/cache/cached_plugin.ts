/**
 * `kubeauth cached -- <plugin> [args…]`: an exec credential plugin that
 * wraps another one and answers from the credential cache, so any client
 * (kubectl included) runs the wrapped plugin at most once per validity
 * window across all processes.
 *
 * @module
 */
import { parseClientCertificate } from "../credentials/client_certificate.ts";
import { KubeauthError } from "../errors.ts";
import type { ExecRunCacheEvent, ExecRunResult } from "../exec/run_cache.ts";
import { decodeExecCredential, isExecApiVersion } from "../exec/protocol.ts";
import { DEFAULT_MAX_OUTPUT_BYTES, runExecPlugin } from "../exec/runner.ts";
import { parseCertificatePem } from "../tls/x509.ts";
import type { RuntimeAdapter } from "../runtime/types.ts";
import { CredentialCache } from "./credential_cache.ts";

/** Options of {@linkcode runCachedPlugin}. */
export interface CachedPluginOptions {
  /** The runtime adapter (environment, files, processes). */
  adapter: RuntimeAdapter;
  /** The wrapped plugin's command. */
  command: string;
  /** Its arguments. */
  args: readonly string[];
  /** The cache directory (default: `$KUBECACHEDIR/kubeauth`, else `~/.kube/cache/kubeauth`). */
  cacheDir?: string;
  /** The clock (tests). */
  now?: () => number;
  /** Hears what the cache did (no secrets). */
  onEvent?: (event: ExecRunCacheEvent) => void;
}

/** What {@linkcode runCachedPlugin} answers. */
export interface CachedPluginAnswer {
  /** The ExecCredential to print, exactly as the wrapped plugin printed it. */
  stdout: Uint8Array;
  /** True when no plugin ran. */
  cached: boolean;
}

interface ExecInfo {
  apiVersion?: unknown;
  spec?: { interactive?: unknown };
}

function readExecInfo(adapter: RuntimeAdapter): ExecInfo {
  const text = adapter.getEnv("KUBERNETES_EXEC_INFO");
  if (text === undefined || text === "") {
    throw new KubeauthError(
      "EXEC_CONFIG_INVALID",
      "KUBERNETES_EXEC_INFO is not set: kubeauth cached is an exec credential plugin; put `command: kubeauth, args: [cached, --, <plugin>, ...]` in a kubeconfig's exec stanza",
    );
  }
  try {
    const info = JSON.parse(text) as ExecInfo;
    if (info !== null && typeof info === "object") return info;
  } catch {
    // reported below
  }
  throw new KubeauthError(
    "EXEC_CONFIG_INVALID",
    "KUBERNETES_EXEC_INFO is not a JSON ExecCredential",
  );
}

/**
 * Expiry of an answer: expirationTimestamp, else the certificate's NotAfter.
 * A plugin's fresh answer has its certificate and key checked as a pair, so
 * a broken pair is never stored; a stored answer (checked when it was
 * stored) only has its certificate read, which spares each cache hit the
 * key's WebCrypto import.
 */
async function decodeAnswer(
  stdout: Uint8Array,
  apiVersion: unknown,
  from: "run" | "store",
): Promise<Omit<ExecRunResult<null>, "stdout">> {
  if (!isExecApiVersion(apiVersion)) {
    throw new KubeauthError("EXEC_OUTPUT_INVALID", "unknown apiVersion");
  }
  const status = decodeExecCredential(stdout, apiVersion);
  if (status.expirationTimestamp) {
    return { value: null, expiresAt: status.expirationTimestamp };
  }
  const certPem = status.clientCertificateData;
  if (!certPem) return { value: null, expiresAt: undefined };
  const notAfter = from === "run"
    ? (await parseClientCertificate(certPem, status.clientKeyData ?? ""))
      .notAfter
    : parseCertificatePem(certPem)[0].notAfter;
  return { value: null, expiresAt: notAfter };
}

/**
 * Runs the wrapped plugin through the cache: the stored ExecCredential while
 * it is valid beyond the refresh margin, else one run (the same
 * environment, `KUBERNETES_EXEC_INFO` included; stdin and the terminal when
 * the request is interactive; stderr passed through) whose output is stored
 * when it has an expiry. An output kubeauth cannot decode is passed on
 * as is and not stored (the caller reports it).
 *
 * @example Two calls, one run of the wrapped plugin
 * ```ts
 * import { makeScratchDir } from "../runtime/scratch_dir.ts";
 * import { runCachedPlugin } from "./cached_plugin.ts";
 * import { getRuntimeAdapter } from "../runtime/mod.ts";
 * const apiVersion = "client.authentication.k8s.io/v1";
 * const expirationTimestamp = new Date(Date.now() + 3_600_000).toISOString();
 * const credential = JSON.stringify({
 *   apiVersion,
 *   kind: "ExecCredential",
 *   status: { token: "t", expirationTimestamp },
 * });
 * // What kubectl sets, and a stand-in for spawning the wrapped plugin.
 * const env: Record<string, string> = {
 *   KUBERNETES_EXEC_INFO: JSON.stringify({ apiVersion, kind: "ExecCredential" }),
 * };
 * let runs = 0;
 * const adapter = {
 *   ...await getRuntimeAdapter(),
 *   env: () => env,
 *   getEnv: (name: string) => env[name],
 *   spawn: () => {
 *     runs++;
 *     return Promise.resolve({
 *       pid: 0,
 *       stdout: new Response(credential).body!,
 *       stderr: null,
 *       status: Promise.resolve({ code: 0, signal: null }),
 *       kill: () => {},
 *     });
 *   },
 * };
 * const scratch = await makeScratchDir();
 * const cacheDir = scratch.path;
 * const options = { adapter, cacheDir, command: "get-token", args: [] };
 * const first = await runCachedPlugin(options);
 * const second = await runCachedPlugin(options);
 * if (!(runs === 1 && !first.cached && second.cached)) throw new Error("not as shown");
 * // As a plugin under kubectl, print it: `await io.writeStdout(second.stdout)`.
 * if (new TextDecoder().decode(second.stdout) !== credential) throw new Error("not as shown");
 * await scratch.remove();
 * ```
 *
 * @param o The wrapped command and the cache settings.
 * @returns The ExecCredential bytes.
 * @throws {ExecPluginError} The wrapped plugin's failure (its `exitCode`).
 * @throws {KubeauthError} `EXEC_CONFIG_INVALID` without `KUBERNETES_EXEC_INFO`.
 */
export async function runCachedPlugin(
  o: CachedPluginOptions,
): Promise<CachedPluginAnswer> {
  const adapter = o.adapter;
  const info = readExecInfo(adapter);
  const env = adapter.env();
  const { KUBERNETES_EXEC_INFO: _info, ...keyEnv } = env;
  const cache = new CredentialCache({
    adapter,
    ...(o.cacheDir !== undefined ? { dir: o.cacheDir } : {}),
    ...(o.now ? { now: o.now } : {}),
  });
  const answer = await cache.obtain({
    command: o.command,
    args: o.args,
    env: keyEnv,
    request: info,
  }, {
    run: async () => {
      const run = await runExecPlugin({
        adapter,
        command: o.command,
        args: o.args,
        env,
        interactive: info.spec?.interactive === true,
        maxOutputBytes: DEFAULT_MAX_OUTPUT_BYTES,
      });
      try {
        return {
          stdout: run.stdout,
          ...await decodeAnswer(run.stdout, info.apiVersion, "run"),
        };
      } catch {
        return { stdout: run.stdout, value: null, expiresAt: undefined };
      }
    },
    decode: (stdout) => decodeAnswer(stdout, info.apiVersion, "store"),
  }, o.onEvent ? { onEvent: o.onEvent } : {});
  return { stdout: answer.stdout, cached: answer.cached };
}
