/**
 * Benchmark 8 (cache): the credential cache across processes, with an exec
 * plugin that takes 300 ms (the demo plugin with `--delay-ms 300`):
 * - 10 sequential `kubectl get --raw /version` through a `kubeauth kubeconfig
 *   wrap` kubeconfig (`kubeauth cached`) vs the original kubeconfig
 *   (target ≥ 3× less total time);
 * - 10 sequential `kubeauth fetch /version --cache` vs 10 `kubectl get --raw`
 *   on the original kubeconfig (target ≥ 5×).
 * Each cached series starts on an empty cache (its first run pays the
 * plugin). The floor: 10 `kubectl get --raw` whose exec plugin is `cat` of a
 * stored ExecCredential (a plugin that costs nothing); the best ratio any
 * wrapper can reach is kubectl's time / (one plain run + 9 floor runs). Total wall time per series of 10, after one warm-up of each
 * binary on another kubeconfig.
 *
 * ```sh
 * node .cache/bench/bench_cache.mjs [--runs 10] [--bin FILE]
 * ```
 *
 * `kubeauth` is the compiled Bun executable when `--bin` is given (what an
 * installed CLI is), else `bun src/cli.ts`. Prints one `BENCH_RESULT {json}`
 * line.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import process from "node:process";
import {
  BUN,
  demoPluginExec,
  makeTempDir,
  pluginRuns,
  repoPath,
  startCluster,
} from "../../tests/support/cluster.ts";
import {
  emitResult,
  note,
  round,
  runPluginBare,
  runtimeName,
  writeClusterKubeconfig,
} from "./common.ts";

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const runs = Number(flag("runs") ?? 10);
const bin = flag("bin");
const kubeauthArgv = bin && existsSync(bin)
  ? [bin]
  : [BUN, repoPath("src", "cli.ts")];

function timeRun(
  argv: string[],
  env: Record<string, string>,
): Promise<{ ms: number; code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const t = performance.now();
    const child = spawn(argv[0], argv.slice(1), {
      cwd: repoPath(),
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env } as Record<string, string>,
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (err += c));
    child.on("error", (e) => (err += String(e)));
    child.on(
      "close",
      (code) => resolve({ ms: performance.now() - t, code, out, err }),
    );
  });
}

/** Runs `argv` `runs` times in a row; total ms, or throws on a failure. */
async function series(
  name: string,
  argv: string[],
  env: Record<string, string>,
): Promise<number> {
  let total = 0;
  for (let i = 0; i < runs; i++) {
    const r = await timeRun(argv, env);
    if (r.code !== 0 || !r.out.includes("v1.32.0-kubeauth-demo")) {
      throw new Error(
        `${name}: exit ${r.code}: ${r.err.trim().split("\n").at(-1)}`,
      );
    }
    total += r.ms;
  }
  note(`cache ${name}: ${round(total)} ms for ${runs} runs`);
  return total;
}

const cluster = await startCluster({});
const tmp = await makeTempDir("kubeauth-bench-cache-");
try {
  const plugin = (state: string) =>
    demoPluginExec({
      stateDir: `${tmp.path}/${state}`,
      caDir: cluster.dir,
      extraArgs: ["--silent", "--delay-ms", "300"],
    });
  const dir = (name: string) => {
    mkdirSync(`${tmp.path}/${name}`, { recursive: true });
    return `${tmp.path}/${name}`;
  };
  const original = await writeClusterKubeconfig(dir("orig"), cluster, {
    exec: plugin("plain"),
  });
  const cachedConfig = await writeClusterKubeconfig(dir("cached"), cluster, {
    exec: plugin("cached"),
  });
  const fetchConfig = await writeClusterKubeconfig(dir("fetch"), cluster, {
    exec: plugin("fetch"),
  });
  // `kubeauth` on PATH for kubectl.
  const binDir = dir("bin");
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  writeFileSync(
    `${binDir}/kubeauth`,
    `#!/bin/sh\nexec ${kubeauthArgv.map(quote).join(" ")} "$@"\n`,
  );
  chmodSync(`${binDir}/kubeauth`, 0o755);
  const env = {
    PATH: `${binDir}:${process.env.PATH}`,
    KUBECACHEDIR: dir("kubecache"),
  };
  const wrap = await timeRun(
    [...kubeauthArgv, "kubeconfig", "wrap", "--kubeconfig", cachedConfig],
    env,
  );
  if (wrap.code !== 0) throw new Error(`kubeconfig wrap: ${wrap.err}`);
  const wrapped = `${tmp.path}/cached/wrapped.yaml`;
  writeFileSync(wrapped, wrap.out);
  const kubectl = (k: string) => [
    "kubectl",
    "--kubeconfig",
    k,
    "get",
    "--raw",
    "/version",
  ];
  // Warm-up: each binary once (page cache, Bun's transpiler cache).
  const warm = await writeClusterKubeconfig(dir("warm"), cluster, {
    exec: plugin("warm"),
  });
  await timeRun(kubectl(warm), env);
  await timeRun([...kubeauthArgv, "fetch", "/version", "--kubeconfig", warm], {
    ...env,
    KUBECACHEDIR: dir("warmcache"),
  });

  const plainMs = await series(
    "kubectl (plugin every run)",
    kubectl(original),
    env,
  );
  const wrappedMs = await series(
    "kubectl + kubeauth cached",
    kubectl(wrapped),
    env,
  );
  // A plugin that costs nothing: `cat` of a credential the plugin minted.
  const minted = plugin("floor");
  const credFile = `${dir("floor")}/credential.json`;
  writeFileSync(
    credFile,
    JSON.stringify({
      apiVersion: minted.apiVersion,
      kind: "ExecCredential",
      status: await runPluginBare(minted),
    }),
  );
  const floorConfig = await writeClusterKubeconfig(dir("floorcfg"), cluster, {
    exec: {
      apiVersion: minted.apiVersion,
      command: "cat",
      args: [credFile],
      interactiveMode: "Never",
    },
  });
  const floorMs = await series(
    "kubectl + a zero-cost plugin (cat)",
    kubectl(floorConfig),
    env,
  );
  const bestWrappedMs = plainMs / runs + floorMs * (runs - 1) / runs;
  const fetchMs = await series(
    "kubeauth fetch --cache",
    [
      ...kubeauthArgv,
      "fetch",
      "/version",
      "--kubeconfig",
      fetchConfig,
      "--cache",
    ],
    env,
  );
  emitResult({
    scenario: "cache",
    runtime: runtimeName(),
    runs,
    kubeauth: bin && existsSync(bin) ? "compiled" : "bun src/cli.ts",
    pluginDelayMs: 300,
    kubectlMs: round(plainMs),
    kubectlWrappedMs: round(wrappedMs),
    fetchCacheMs: round(fetchMs),
    kubectlZeroCostPluginMs: round(floorMs),
    wrappedRatio: round(plainMs / wrappedMs, 2),
    // A wrapper that costs nothing: 1 plain run + 9 zero-cost-plugin runs.
    bestWrappedRatio: round(plainMs / bestWrappedMs, 2),
    fetchRatio: round(plainMs / fetchMs, 2),
    pluginRuns: {
      kubectl: await pluginRuns(`${tmp.path}/plain`),
      wrapped: await pluginRuns(`${tmp.path}/cached`),
      fetch: await pluginRuns(`${tmp.path}/fetch`),
    },
  });
} catch (err) {
  console.error(`bench cache failed: ${(err as Error)?.stack ?? err}`);
  emitResult({
    scenario: "cache",
    runtime: runtimeName(),
    error: String((err as Error)?.message ?? err),
  });
  process.exitCode = 1;
} finally {
  await cluster.close();
  await tmp.remove();
}
