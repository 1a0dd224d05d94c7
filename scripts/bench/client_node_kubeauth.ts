/**
 * Benchmark 8 (Deno, Bun, Node): @kubernetes/client-node's `CoreV1Api`
 * through kubeauth (`kubeauthConfiguration(kube)`) vs client-node alone
 * (`kc.makeApiClient(CoreV1Api)`), same run, same mTLS API server (client
 * certificate required), the same exec plugin (client certificate and token),
 * each with its own plugin state dir:
 *
 * - cold: 200 concurrent `listNamespace()` calls on a fresh client: plugin
 *   runs, TLS handshakes (connections the server accepted), failures;
 * - hot: `--n` sequential calls, in interleaved rounds: req/s, handshakes.
 *
 * client-node 2.x runs on Deno and Bun; on Node < 22.19 the orchestrator
 * bundles client-node 1.x in its place (the `client-node-1` npm alias). On
 * Bun, client-node alone is expected to fail against the mTLS server (Bun's
 * fetch ignores its CA and client certificate): the error is the result.
 *
 * ```sh
 * deno run -A scripts/bench/client_node_kubeauth.ts [--n 300] [--rounds 3]
 * ```
 *
 * Prints one `BENCH_RESULT {json}` line.
 *
 * @module
 */
import process from "node:process";
import { createAuthedFetch } from "../../mod.ts";
import { kubeauthConfiguration } from "../../src/integrations/client_node.ts";
import { CoreV1Api, KubeConfig } from "../../tests/support/client_node.ts";
import {
  demoPluginExec,
  demoTokens,
  makeTempDir,
  pluginRuns,
  startCluster,
} from "../../tests/support/cluster.ts";
import {
  emitResult,
  median,
  note,
  round,
  runtimeName,
  writeClusterKubeconfig,
} from "./common.ts";

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const n = flag("n", 300);
const rounds = flag("rounds", 3);
const CONCURRENT = 200;

type Api = InstanceType<typeof CoreV1Api>;

async function timed(count: number, api: Api): Promise<number> {
  const t = performance.now();
  for (let i = 0; i < count; i++) {
    const list = await api.listNamespace();
    if (list.items.length !== 3) throw new Error("bad list");
  }
  return count / ((performance.now() - t) / 1000);
}

function message(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string } };
  const cause = e?.cause?.message ? ` (${e.cause.message})` : "";
  return `${e?.message ?? String(err)}${cause}`.slice(0, 200);
}

const cluster = await startCluster({
  requireClientCert: true,
  tokens: { ...demoTokens(20, "ka"), ...demoTokens(20, "cn") },
});
const opened = async () => (await cluster.stats()).connectionsOpened;
const tmp = await makeTempDir("kubeauth-bench-cnk-");

/** 200 concurrent calls on a fresh client: plugin runs, handshakes, failures. */
async function cold(api: Api, stateDir: string) {
  const before = await opened();
  const t = performance.now();
  const results = await Promise.allSettled(
    Array.from({ length: CONCURRENT }, () => api.listNamespace()),
  );
  const failed = results.filter((r) => r.status === "rejected");
  return {
    ms: round(performance.now() - t),
    failures: failed.length,
    error: failed.length > 0
      ? message((failed[0] as PromiseRejectedResult).reason)
      : undefined,
    handshakes: (await opened()) - before,
    pluginRuns: await pluginRuns(stateDir),
  };
}

try {
  const stanza = (prefix: string) => ({
    exec: demoPluginExec({
      stateDir: `${tmp.path}/${prefix}`,
      caDir: cluster.dir,
      mode: "both",
      tokenPrefix: prefix,
      extraArgs: ["--silent"],
    }),
  });
  const kaConfig = await writeClusterKubeconfig(
    tmp.path,
    cluster,
    stanza("ka"),
  );
  const kube = await createAuthedFetch({ kubeconfig: kaConfig });
  const viaKubeauth = new CoreV1Api(kubeauthConfiguration(kube));
  // client-node reads the file once; write its own next.
  const cnConfig = await writeClusterKubeconfig(
    tmp.path,
    cluster,
    stanza("cn"),
  );
  const kc = new KubeConfig();
  kc.loadFromFile(cnConfig);
  const alone = kc.makeApiClient(CoreV1Api);
  try {
    const coldKa = await cold(viaKubeauth, `${tmp.path}/ka`);
    const coldCn = await cold(alone, `${tmp.path}/cn`);
    note(`cold ×${CONCURRENT}: kubeauth ${JSON.stringify(coldKa)}`);
    note(`cold ×${CONCURRENT}: client-node ${JSON.stringify(coldCn)}`);
    const ka: number[] = [];
    const cn: number[] = [];
    const conns = { ka: 0, cn: 0 };
    let cnError: string | undefined = coldCn.failures === CONCURRENT
      ? coldCn.error
      : undefined;
    const measure = async (who: "ka" | "cn") => {
      if (who === "cn" && cnError !== undefined) return;
      const before = await opened();
      try {
        const rps = await timed(n, who === "ka" ? viaKubeauth : alone);
        (who === "ka" ? ka : cn).push(rps);
      } catch (err) {
        if (who === "ka") throw err;
        cnError = message(err);
      }
      conns[who] += (await opened()) - before;
    };
    for (let r = 0; r < rounds; r++) {
      const order: ("ka" | "cn")[] = r % 2 === 0 ? ["cn", "ka"] : ["ka", "cn"];
      for (const who of order) await measure(who);
      note(
        `round ${r + 1}: via kubeauth ${
          round(ka[r])
        } req/s, client-node alone ${cn.length > r ? round(cn[r]) : cnError}`,
      );
    }
    emitResult({
      scenario: "client-node-kubeauth",
      runtime: runtimeName(),
      node: process.versions.node,
      n,
      rounds,
      concurrent: CONCURRENT,
      viaKubeauthRps: round(median(ka)),
      clientNodeRps: cn.length > 0 ? round(median(cn)) : null,
      ratio: cn.length > 0 ? round(median(ka) / median(cn), 2) : null,
      viaKubeauthHandshakes: conns.ka,
      clientNodeHandshakes: cn.length > 0 ? conns.cn : null,
      coldViaKubeauth: coldKa,
      coldClientNode: coldCn,
      clientNodeError: cnError ?? null,
    });
  } finally {
    await kube.close();
  }
} catch (err) {
  console.error(`bench client-node-kubeauth failed: ${message(err)}`);
  emitResult({
    scenario: "client-node-kubeauth",
    runtime: runtimeName(),
    error: message(err),
  });
  process.exitCode = 1;
} finally {
  await cluster.close();
  await tmp.remove();
}
