/**
 * Benchmark 7: one `kubeauth fetch /version` per process, vs
 * `kubectl get --raw /version`, on the same kubeconfig and exec plugin (a
 * client certificate per run; neither caches it across processes), against
 * the fake API server. Median wall time of `--runs` (10) interleaved runs
 * after one warm-up run each.
 *
 * ```sh
 * node .cache/bench/bench_cli.mjs [--runs 10] [--bin FILE] [--node-cli FILE]
 * ```
 *
 * Variants: `bun src/cli.ts`, `deno run -A src/cli.ts`, the compiled Bun
 * executable (`--bin`, from scripts/build/bin.ts), Node on an esbuild bundle
 * of the CLI (`--node-cli`), the npm package's `node dist/bin.js` when
 * built, and kubectl when it is on PATH; each also as time / Bun's time.
 *
 * Prints one `BENCH_RESULT {json}` line.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import process from "node:process";
import {
  BUN,
  demoPluginExec,
  DENO,
  makeTempDir,
  NODE,
  pluginRuns,
  repoPath,
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

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const runs = Number(flag("runs") ?? 10);

interface Variant {
  name: string;
  cmd: string;
  args: (kubeconfig: string) => string[];
  times: number[];
  failures: number;
  error?: string;
}

function timeRun(
  cmd: string,
  args: string[],
): Promise<{ ms: number; code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const t = performance.now();
    const child = spawn(cmd, args, {
      cwd: repoPath(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (err += c));
    child.on("error", (e) => {
      err += String(e);
    });
    child.on("close", (code) => {
      resolve({ ms: performance.now() - t, code, out, err });
    });
  });
}

function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir && existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return null;
}

const cli = repoPath("src", "cli.ts");
const fetchArgs = (k: string) => ["fetch", "/version", "--kubeconfig", k];
const variants: Variant[] = [];
const add = (
  name: string,
  cmd: string,
  args: (k: string) => string[],
) => variants.push({ name, cmd, args, times: [], failures: 0 });

const kubectl = onPath("kubectl");
if (kubectl) {
  add(
    "kubectl",
    kubectl,
    (k) => ["--kubeconfig", k, "get", "--raw", "/version"],
  );
}
add("bun src/cli.ts", BUN, (k) => [cli, ...fetchArgs(k)]);
add("deno run -A src/cli.ts", DENO, (k) => ["run", "-A", cli, ...fetchArgs(k)]);
const bin = flag("bin");
if (bin && existsSync(bin)) add("compiled (bun --compile)", bin, fetchArgs);
const nodeCli = flag("node-cli");
if (nodeCli && existsSync(nodeCli)) {
  add("node (bundle)", NODE, (k) => [nodeCli, ...fetchArgs(k)]);
}
// The npm package's bin, when built (npm run build).
const distBin = repoPath("dist", "bin.js");
if (existsSync(distBin)) {
  add("node dist/bin.js", NODE, (k) => [distBin, ...fetchArgs(k)]);
}

const cluster = await startCluster({});
const tmp = await makeTempDir("kubeauth-bench-cli-");
try {
  const stateDir = `${tmp.path}/plugin`;
  const kubeconfig = await writeClusterKubeconfig(tmp.path, cluster, {
    exec: demoPluginExec({
      stateDir,
      caDir: cluster.dir,
      extraArgs: ["--silent"],
    }),
  });
  for (let i = -1; i < runs; i++) { // run -1 is the warm-up
    for (const v of variants) {
      const r = await timeRun(v.cmd, v.args(kubeconfig));
      const ok = r.code === 0 && r.out.includes("v1.32.0-kubeauth-demo");
      if (!ok) {
        v.failures++;
        v.error ??= `exit ${r.code}: ${r.err.trim().split("\n").at(-1)}`;
      } else if (i >= 0) v.times.push(r.ms);
    }
  }
  const runsTotal = await pluginRuns(stateDir);
  const kubectlMs = median(
    variants.find((v) => v.name === "kubectl")?.times ?? [],
  );
  const bunMs = median(
    variants.find((v) => v.name === "bun src/cli.ts")?.times ?? [],
  );
  const rows = variants.map((v) => {
    const ms = median(v.times);
    note(
      `cli ${v.name}: median ${round(ms)} ms over ${v.times.length} runs${
        v.failures ? `, ${v.failures} failed (${v.error})` : ""
      }`,
    );
    return {
      name: v.name,
      medianMs: round(ms, 1),
      minMs: round(Math.min(...v.times), 1),
      runs: v.times.length,
      failures: v.failures,
      ...(v.error ? { error: v.error } : {}),
      // > 1: faster than kubectl.
      vsKubectl: kubectlMs > 0 && ms > 0 ? round(kubectlMs / ms, 2) : null,
      // Time relative to `bun src/cli.ts` in the same run (issue 11: Node ≤ 2.5×).
      vsBun: bunMs > 0 && ms > 0 ? round(ms / bunMs, 2) : null,
    };
  });
  emitResult({
    scenario: "cli",
    runtime: runtimeName(),
    runs,
    kubectl: kubectl !== null,
    pluginRuns: runsTotal,
    variants: rows,
  });
} catch (err) {
  console.error(`bench cli failed: ${(err as Error)?.stack ?? err}`);
  emitResult({
    scenario: "cli",
    runtime: runtimeName(),
    error: String((err as Error)?.message ?? err),
  });
  process.exitCode = 1;
} finally {
  await cluster.close();
  await tmp.remove();
}
