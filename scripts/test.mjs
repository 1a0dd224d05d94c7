#!/usr/bin/env node
// Runs the static checks, then the one test suite on Deno, Bun and Node 20,
// prints each runtime's result and ends with one line `N passed, N failed`.
// Exit code 1 when anything failed. Usage:
//   node scripts/test.mjs                 checks + all three runtimes
//   node scripts/test.mjs --checks-only   deno fmt/lint/doc/publish/check, doc
//                                         examples and tsc checks only
//   node scripts/test.mjs --only deno,bun tests/foo_test.ts   a subset
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const argv = process.argv.slice(2);
const checksOnly = argv.includes("--checks-only");
const onlyIdx = argv.indexOf("--only");
const only = onlyIdx >= 0 ? argv[onlyIdx + 1].split(",") : null;
const fileArgs = argv.filter((a, i) =>
  a.endsWith(".ts") && !(onlyIdx >= 0 && i === onlyIdx + 1)
);
const testFiles = fileArgs.length > 0
  ? fileArgs
  : readdirSync(join(root, "tests"))
    .filter((f) => f.endsWith("_test.ts"))
    .sort()
    .map((f) => join("tests", f));

// One test may take at most this long (node --test-timeout, bun --timeout);
// a suite printing nothing for IDLE_KILL_MS is killed (Deno has no
// per-test timeout flag: its last line names the test that hung).
const TEST_TIMEOUT_MS = 120_000;
const IDLE_KILL_MS = 150_000;

/**
 * Runs a command, streaming its output, and returns {code, out}. With
 * `opts.idleMs`, kills it after that long without output and says so.
 */
function run(cmd, args, opts = {}) {
  return new Promise((done) => {
    const child = spawn(cmd, args, {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, FORCE_COLOR: "0", NO_COLOR: "1", ...opts.env },
    });
    let out = "";
    let idle;
    const watch = () => {
      if (!opts.idleMs) return;
      clearTimeout(idle);
      idle = setTimeout(() => {
        const last = out.trimEnd().split("\n").at(-1);
        const note = `\n${cmd} printed nothing for ${
          opts.idleMs / 1000
        } s: killed. Hung at: ${last}\n`;
        out += note;
        process.stderr.write(note);
        child.kill("SIGKILL");
      }, opts.idleMs);
    };
    watch();
    const onData = (stream) => (chunk) => {
      out += chunk.toString();
      if (!opts.quiet) stream.write(chunk);
      watch();
    };
    child.stdout.on("data", onData(process.stdout));
    child.stderr.on("data", onData(process.stderr));
    child.on("close", (code, signal) => {
      clearTimeout(idle);
      done({ code: code ?? 1, signal, out });
    });
  });
}

/** True when this Node is older than major.minor. */
function nodeBelow(major, minor) {
  const [a, b] = process.versions.node.split(".").map(Number);
  return a < major || (a === major && b < minor);
}

const results = [];
let passed = 0;
let failed = 0;

async function check(name, cmd, args) {
  const r = await run(cmd, args, { quiet: true });
  const ok = r.code === 0;
  if (!ok) process.stdout.write(r.out);
  console.log(`check ${name}: ${ok ? "ok" : "FAILED"}`);
  if (ok) passed++;
  else failed++;
  results.push({ name: `check ${name}`, ok });
}

function count(re, text) {
  let n = 0;
  for (const m of text.matchAll(re)) n = Number(m[1]);
  return n;
}

async function suite(name, cmd, args, parse, env) {
  console.log(
    `\n===== ${name}: ${[cmd, ...args].join(" ").replace(root + "/", "")}`,
  );
  const started = Date.now();
  const r = await run(cmd, args, { env, idleMs: IDLE_KILL_MS });
  const { pass, fail } = parse(r.out);
  const ok = r.code === 0 && fail === 0 && pass > 0;
  const extraFail = ok || fail > 0 ? 0 : 1; // a crash with no counted failure still fails
  passed += pass;
  failed += fail + extraFail;
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  const line = `${name}: ${pass} passed, ${
    fail + extraFail
  } failed (exit ${r.code}, ${secs}s)`;
  results.push({ name, ok, line });
  console.log(`===== ${line}`);
}

if (!only) {
  const deno = bin("deno");
  await check("deno fmt", deno, ["fmt", "--check"]);
  await check("deno lint", deno, ["lint"]);
  await check("deno doc --lint", deno, [
    "doc",
    "--lint",
    "mod.ts",
    "src/runtime/mod.ts",
    "src/cli.ts",
    "src/integrations/client_node.ts",
    "src/integrations/cloudydeno.ts",
  ]);
  await check("deno publish --dry-run", deno, [
    "publish",
    "--dry-run",
    "--allow-dirty",
  ]);
  // tests/ and scripts/ run with --no-check: type-check them once here.
  await check("deno check tests/ scripts/", deno, [
    "check",
    "tests/",
    "scripts/",
  ]);
  await check("tsc scripts (.mjs)", bin("tsc"), [
    "-p",
    "tsconfig.scripts.json",
  ]);
  // Every ```ts example in the docs runs and asserts what it shows.
  await check("deno test --doc", deno, [
    "test",
    "--doc",
    "-A",
    "mod.ts",
    "src/",
  ]);
  // Erasable syntax only + isolated declarations (what Node's type stripping
  // and JSR's no-slow-types need), checked by tsc on the public entry points.
  await check("tsc declarations", bin("tsc"), [
    "-p",
    "tsconfig.build.json",
    "--outDir",
    ".cache/tsc-check",
  ]);
}

if (!checksOnly) {
  const want = (r) => !only || only.includes(r);
  if (want("deno")) {
    await suite(
      "deno",
      bin("deno"),
      ["test", "-A", "--no-check", ...testFiles],
      (out) => ({
        pass: count(/(\d+) passed/g, out),
        fail: count(/(\d+) failed/g, out),
      }),
    );
  }
  if (want("bun")) {
    await suite("bun", bin("bun"), [
      "test",
      "--timeout",
      String(TEST_TIMEOUT_MS),
      ...testFiles.map((f) => "./" + f),
    ], (out) => ({
      pass: count(/^\s*(\d+) pass$/gm, out),
      fail: count(/^\s*(\d+) fail$/gm, out),
    }));
  }
  if (want("node")) {
    // Node 20 cannot strip types: bundle each test file with esbuild first.
    const outdir = join(root, ".cache", `node-tests-${process.pid}`);
    rmSync(outdir, { recursive: true, force: true });
    mkdirSync(outdir, { recursive: true });
    const b = await run(bin("esbuild"), [
      ...testFiles,
      "--bundle",
      "--platform=node",
      "--format=esm",
      "--target=node20",
      "--packages=external",
      "--log-level=warning",
      `--outdir=${outdir}`,
      "--out-extension:.js=.mjs",
      // @kubernetes/client-node 2.x needs Node >= 22.19: test 1.x below.
      ...(nodeBelow(22, 19)
        ? ["--alias:@kubernetes/client-node=client-node-1"]
        : []),
    ]);
    if (b.code !== 0) {
      failed++;
      results.push({
        name: "node",
        ok: false,
        line: "node: esbuild bundling failed",
      });
    } else {
      const bundled = readdirSync(outdir).filter((f) => f.endsWith(".mjs"))
        .sort()
        .map((f) => join(outdir, f));
      await suite("node", process.execPath, [
        "--test",
        `--test-timeout=${TEST_TIMEOUT_MS}`,
        "--test-reporter=spec",
        "--test-concurrency=2",
        ...bundled,
      ], (out) => ({
        pass: count(/^ℹ pass (\d+)$/gm, out),
        fail: count(/^ℹ fail (\d+)$/gm, out) +
          count(/^ℹ cancelled (\d+)$/gm, out), // timed out
      }));
      rmSync(outdir, { recursive: true, force: true });
    }
  }
}

console.log("\n===== summary");
for (const r of results) if (r.line) console.log(r.line);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
