/**
 * Benchmark 6 (Node only): kubeauth vs `@kubernetes/client-node` 2.x on the
 * same mTLS API server (client certificate required) with the same exec
 * plugin, which returns a client certificate and a token. Both list the
 * namespaces (`GET /api/v1/namespaces`, client-node's
 * `CoreV1Api.listNamespace()`) the same number of times in a row, in
 * interleaved rounds; each has its own plugin state dir, so plugin runs are
 * counted separately.
 *
 * ```sh
 * node .cache/bench/bench_client_node.mjs [--n 400] [--rounds 3]   # bundled by scripts/bench/main.mjs
 * ```
 *
 * Prints one `BENCH_RESULT {json}` line.
 *
 * client-node 2.0.1 depends on undici 8, which needs Node >= 22.19: on Node
 * 20 it fails (`zlib.createZstdDecompress`, `worker_threads.markAsUncloneable`,
 * `Promise.withResolvers`). The first two are only touched at load time (no
 * zstd-encoded answer, no structured clone here) and the third has a
 * standard polyfill, so this script supplies them before importing it (only
 * where missing), and lists them in its result (`shimmed`).
 *
 * @module
 */
import process from "node:process";
import zlib from "node:zlib";
import workerThreads from "node:worker_threads";
import { createAuthedFetch } from "../../mod.ts";
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
  runPluginBare,
  runtimeName,
  writeClusterKubeconfig,
} from "./common.ts";

const shimmed: string[] = [];
const z = zlib as unknown as Record<string, unknown>;
if (typeof z.createZstdDecompress !== "function") {
  z.createZstdDecompress = () => {
    throw new Error("zstd is not available on this Node");
  };
  shimmed.push("zlib.createZstdDecompress");
}
const wt = workerThreads as unknown as Record<string, unknown>;
if (typeof wt.markAsUncloneable !== "function") {
  wt.markAsUncloneable = () => {};
  shimmed.push("worker_threads.markAsUncloneable");
}
const P = Promise as unknown as Record<string, unknown>;
if (typeof P.withResolvers !== "function") {
  P.withResolvers = () => {
    let resolve!: (v: unknown) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
  shimmed.push("Promise.withResolvers");
}
// Imported by a computed name: its type declarations (and the @types/node
// they pull in) would clash with the ones the rest of the repo checks with.
interface ClientNode {
  KubeConfig: new () => {
    loadFromFile(path: string): void;
    makeApiClient<T>(api: new (...args: never[]) => T): T;
  };
  CoreV1Api: new (...args: never[]) => {
    listNamespace(): Promise<{ items: unknown[] }>;
  };
}
const CLIENT_NODE = "@kubernetes/client-node";
const { CoreV1Api, KubeConfig } = await import(CLIENT_NODE) as ClientNode;

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const n = flag("n", 400);
const rounds = flag("rounds", 3);
const warm = 20;

async function timed(count: number, fn: () => Promise<unknown>) {
  const t = performance.now();
  for (let i = 0; i < count; i++) await fn();
  return count / ((performance.now() - t) / 1000);
}

/** TLS connections the server accepted so far. */
async function opened(): Promise<number> {
  return (await cluster.stats()).connectionsOpened;
}

const cluster = await startCluster({
  requireClientCert: true,
  tokens: {
    ...demoTokens(20, "ka"),
    ...demoTokens(20, "cn"),
    ...demoTokens(20, "raw"),
  },
});
const tmp = await makeTempDir("kubeauth-bench-cn-");
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
  // client-node reads the file once; write its own next.
  const cnConfig = await writeClusterKubeconfig(
    tmp.path,
    cluster,
    stanza("cn"),
  );
  const kc = new KubeConfig();
  kc.loadFromFile(cnConfig);
  const api = kc.makeApiClient(CoreV1Api);

  // For context: the same request on Node's fetch + undici Agent (the
  // primitive kubeauth's Node adapter uses) and on undici.request.
  const creds = await runPluginBare(stanza("raw").exec);
  const { Agent, request } = await import("undici");
  const agent = new Agent({
    connect: {
      ca: cluster.caPem,
      cert: creds.clientCertificateData,
      key: creds.clientKeyData,
    },
  });
  const url = cluster.url + "/api/v1/namespaces";
  const headers = { authorization: `Bearer ${creds.token}` };
  const viaRawFetch = async () => {
    const res = await fetch(url, { headers, dispatcher: agent } as RequestInit);
    if (!res.ok) throw new Error(`raw fetch: HTTP ${res.status}`);
    await res.json();
  };
  const viaRequest = async () => {
    const res = await request(url, { headers, dispatcher: agent });
    if (res.statusCode !== 200) throw new Error(`request: ${res.statusCode}`);
    await res.body.json();
  };
  const viaKube = async () => {
    const res = await kube("/api/v1/namespaces");
    if (!res.ok) throw new Error(`kubeauth: HTTP ${res.status}`);
    const list = await res.json();
    if (list.items.length !== 3) throw new Error("kubeauth: bad list");
  };
  const viaClientNode = async () => {
    const list = await api.listNamespace();
    if (list.items.length !== 3) throw new Error("client-node: bad list");
  };
  try {
    await timed(warm, viaKube);
    await timed(warm, viaClientNode);
    await timed(warm, viaRawFetch);
    await timed(warm, viaRequest);
    const ka: number[] = [];
    const cn: number[] = [];
    const rawFetch: number[] = [];
    const rawRequest: number[] = [];
    const conns = { ka: 0, cn: 0 };
    const measure = async (who: "ka" | "cn") => {
      const before = await opened();
      const rps = await timed(n, who === "ka" ? viaKube : viaClientNode);
      conns[who] += (await opened()) - before;
      (who === "ka" ? ka : cn).push(rps);
    };
    for (let r = 0; r < rounds; r++) {
      if (r % 2 === 0) {
        await measure("cn");
        await measure("ka");
      } else {
        await measure("ka");
        await measure("cn");
      }
      rawFetch.push(await timed(n, viaRawFetch));
      rawRequest.push(await timed(n, viaRequest));
      note(
        `client-node round ${r + 1}: kubeauth ${
          round(ka[r])
        } req/s, client-node ${round(cn[r])} req/s`,
      );
    }
    emitResult({
      scenario: "client-node",
      runtime: runtimeName(),
      n,
      rounds,
      kubeauthRps: round(median(ka)),
      clientNodeRps: round(median(cn)),
      ratio: round(median(ka) / median(cn), 2),
      rawFetchRps: round(median(rawFetch)),
      undiciRequestRps: round(median(rawRequest)),
      kubeauthPluginRuns: await pluginRuns(`${tmp.path}/ka`),
      clientNodePluginRuns: await pluginRuns(`${tmp.path}/cn`),
      clientNodeVersion: "2.x",
      shimmed,
      kubeauthConnections: conns.ka,
      clientNodeConnections: conns.cn,
    });
  } finally {
    await kube.close();
    await agent.close();
  }
} catch (err) {
  console.error(`bench client-node failed: ${(err as Error)?.stack ?? err}`);
  emitResult({
    scenario: "client-node",
    runtime: runtimeName(),
    error: String((err as Error)?.message ?? err),
  });
  process.exitCode = 1;
} finally {
  await cluster.close();
  await tmp.remove();
}
