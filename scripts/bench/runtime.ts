/**
 * kubeauth benchmarks 1–4, on the runtime that runs this script, each
 * against a baseline measured in the same process:
 *
 * ```sh
 * deno run -A scripts/bench/runtime.ts <hot|cold|storm|soak>
 * bun scripts/bench/runtime.ts <hot|cold|storm|soak>
 * node .cache/bench/bench_runtime.mjs <hot|cold|storm|soak>   # esbuild bundle, see scripts/bench/main.mjs
 * ```
 *
 * - `hot`: sequential keep-alive GET /version through `createAuthedFetch`
 *   (static client certificate + token) vs the runtime's raw fetch with the
 *   same CA, certificate and token; after a warm-up, 3 rounds of `--n`
 *   (3000) requests per variant, interleaved in 10 alternating chunks;
 *   medians of the rounds. A second pair, interleaved the same way: on
 *   Node and Deno, kubeauth vs a plain `node:https` keep-alive Agent with
 *   the same certificate (what kubeauth uses there for a cluster with a
 *   CA).
 * - `cold`: 500 concurrent requests on an empty credential cache (exec
 *   plugin): plugin runs, failures, time to the last response; baseline: one
 *   bare plugin spawn + the same 500 requests on a raw client.
 * - `storm`: the server revokes the plugin's token; 500 concurrent requests
 *   all get 401, the plugin issues a new (accepted) token: plugin runs during
 *   the storm, failures, time; baseline: the same burst from a client in
 *   the same state whose token stays valid.
 * - `soak`: the plugin's credentials expire every 200 ms (a new client
 *   certificate each time), 16 requests in flight for 5 s: requests/s,
 *   failures, stale-certificate requests seen by the server, old
 *   connections left open; baseline: the same load without rotation.
 *
 * Prints progress on stderr and one `BENCH_RESULT {json}` line on stdout.
 * Everything runs on 127.0.0.1; every server and child is closed.
 *
 * @module
 */
import process from "node:process";
import { createAuthedFetch } from "../../mod.ts";
import type { AuthedFetch } from "../../mod.ts";
import {
  demoPluginExec,
  demoTokens,
  makeTempDir,
  pluginRuns,
  startCluster,
} from "../../tests/support/cluster.ts";
import type { TestCluster } from "../../tests/support/cluster.ts";
import { issueCertificate } from "../../tests/support/pki.ts";
import { RotationAudit } from "../demo/audit.ts";
import {
  concurrent,
  emitResult,
  httpsClient,
  median,
  note,
  rawClient,
  round,
  runPluginBare,
  runtimeName,
  sequential,
  writeClusterKubeconfig,
} from "./common.ts";

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const ROUNDS = flag("rounds", 3);

/** Runs `fn` with a fresh cluster and temp dir, closing both. */
async function withCluster<T>(
  opts: Parameters<typeof startCluster>[0],
  fn: (cluster: TestCluster, dir: string) => Promise<T>,
): Promise<T> {
  const cluster = await startCluster(opts);
  const tmp = await makeTempDir("kubeauth-bench-");
  try {
    return await fn(cluster, tmp.path);
  } finally {
    await cluster.close();
    await tmp.remove();
  }
}

// ---------------------------------------------------------------- 1. hot path

async function hot(): Promise<Record<string, unknown>> {
  const n = flag("n", 3000);
  const warm = flag("warmup", 1000);
  return await withCluster(
    { tokens: { "bench-token": "bench" } },
    async (cluster, dir) => {
      const pair = await issueCertificate(cluster.ca, {
        commonName: "bench-user",
        organizations: ["bench"],
        usage: "client",
        validSeconds: 3600,
      });
      const kubeconfig = await writeClusterKubeconfig(dir, cluster, {
        "client-certificate-data": btoa(pair.certPem),
        "client-key-data": btoa(pair.keyPem),
        token: "bench-token",
      });
      const kube = await createAuthedFetch({ kubeconfig });
      const raw = await rawClient({
        ca: cluster.caPem,
        cert: pair.certPem,
        key: pair.keyPem,
      });
      const url = cluster.url + "/version";
      const headers = { authorization: "Bearer bench-token" };
      const viaKube = () => kube("/version");
      const viaRaw = () => raw.fetch(url, { headers });
      // A second interleaved pair: on Node and Deno, kubeauth vs a plain
      // node:https keep-alive Agent with the same certificate, the
      // primitive kubeauth uses there for a cluster with a CA (target
      // ≥ 0.95×).
      const rt = runtimeName();
      const https = rt === "node" || rt === "deno"
        ? await httpsClient({
          ca: cluster.caPem,
          cert: pair.certPem,
          key: pair.keyPem,
        })
        : undefined;
      const second = https
        ? {
          name: "node:https",
          left: viaKube,
          right: () => https.fetch(url, { headers }),
        }
        : undefined;
      const leftRps: number[] = [];
      const rightRps: number[] = [];
      const secondRatios: number[] = [];
      try {
        await sequential(warm, viaRaw);
        await sequential(warm, viaKube);
        if (second) {
          await sequential(warm, second.left);
          await sequential(warm, second.right);
        }
        // Each round sends n requests per variant in alternating chunks
        // (ABAB…, starting side swapped every round), so both see the same
        // background load; the round's rate is n / the variant's total time.
        const chunks = flag("chunks", 10);
        const size = Math.ceil(n / chunks);
        const kubeRps: number[] = [];
        const rawRps: number[] = [];
        for (let r = 0; r < ROUNDS; r++) {
          let kubeSec = 0;
          let rawSec = 0;
          for (let c = 0; c < chunks; c++) {
            const kubeFirst = (r + c) % 2 === 0;
            for (const which of kubeFirst ? [0, 1] : [1, 0]) {
              const rps = await sequential(
                size,
                which === 0 ? viaKube : viaRaw,
              );
              if (which === 0) kubeSec += size / rps;
              else rawSec += size / rps;
            }
          }
          kubeRps.push((size * chunks) / kubeSec);
          rawRps.push((size * chunks) / rawSec);
          if (second) {
            // Its own pass, in the same alternating chunks.
            let lSec = 0;
            let rSec = 0;
            for (let c = 0; c < chunks; c++) {
              const leftFirst = (r + c) % 2 === 0;
              for (const which of leftFirst ? [0, 1] : [1, 0]) {
                const rps = await sequential(
                  size,
                  which === 0 ? second.left : second.right,
                );
                if (which === 0) lSec += size / rps;
                else rSec += size / rps;
              }
            }
            leftRps.push((size * chunks) / lSec);
            rightRps.push((size * chunks) / rSec);
            secondRatios.push(rSec / lSec);
            note(
              `hot round ${r + 1} (${second.name}): ${round(leftRps[r])} / ${
                round(rightRps[r])
              } req/s`,
            );
          }
        }
        const conns = await cluster.connections();
        const byCn = conns.filter((c) => c.cn === "bench-user").length;
        return {
          primitive: raw.primitive,
          n,
          rounds: ROUNDS,
          kubeauthRps: round(median(kubeRps)),
          rawRps: round(median(rawRps)),
          // Each round's two variants ran interleaved under the same load:
          // the median of the per-round ratios is the robust figure.
          ratio: round(median(kubeRps.map((k, i) => k / rawRps[i])), 3),
          roundRatios: kubeRps.map((k, i) => round(k / rawRps[i], 3)),
          connections: byCn,
          ...(second
            ? {
              second: {
                name: second.name,
                leftRps: round(median(leftRps)),
                rightRps: round(median(rightRps)),
                ratio: round(median(secondRatios), 3),
                roundRatios: secondRatios.map((x) => round(x, 3)),
              },
            }
            : {}),
        };
      } finally {
        await kube.close();
        await raw.close();
        https?.close();
      }
    },
  );
}

// ---------------------------------------------------------------- 2. cold start

async function cold(): Promise<Record<string, unknown>> {
  const n = flag("n", 500);
  return await withCluster({}, async (cluster, dir) => {
    const kubeMs: number[] = [];
    const baseMs: number[] = [];
    const runs: number[] = [];
    let failures = 0;
    const errors: string[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      // Baseline: one bare plugin spawn, then the same requests on a raw client.
      const baseExec = demoPluginExec({
        stateDir: `${dir}/base-${r}`,
        caDir: cluster.dir,
        extraArgs: ["--silent"],
      });
      let t = performance.now();
      const status = await runPluginBare(baseExec);
      const raw = await rawClient({
        ca: cluster.caPem,
        cert: status.clientCertificateData,
        key: status.clientKeyData,
      });
      const base = await concurrent(
        n,
        () => raw.fetch(cluster.url + "/version"),
      );
      baseMs.push(performance.now() - t);
      await raw.close();
      if (base.failures > 0) throw new Error(`baseline: ${base.errors}`);

      const stateDir = `${dir}/kube-${r}`;
      const kubeconfig = await writeClusterKubeconfig(
        dir,
        cluster,
        {
          exec: demoPluginExec({
            stateDir,
            caDir: cluster.dir,
            extraArgs: ["--silent"],
          }),
        },
      );
      t = performance.now();
      const kube = await createAuthedFetch({ kubeconfig });
      const res = await concurrent(n, () => kube("/version"));
      kubeMs.push(performance.now() - t);
      await kube.close();
      runs.push(await pluginRuns(stateDir));
      failures += res.failures;
      errors.push(...res.errors);
      note(
        `cold round ${r + 1}: kubeauth ${round(kubeMs[r])} ms (${
          runs[r]
        } plugin runs, ${res.failures} failed), baseline ${
          round(baseMs[r])
        } ms`,
      );
    }
    return {
      n,
      rounds: ROUNDS,
      pluginRunsMax: Math.max(...runs),
      pluginRuns: runs,
      failures,
      errors: errors.slice(0, 3),
      kubeauthMs: round(median(kubeMs)),
      baselineMs: round(median(baseMs)),
      ratio: round(median(baseMs) / median(kubeMs), 3),
    };
  });
}

// ---------------------------------------------------------------- 3. 401 storm

async function storm(): Promise<Record<string, unknown>> {
  const n = flag("n", 500);
  return await withCluster({}, async (cluster, dir) => {
    const stormMs: number[] = [];
    const baseMs: number[] = [];
    const runs: number[] = [];
    let failures = 0;
    const errors: string[] = [];
    /** A client whose plugin hands out `<prefix>-1`, `<prefix>-2`…, warmed up by one request. */
    const warmClient = async (prefix: string, stateDir: string) => {
      const kubeconfig = await writeClusterKubeconfig(dir, cluster, {
        exec: demoPluginExec({
          stateDir,
          caDir: cluster.dir,
          mode: "token",
          tokenPrefix: prefix,
          extraArgs: ["--silent"],
        }),
      });
      const kube = await createAuthedFetch({ kubeconfig });
      const first = await kube("/version");
      await first.arrayBuffer();
      if (!first.ok) {
        await kube.close();
        throw new Error(`warm-up: HTTP ${first.status}`);
      }
      return kube;
    };
    for (let r = 0; r < ROUNDS; r++) {
      const prefix = `storm${r}`;
      const basePrefix = `base${r}`;
      const stateDir = `${dir}/state-${r}`;
      const tokens = { ...demoTokens(5, prefix), ...demoTokens(5, basePrefix) };
      await cluster.setTokens(tokens);

      // Baseline: a client in the same state (one plugin run, one
      // connection) sends the same burst with a token the server accepts.
      const base = await warmClient(basePrefix, `${dir}/base-${r}`);
      try {
        const res = await concurrent(n, () => base("/version"));
        baseMs.push(res.ms);
        failures += res.failures;
        errors.push(...res.errors);
      } finally {
        await base.close();
      }

      // Storm: the server revokes token 1 (the plugin's next, token 2, is
      // accepted), then the burst: every request gets a 401 first.
      const kube = await warmClient(prefix, stateDir);
      try {
        const { [`${prefix}-1`]: _revoked, ...rest } = tokens;
        await cluster.setTokens(rest);
        const before = await pluginRuns(stateDir);
        const res = await concurrent(n, () => kube("/version"));
        stormMs.push(res.ms);
        runs.push((await pluginRuns(stateDir)) - before);
        failures += res.failures;
        errors.push(...res.errors);
      } finally {
        await kube.close();
      }
      note(
        `storm round ${r + 1}: ${round(stormMs[r])} ms, ${
          runs[r]
        } plugin runs; baseline ${round(baseMs[r])} ms`,
      );
    }
    return {
      n,
      rounds: ROUNDS,
      pluginRunsMax: Math.max(...runs),
      pluginRuns: runs,
      failures,
      errors: errors.slice(0, 3),
      stormMs: round(median(stormMs)),
      baselineMs: round(median(baseMs)),
      ratio: round(median(baseMs) / median(stormMs), 3),
    };
  });
}

// ---------------------------------------------------------------- 4. rotation soak

async function load(
  kube: AuthedFetch,
  inFlight: number,
  seconds: number,
  onStart: (id: string) => void,
): Promise<
  { requests: number; rps: number; failures: number; errors: string[] }
> {
  let requests = 0;
  let failures = 0;
  const errors: string[] = [];
  const until = performance.now() + seconds * 1000;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async (_, w) => {
      for (let i = 0; performance.now() < until; i++) {
        const id = `w${w}-${i}`;
        onStart(id);
        requests++;
        try {
          const res = await kube("/version", {
            headers: { "x-request-id": id },
          });
          await res.arrayBuffer();
          if (!res.ok) {
            failures++;
            if (errors.length < 3) errors.push(`HTTP ${res.status}`);
          }
        } catch (err) {
          failures++;
          if (errors.length < 3) errors.push(String((err as Error)?.message));
        }
      }
    }),
  );
  const elapsed = (performance.now() - t) / 1000;
  return { requests, rps: requests / elapsed, failures, errors };
}

async function soak(): Promise<Record<string, unknown>> {
  const seconds = flag("seconds", 5);
  const inFlight = flag("in-flight", 16);
  const expiryMs = flag("expiry-ms", 200);
  return await withCluster({}, async (cluster, dir) => {
    const audit = new RotationAudit();
    let pluginFailures = 0;
    const soakKubeconfig = await writeClusterKubeconfig(
      dir,
      cluster,
      {
        exec: demoPluginExec({
          stateDir: `${dir}/soak`,
          caDir: cluster.dir,
          ttlSeconds: 600,
          extraArgs: ["--expiry-ms", String(expiryMs), "--silent"],
        }),
      },
    );
    const kube = await createAuthedFetch({
      kubeconfig: soakKubeconfig,
      onEvent: (e) => {
        audit.onEvent(e);
        if (e.type === "plugin-run" && !e.ok) pluginFailures++;
      },
    });
    let soakLoad;
    let result;
    try {
      soakLoad = await load(kube, inFlight, seconds, (id) => audit.begin(id));
      result = await audit.check(cluster);
    } finally {
      await kube.close();
    }
    const runs = await pluginRuns(`${dir}/soak`);
    note(
      `soak: ${
        round(soakLoad.rps)
      } req/s, ${runs} plugin runs, ${audit.rotations} rotations, ${soakLoad.failures} failed, ${result.stale} stale, ${result.oldOpen} old open`,
    );

    // Baseline: the same load, credentials that do not expire during it.
    const baseKubeconfig = await writeClusterKubeconfig(
      dir,
      cluster,
      {
        exec: demoPluginExec({
          stateDir: `${dir}/base`,
          caDir: cluster.dir,
          ttlSeconds: 3600,
          extraArgs: ["--silent"],
        }),
      },
    );
    const base = await createAuthedFetch({ kubeconfig: baseKubeconfig });
    let baseLoad;
    try {
      baseLoad = await load(base, inFlight, Math.min(3, seconds), () => {});
    } finally {
      await base.close();
    }
    note(`soak baseline: ${round(baseLoad.rps)} req/s`);
    return {
      seconds,
      inFlight,
      expiryMs,
      requests: soakLoad.requests,
      rps: round(soakLoad.rps),
      baselineRps: round(baseLoad.rps),
      ratio: round(soakLoad.rps / baseLoad.rps, 3),
      failures: soakLoad.failures + baseLoad.failures,
      errors: [...soakLoad.errors, ...baseLoad.errors].slice(0, 3),
      pluginRuns: runs,
      pluginFailures,
      rotations: audit.rotations,
      connections: result.connections,
      stale: result.stale,
      staleSamples: result.staleSamples,
      oldOpen: result.oldOpen,
      unmatched: result.unmatched,
    };
  });
}

// ---------------------------------------------------------------- main

const SCENARIOS: Record<string, () => Promise<Record<string, unknown>>> = {
  hot,
  cold,
  storm,
  soak,
};

const name = process.argv[2] ?? "";
const scenario = SCENARIOS[name];
if (!scenario) {
  console.error(
    `usage: runtime.ts <${
      Object.keys(SCENARIOS).join("|")
    }> [--n N] [--rounds N] [--seconds N]`,
  );
  process.exit(2);
}
try {
  const result = await scenario();
  emitResult({ scenario: name, runtime: runtimeName(), ...result });
} catch (err) {
  console.error(`bench ${name} failed: ${(err as Error)?.stack ?? err}`);
  emitResult({
    scenario: name,
    runtime: runtimeName(),
    error: String((err as Error)?.message ?? err),
  });
  process.exitCode = 1;
}
