#!/usr/bin/env node
// `npm run bench`: runs every kubeauth benchmark on Deno, Bun and Node in one
// go, each against a baseline measured in the same run, prints one table
// (ratios first, then the raw numbers) with the machine it ran on, and writes
// everything to .cache/bench-results.json. About 2–4 minutes on 2 cores.
//
//   node scripts/bench/main.mjs [--only hot,cold,storm,soak,exec,client-node,cli,cache,streams,client-node-kubeauth]
//                          [--runtimes deno,bun,node] [--quick]
//
// 1 hot    sequential keep-alive requests, kubeauth vs the runtime's raw fetch
// 2 cold   500 concurrent requests on an empty credential cache
// 3 storm  token revoked under 500 concurrent requests
// 4 soak   a new client certificate every 200 ms, 16 requests in flight, 5 s
// 5 exec   plugin acquisition vs bare spawn (scripts/bench/exec.ts)
// 6 client-node  kubeauth vs @kubernetes/client-node on Node
// 7 cli    `kubeauth fetch /version` per process vs `kubectl get --raw`
// 8 cache  credential cache across processes, 300 ms plugin: kubectl through
//          `kubeauth cached`, and `kubeauth fetch --cache`, vs plain kubectl
// 9 streams  port-forward MiB/s vs direct TCP; exec 1-byte echo round trip
//            (scripts/bench/streams.ts)
// 10 client-node-kubeauth  client-node's CoreV1Api through kubeauth vs alone,
//          on every runtime (scripts/bench/client_node_kubeauth.ts)
//
// The per-runtime scripts are scripts/bench/*.ts: Deno and Bun run them as
// they are; Node runs esbuild bundles written to .cache/bench/. Every server
// and child process is local (127.0.0.1) and stops by itself.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..", "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const cacheDir = join(root, ".cache", "bench");
const resultsFile = join(root, ".cache", "bench-results.json");

const argv = process.argv.slice(2);
const listFlag = (name, all) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1].split(",") : all;
};
const ALL = [
  "hot",
  "cold",
  "storm",
  "soak",
  "exec",
  "client-node",
  "cli",
  "cache",
  "streams",
  "client-node-kubeauth",
];
const only = new Set(listFlag("only", ALL));
const runtimes = listFlag("runtimes", ["deno", "bun", "node"]);
const quick = argv.includes("--quick");

const tty = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code) => (s) => tty ? `\x1b[${code}m${s}\x1b[0m` : s;
const dim = paint("2");
const bold = paint("1");
const green = paint("32");
const red = paint("31");

// ---------------------------------------------------------------- helpers

function firstLine(cmd, args) {
  try {
    const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 20_000 });
    return (r.stdout || r.stderr || "").trim().split("\n")[0] || null;
  } catch {
    return null;
  }
}

/**
 * Runs a command; streams its stderr dimmed; resolves with its stdout and exit code.
 * @param {{ timeoutMs?: number, env?: Record<string, string> }} [options]
 */
function run(cmd, args, options = {}) {
  const { timeoutMs = 240_000, env = undefined } = options;
  return new Promise((done) => {
    const started = Date.now();
    const child = spawn(cmd, args, {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", ...env },
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => {
      err += c;
      process.stderr.write(dim(String(c)));
    });
    const timer = setTimeout(() => {
      err += `\n(killed after ${timeoutMs} ms)`;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (e) => {
      err += String(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, out, err, ms: Date.now() - started });
    });
  });
}

function parseResult(r) {
  const lines = r.out.split("\n").filter((l) => l.startsWith("BENCH_RESULT "));
  if (lines.length === 0) {
    const tail = (r.err || r.out).trim().split("\n").slice(-3).join(" | ");
    return { error: `no result (exit ${r.code}): ${tail}` };
  }
  return JSON.parse(lines.at(-1).slice("BENCH_RESULT ".length));
}

async function esbuild(entry, outfile, extra = []) {
  const r = await run(bin("esbuild"), [
    ...(entry ? [entry] : []),
    "--bundle",
    "--platform=node",
    "--format=esm",
    "--target=node20",
    "--packages=external",
    "--log-level=warning",
    `--outfile=${outfile}`,
    ...extra,
  ]);
  if (r.code !== 0) throw new Error(`esbuild ${entry} failed: ${r.err}`);
}

/** The command that runs a bench script on a runtime. */
function command(runtime, script) {
  const name = "bench_" + script.replace(/^.*\//, "").replace(/\.ts$/, "");
  if (runtime === "deno") return [bin("deno"), ["run", "-A", script]];
  if (runtime === "bun") return [bin("bun"), [script]];
  return [process.execPath, [join(cacheDir, `${name}.mjs`)]];
}

// ---------------------------------------------------------------- machine

const cpus = os.cpus();
const machine = {
  date: new Date().toISOString(),
  cpu: cpus[0]?.model?.trim() ?? "unknown",
  cores: cpus.length,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30 * 10) / 10,
  os: `${os.type()} ${os.release()} ${os.arch()}`,
  loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
  node: process.version,
  deno: firstLine(bin("deno"), ["--version"])?.replace(/ \(.*$/, "") ?? null,
  bun: firstLine(bin("bun"), ["--version"]),
  kubectl: firstLine("kubectl", ["version", "--client"])
    ?.replace(/^Client Version: /, "kubectl ") ?? null,
};

console.log(bold("kubeauth benchmarks") + dim(`  ${machine.date}`));
console.log(
  `machine   ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}, load ${
    machine.loadavg.join(" ")
  }`,
);
console.log(
  `runtimes  Node ${machine.node} · ${machine.deno} · Bun ${machine.bun} · ${
    machine.kubectl ?? "kubectl: not found"
  }`,
);
console.log("");

// ---------------------------------------------------------------- build

mkdirSync(cacheDir, { recursive: true });
const hasExecBench = existsSync(join(root, "scripts", "bench", "exec.ts"));
const needNode = runtimes.includes("node");
process.stderr.write(dim("building Node bundles and the Bun executable…\n"));
if (needNode && ["hot", "cold", "storm", "soak"].some((s) => only.has(s))) {
  await esbuild(
    "scripts/bench/runtime.ts",
    join(cacheDir, "bench_runtime.mjs"),
  );
}
if (needNode && only.has("exec") && hasExecBench) {
  await esbuild("scripts/bench/exec.ts", join(cacheDir, "bench_exec.mjs"));
}
if (only.has("client-node")) {
  await esbuild(
    "scripts/bench/client_node.ts",
    join(cacheDir, "bench_client_node.mjs"),
  );
}
if (needNode && only.has("streams")) {
  await esbuild(
    "scripts/bench/streams.ts",
    join(cacheDir, "bench_streams.mjs"),
  );
}
if (needNode && only.has("client-node-kubeauth")) {
  // client-node 2.x needs Node >= 22.19: on older Node, bundle 1.x.
  const [major, minor] = process.versions.node.split(".").map(Number);
  const old = major < 22 || (major === 22 && minor < 19);
  await esbuild(
    "scripts/bench/client_node_kubeauth.ts",
    join(cacheDir, "bench_client_node_kubeauth.mjs"),
    old ? ["--alias:@kubernetes/client-node=client-node-1"] : [],
  );
}
let compiled = null;
let nodeCli = null;
if (only.has("cli")) {
  await esbuild("scripts/bench/cli.ts", join(cacheDir, "bench_cli.mjs"));
  // The npm package's bin does this: run main() and exit with its code.
  const entry = join(cacheDir, "kubeauth_cli_entry.ts");
  writeFileSync(
    entry,
    `import { main } from "../../src/cli.ts";\nprocess.exit(await main(process.argv.slice(2)));\n`,
  );
  nodeCli = join(cacheDir, "kubeauth-cli.mjs");
  await esbuild(entry, nodeCli);
  compiled = join(cacheDir, "kubeauth");
  const b = await run(bin("bun"), [
    "scripts/build/bin.ts",
    "--outfile",
    compiled,
  ]);
  if (b.code !== 0) compiled = null;
}
if (only.has("cache")) {
  await esbuild("scripts/bench/cache.ts", join(cacheDir, "bench_cache.mjs"));
  if (compiled === null) {
    const b = await run(bin("bun"), [
      "scripts/build/bin.ts",
      "--outfile",
      join(cacheDir, "kubeauth"),
    ]);
    if (b.code === 0) compiled = join(cacheDir, "kubeauth");
  }
}

// ---------------------------------------------------------------- run

const results = { machine, quick, scenarios: {} };
const quickArgs = {
  hot: ["--n", "500", "--warmup", "100"],
  cold: ["--n", "100", "--rounds", "1"],
  storm: ["--n", "100", "--rounds", "1"],
  soak: ["--seconds", "2"],
};
const t0 = Date.now();

for (const scenario of ["hot", "cold", "storm", "soak"]) {
  if (!only.has(scenario)) continue;
  results.scenarios[scenario] = {};
  for (const rt of runtimes) {
    process.stderr.write(dim(`\n== ${scenario} on ${rt}\n`));
    const [cmd, args] = command(rt, "scripts/bench/runtime.ts");
    const r = await run(cmd, [
      ...args,
      scenario,
      ...(quick ? quickArgs[scenario] : []),
    ]);
    results.scenarios[scenario][rt] = parseResult(r);
  }
}

if (only.has("exec")) {
  results.scenarios.exec = {};
  for (const rt of runtimes) {
    if (!hasExecBench) {
      results.scenarios.exec[rt] = {
        skipped: "scripts/bench/exec.ts does not exist",
      };
      continue;
    }
    process.stderr.write(dim(`\n== exec on ${rt}\n`));
    const [cmd, args] = command(rt, "scripts/bench/exec.ts");
    const r = await run(cmd, args, {
      env: quick ? { BENCH_ITERATIONS: "10" } : {},
    });
    process.stderr.write(dim(r.out));
    results.scenarios.exec[rt] = parseExecBench(r);
  }
}

if (only.has("client-node")) {
  process.stderr.write(dim(`\n== client-node on node\n`));
  const r = await run(process.execPath, [
    join(cacheDir, "bench_client_node.mjs"),
    ...(quick ? ["--n", "100", "--rounds", "1"] : []),
  ]);
  results.scenarios["client-node"] = { node: parseResult(r) };
}

if (only.has("cli")) {
  process.stderr.write(dim(`\n== cli\n`));
  const r = await run(process.execPath, [
    join(cacheDir, "bench_cli.mjs"),
    "--runs",
    quick ? "3" : "10",
    ...(compiled ? ["--bin", compiled] : []),
    ...(nodeCli ? ["--node-cli", nodeCli] : []),
  ]);
  results.scenarios.cli = parseResult(r);
}
if (only.has("cache")) {
  process.stderr.write(dim(`\n== cache\n`));
  const r = await run(process.execPath, [
    join(cacheDir, "bench_cache.mjs"),
    "--runs",
    quick ? "3" : "10",
    ...(compiled ? ["--bin", compiled] : []),
  ]);
  results.scenarios.cache = parseResult(r);
}
if (only.has("streams")) {
  results.scenarios.streams = {};
  for (const rt of runtimes) {
    process.stderr.write(dim(`\n== streams on ${rt}\n`));
    const [cmd, args] = command(rt, "scripts/bench/streams.ts");
    const r = await run(cmd, [
      ...args,
      ...(quick ? ["--mib", "8", "--rounds", "1", "--echoes", "50"] : []),
    ]);
    results.scenarios.streams[rt] = parseResult(r);
  }
}
if (only.has("client-node-kubeauth")) {
  results.scenarios["client-node-kubeauth"] = {};
  for (const rt of runtimes) {
    process.stderr.write(dim(`\n== client-node-kubeauth on ${rt}\n`));
    const [cmd, args] = command(rt, "scripts/bench/client_node_kubeauth.ts");
    const r = await run(cmd, [
      ...args,
      ...(quick ? ["--n", "100", "--rounds", "1"] : []),
    ]);
    results.scenarios["client-node-kubeauth"][rt] = parseResult(r);
  }
}
results.totalSeconds = Math.round((Date.now() - t0) / 1000);

/** exec.ts prints a text table; pick out the medians and ratios. */
function parseExecBench(r) {
  const rows = [];
  let current = null;
  for (const line of r.out.split("\n")) {
    const name = line.slice(0, 22).trim();
    const m = /\b(bare|kubeauth)\s+([\d.]+)/.exec(line);
    if (!m) continue;
    if (name) current = /** @type {Record<string, unknown>} */ ({ name });
    if (!current) continue;
    current[m[1] === "bare" ? "bareMs" : "kubeauthMs"] = Number(m[2]);
    const ratio = /ratio \(median\) ([\d.]+)/.exec(line);
    if (ratio) {
      current.ratio = Number(ratio[1]);
      rows.push(current);
    }
  }
  if (rows.length === 0) {
    return { error: `no result (exit ${r.code}): ${r.err.trim().slice(-200)}` };
  }
  return { rows };
}

// ---------------------------------------------------------------- table

const S = results.scenarios;
const RT = ["deno", "bun", "node"];
const get = (scenario, rt) => S[scenario]?.[rt];
const fmt = (x, digits = 0) =>
  typeof x === "number"
    ? x.toLocaleString("en-US", {
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    })
    : "–";
const mark = (ok) => ok === undefined ? " " : ok ? green("✓") : red("✗");
const missed = [];

/**
 * One row: label, target, and per runtime [text, ok?]; a scenario that
 * failed on a runtime shows its error there.
 */
function row(label, target, cell) {
  const cells = RT.map((rt) => {
    const c = cell(rt);
    if (c === null) return { text: "", ok: undefined };
    if (c.error) return { text: "error", ok: false, error: c.error };
    return c;
  });
  for (const [i, c] of cells.entries()) {
    if (c.ok === false) {
      missed.push(`${label} on ${RT[i]}${c.error ? `: ${c.error}` : ""}`);
    }
  }
  const pad = (c) => {
    const width = 16;
    const t = String(c.text);
    return " ".repeat(Math.max(0, width - t.length - 2)) + t + " " + mark(c.ok);
  };
  console.log(
    `${label.padEnd(48)}${target.padStart(9)} ${cells.map(pad).join("")}`,
  );
}

const v = (scenario, pick, okFn) => (rt) => {
  const r = get(scenario, rt);
  if (r === undefined) return null;
  if (r.error) return { error: r.error };
  if (r.skipped) return { text: "skipped" };
  const value = pick(r);
  return { text: value.text, ok: okFn ? okFn(value.raw, r) : undefined };
};
const num = (x, d = 0) => ({ text: fmt(x, d), raw: x });
const ratio = (x) => ({ text: `${fmt(x, 2)}×`, raw: x });

console.log("");
console.log(
  bold("RATIOS AND TARGETS".padEnd(48) + "target".padStart(9)) +
    bold(RT.map((r) => r.padStart(16)).join("")),
);
row(
  "1 hot path: kubeauth / raw fetch (req/s)",
  "≥ 0.95×",
  v("hot", (r) => ratio(r.ratio), (x) => x >= 0.95),
);
row(
  "  Node, Deno: kubeauth / node:https Agent (req/s)",
  "≥ 0.95×",
  (rt) =>
    rt === "bun" ? null : v(
      "hot",
      (r) => r.second === undefined ? { text: "–" } : ratio(r.second.ratio),
      (x) => x >= 0.95,
    )(rt),
);
row(
  "2 cold start ×500: plugin runs",
  "1",
  v("cold", (r) => num(r.pluginRunsMax), (x) => x === 1),
);
row(
  "  failures",
  "0",
  v("cold", (r) => num(r.failures), (x) => x === 0),
);
row(
  "  bare spawn + raw requests / kubeauth (time)",
  "",
  v("cold", (r) => ratio(r.ratio)),
);
row(
  "3 401 storm ×500: plugin runs",
  "1",
  v("storm", (r) => num(r.pluginRunsMax), (x) => x === 1),
);
row(
  "  failures",
  "0",
  v("storm", (r) => num(r.failures), (x) => x === 0),
);
row(
  "  valid-token burst / storm (time)",
  "",
  v("storm", (r) => ratio(r.ratio)),
);
row(
  "4 rotation soak (200 ms): failures",
  "0",
  v("soak", (r) => num(r.failures), (x) => x === 0),
);
row(
  "  stale-certificate requests",
  "0",
  v("soak", (r) => num(r.stale), (x) => x === 0),
);
row(
  "  old connections left open",
  "0",
  v("soak", (r) => num(r.oldOpen), (x) => x === 0),
);
row(
  "  req/s rotating / not rotating",
  "",
  v("soak", (r) => ratio(r.ratio)),
);
for (const [i, name] of ["token", "client cert"].entries()) {
  row(
    `5 exec acquisition, ${name}: kubeauth / bare`,
    "≤ 1.2×",
    v("exec", (r) => ratio(r.rows?.[i]?.ratio), (x) => x <= 1.2),
  );
}
row(
  "6 kubeauth / @kubernetes/client-node (req/s)",
  "≥ 10×",
  (rt) =>
    rt !== "node"
      ? null
      : v("client-node", (r) => ratio(r.ratio), (x) => x >= 10)(rt),
);
const cliRow = (rt) => {
  const name = {
    deno: "deno run -A src/cli.ts",
    bun: "bun src/cli.ts",
    node: "node (bundle)",
  }[rt];
  return S.cli?.error
    ? { error: S.cli.error }
    : S.cli?.variants?.find((x) => x.name === name);
};
row("7 CLI: kubectl time / kubeauth time", "", (rt) => {
  const c = cliRow(rt);
  if (!c) return null;
  if (c.error && !c.medianMs) return { error: c.error };
  return { text: c.vsKubectl === null ? "–" : `${fmt(c.vsKubectl, 2)}×` };
});
row("  CLI on Node: node dist/bin.js time / bun time", "≤ 2.5×", (rt) => {
  if (rt !== "node") return null;
  const c = S.cli?.variants?.find((x) => x.name === "node dist/bin.js") ??
    cliRow("node");
  if (c?.vsBun == null) return null;
  return { ...ratio(c.vsBun), ok: c.vsBun <= 2.5 };
});
row("  compiled Bun executable", "", (rt) => {
  if (rt !== "bun") return null;
  const c = S.cli?.variants?.find((x) => x.name.startsWith("compiled"));
  return c ? { text: `${fmt(c.vsKubectl, 2)}×` } : null;
});

const cacheRow = (pick, ok) => (rt) => {
  if (rt !== "bun" || !S.cache) return null; // one run, kubeauth compiled by Bun
  if (S.cache.error) return { error: S.cache.error };
  const x = pick(S.cache);
  return { text: `${fmt(x, 2)}×`, ok: ok(x) };
};
row(
  "8 kubectl time / with kubeauth cached",
  "≥ 3×",
  cacheRow((c) => c.wrappedRatio, (x) => x >= 3),
);
row(
  "  kubectl time / kubeauth fetch --cache",
  "≥ 5×",
  cacheRow((c) => c.fetchRatio, (x) => x >= 5),
);
row(
  "  … best with a zero-cost wrapper (measured floor)",
  "",
  (rt) =>
    rt === "bun" && S.cache?.bestWrappedRatio != null
      ? { text: `${fmt(S.cache.bestWrappedRatio, 2)}×` }
      : null,
);

console.log("");
console.log(
  bold("NUMBERS".padEnd(48) + "".padStart(9)) +
    bold(RT.map((r) => r.padStart(16)).join("")),
);
const pair = (a, b) => ({ text: `${fmt(a)} / ${fmt(b)}` });
const raw = (scenario, pick) => (rt) => {
  const r = get(scenario, rt);
  if (r === undefined) return null;
  if (r.error) return { error: r.error };
  if (r.skipped) return { text: "skipped" };
  return pick(r);
};
row(
  "1 req/s kubeauth / raw fetch",
  "",
  raw("hot", (r) => pair(r.kubeauthRps, r.rawRps)),
);
row(
  "  req/s of the pair above (kubeauth / other)",
  "",
  raw(
    "hot",
    (r) =>
      r.second === undefined
        ? { text: "" }
        : pair(r.second.leftRps, r.second.rightRps),
  ),
);
row(
  "  raw primitive",
  "",
  raw("hot", (r) => ({
    text: {
      "fetch + Deno.createHttpClient": "createHttpClient",
      "Bun.FetchSession": "FetchSession",
      "fetch + undici.Agent": "undici Agent",
    }[r.primitive] ?? r.primitive,
  })),
);
row(
  "2 ms to last response kubeauth / baseline",
  "",
  raw("cold", (r) => pair(r.kubeauthMs, r.baselineMs)),
);
row(
  "3 ms storm / same burst, valid token",
  "",
  raw("storm", (r) => pair(r.stormMs, r.baselineMs)),
);
row(
  "4 req/s rotating / not rotating",
  "",
  raw("soak", (r) => pair(r.rps, r.baselineRps)),
);
row(
  "  rotations / plugin runs",
  "",
  raw("soak", (r) => pair(r.rotations, r.pluginRuns)),
);
row(
  "  connections (server) / requests",
  "",
  raw("soak", (r) => pair(r.connections, r.requests)),
);
for (const [i, name] of ["token", "client cert"].entries()) {
  row(
    `5 exec ms, ${name}: kubeauth / bare (median)`,
    "",
    raw("exec", (r) => ({
      text: r.rows?.[i]
        ? `${fmt(r.rows[i].kubeauthMs, 2)} / ${fmt(r.rows[i].bareMs, 2)}`
        : "–",
    })),
  );
}
const cn = S["client-node"]?.node;
row(
  "6 req/s kubeauth / client-node",
  "",
  (rt) =>
    rt !== "node" || !cn
      ? null
      : cn.error
      ? { error: cn.error }
      : pair(cn.kubeauthRps, cn.clientNodeRps),
);
row(
  "  raw fetch+Agent / undici.request req/s",
  "",
  (rt) =>
    rt !== "node" || !cn || cn.error
      ? null
      : pair(cn.rawFetchRps, cn.undiciRequestRps),
);
row(
  "  connections kubeauth / client-node",
  "",
  (rt) =>
    rt !== "node" || !cn || cn.error
      ? null
      : pair(cn.kubeauthConnections, cn.clientNodeConnections),
);
row(
  "  plugin runs kubeauth / client-node",
  "",
  (rt) =>
    rt !== "node" || !cn || cn.error
      ? null
      : pair(cn.kubeauthPluginRuns, cn.clientNodePluginRuns),
);
const cnk = (pick) => raw("client-node-kubeauth", pick);
row(
  "10 client-node CoreV1Api via kubeauth / alone (req/s)",
  "",
  cnk((r) =>
    r.clientNodeRps === null
      ? { text: "alone fails" }
      : { text: `${fmt(r.viaKubeauthRps)} / ${fmt(r.clientNodeRps)}` }
  ),
);
row(
  "  handshakes in the hot rounds, via / alone",
  "",
  cnk((r) => pair(r.viaKubeauthHandshakes, r.clientNodeHandshakes)),
);
row(
  "  200 concurrent: plugin runs via / alone",
  "",
  cnk((r) => pair(r.coldViaKubeauth?.pluginRuns, r.coldClientNode?.pluginRuns)),
);
row(
  "  200 concurrent: failures via / alone",
  "",
  cnk((r) => pair(r.coldViaKubeauth?.failures, r.coldClientNode?.failures)),
);
for (const rt of RT) {
  const e = get("client-node-kubeauth", rt)?.clientNodeError;
  if (e) console.log(dim(`10 on ${rt}: client-node alone failed: ${e}`));
}
if (S.cli?.variants) {
  console.log(
    dim(
      `7 CLI, median wall ms over ${S.cli.runs} runs (each runs the exec plugin once):`,
    ),
  );
  for (const c of S.cli.variants) {
    console.log(
      `    ${c.name.padEnd(30)} ${fmt(c.medianMs, 1).padStart(8)} ms` +
        (c.vsKubectl !== null && c.name !== "kubectl"
          ? `   ${fmt(c.vsKubectl, 2)}× kubectl`
          : "") +
        (c.failures ? red(`   ${c.failures} failed: ${c.error}`) : ""),
    );
  }
}
if (S.cache && !S.cache.error) {
  const c = S.cache;
  console.log(
    dim(
      `8 cache, total ms for ${c.runs} sequential runs (plugin ${c.pluginDelayMs} ms; kubeauth ${c.kubeauth}):`,
    ),
  );
  console.log(
    `    kubectl ${fmt(c.kubectlMs)} / kubectl + kubeauth cached ${
      fmt(c.kubectlWrappedMs)
    } / kubeauth fetch --cache ${
      fmt(c.fetchCacheMs)
    }; plugin runs ${c.pluginRuns.kubectl} / ${c.pluginRuns.wrapped} / ${c.pluginRuns.fetch}`,
  );
  if (c.kubectlZeroCostPluginMs != null) {
    console.log(
      `    kubectl with a zero-cost plugin (cat) ${
        fmt(c.kubectlZeroCostPluginMs)
      }: a wrapper costing nothing would reach ${fmt(c.bestWrappedRatio, 2)}×`,
    );
  }
  if (c.wrappedWarmRunMs != null) {
    console.log(
      `    one run once the cache is warm (median ms): kubectl ${
        fmt(c.kubectlRunMs, 1)
      } / kubectl + kubeauth cached ${fmt(c.wrappedWarmRunMs, 1)} (${
        fmt(c.warmWrappedRatio, 2)
      }×) / kubeauth fetch --cache ${fmt(c.fetchWarmRunMs, 1)} (${
        fmt(c.warmFetchRatio, 2)
      }×); kubectl with the zero-cost plugin ${fmt(c.zeroCostPluginRunMs, 1)}`,
    );
  }
  if (c.wrapperBudgetMs != null) {
    console.log(
      `    what the targets leave per run: 3× a wrapper ${
        fmt(c.wrapperBudgetMs, 1)
      } ms (kubeauth cached costs ${
        fmt(c.wrapperCostMs, 1)
      }); 5× each cached fetch after the first ${
        fmt(c.fetchHitBudgetMs, 1)
      } ms (takes ${fmt(c.fetchWarmRunMs, 1)})`,
    );
  }
}
if (S.streams) {
  console.log(dim("9 streams (scripts/bench/streams.ts):"));
  for (const rt of RT) {
    const x = S.streams[rt];
    if (!x) continue;
    if (x.error) {
      console.log(red(`    ${rt.padEnd(5)} ${x.error}`));
      missed.push(`9 streams on ${rt}: ${x.error}`);
      continue;
    }
    const ok = x.ratio >= 0.5;
    if (!ok) {
      missed.push(
        `9 port-forward / direct TCP on ${rt}: ${
          fmt(x.ratio, 2)
        }× (target ≥ 0.5×)`,
      );
    }
    console.log(
      `    ${rt.padEnd(5)} port-forward ${
        fmt(x.portForwardMiBps, 1)
      } MiB/s vs direct TCP ${fmt(x.directMiBps, 1)} MiB/s = ${
        fmt(x.ratio, 2)
      }× ${mark(ok)}   exec 1-byte echo ${
        fmt(x.execEchoMedianMs, 2)
      } ms median`,
    );
  }
}
console.log(
  dim(
    "5: target and method are scripts/bench/exec.ts's own (a fresh authenticator per acquisition vs a bare spawn through the same adapter)",
  ),
);
if (cn?.shimmed?.length) {
  console.log(
    dim(
      `6: client-node 2.x needs Node ≥ 22.19 (undici 8); on ${machine.node} the bench supplied ${
        cn.shimmed.join(", ")
      }`,
    ),
  );
}

console.log("");
console.log(
  dim(
    `total ${results.totalSeconds} s; results in ${
      resultsFile.replace(root + "/", "")
    }`,
  ),
);
if (missed.length > 0) {
  console.log(red(`targets missed or failed (${missed.length}):`));
  for (const m of missed) console.log(red(`  ${m}`));
}
results.missed = missed;
writeFileSync(resultsFile, JSON.stringify(results, null, 2) + "\n");
