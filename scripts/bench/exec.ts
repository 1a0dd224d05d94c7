/**
 * Benchmark: credential acquisition through kubeauth's exec authenticator
 * (a fresh authenticator per iteration: spawn, read, decode, validate,
 * cache) against a bare spawn-and-read of the same plugin through the same
 * runtime adapter (spawn, read stdout, drain stderr, wait, JSON.parse), in
 * the same process, interleaved. Target: kubeauth ≤ 1.2× bare.
 *
 * Run from the repository root:
 *
 * ```sh
 * deno run -A scripts/bench/exec.ts
 * bun scripts/bench/exec.ts
 * node_modules/.bin/esbuild scripts/bench/exec.ts --bundle --platform=node \
 *   --format=esm --packages=external --outfile=.cache/bench_exec.mjs \
 *   && node .cache/bench_exec.mjs
 * ```
 *
 * `BENCH_ITERATIONS` (default 30) sets the number of measured iterations.
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { ExecAuthenticator } from "../../src/exec/authenticator.ts";
import { encodeExecInfo } from "../../src/exec/protocol.ts";
import { detectRuntime } from "../../src/runtime/detect.ts";
import { getRuntimeAdapter } from "../../src/runtime/mod.ts";
import type { RuntimeAdapter } from "../../src/runtime/types.ts";

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? "30");
const WARMUP = 3;
const PLUGIN = join(process.cwd(), "testdata", "plugins", "test_plugin.sh");
const API = "client.authentication.k8s.io/v1beta1";

async function bare(
  adapter: RuntimeAdapter,
  env: Record<string, string>,
): Promise<unknown> {
  const child = await adapter.spawn({
    command: PLUGIN,
    args: [],
    env,
    stdin: "null",
    stderr: "piped",
  });
  const drain = async (s: ReadableStream<Uint8Array> | null) => {
    const chunks: Uint8Array[] = [];
    if (s) { for await (const c of s) chunks.push(c); }
    return chunks;
  };
  const [out] = await Promise.all([
    drain(child.stdout),
    drain(child.stderr),
    child.status,
  ]);
  let size = 0;
  for (const c of out) size += c.byteLength;
  const all = new Uint8Array(size);
  let off = 0;
  for (const c of out) {
    all.set(c, off);
    off += c.byteLength;
  }
  return JSON.parse(new TextDecoder().decode(all));
}

async function viaKubeauth(
  adapter: RuntimeAdapter,
  output: string,
): Promise<unknown> {
  const auth = new ExecAuthenticator(
    {
      command: PLUGIN,
      apiVersion: API,
      env: [{ name: "TEST_OUTPUT", value: output }],
    },
    undefined,
    { adapter },
  );
  try {
    return await auth.get();
  } finally {
    await auth.close();
  }
}

function stats(ms: number[]): { median: number; mean: number; p90: number } {
  const s = [...ms].sort((a, b) => a - b);
  return {
    median: s[Math.floor(s.length / 2)],
    mean: s.reduce((a, b) => a + b, 0) / s.length,
    p90: s[Math.min(s.length - 1, Math.floor(s.length * 0.9))],
  };
}

async function scenario(
  adapter: RuntimeAdapter,
  name: string,
  output: string,
): Promise<string[]> {
  const env = {
    ...adapter.env(),
    TEST_OUTPUT: output,
    KUBERNETES_EXEC_INFO: encodeExecInfo({
      apiVersion: API,
      interactive: false,
    }),
  };
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < WARMUP + ITERATIONS; i++) {
    // Interleaved (alternating order) so drift hits both sides alike.
    const order = i % 2 === 0 ? ["bare", "kubeauth"] : ["kubeauth", "bare"];
    for (const which of order) {
      const t = performance.now();
      if (which === "bare") await bare(adapter, env);
      else await viaKubeauth(adapter, output);
      const dt = performance.now() - t;
      if (i >= WARMUP) (which === "bare" ? a : b).push(dt);
    }
  }
  const sa = stats(a);
  const sb = stats(b);
  const f = (n: number) => n.toFixed(2).padStart(8);
  return [
    `${name.padEnd(22)} bare      ${f(sa.median)} ${f(sa.mean)} ${f(sa.p90)}`,
    `${"".padEnd(22)} kubeauth  ${f(sb.median)} ${f(sb.mean)} ${
      f(sb.p90)
    }   ratio (median) ${(sb.median / sa.median).toFixed(2)}×  (mean) ${
      (sb.mean / sa.mean).toFixed(2)
    }×`,
  ];
}

const adapter = await getRuntimeAdapter();
const dir = mkdtempSync(join(tmpdir(), "kubeauth-bench-"));
let certOutput: string;
try {
  const ossl = (...args: string[]) =>
    execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  ossl(
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-out",
    "k.pem",
  );
  ossl(
    "req",
    "-x509",
    "-new",
    "-key",
    "k.pem",
    "-out",
    "c.pem",
    "-subj",
    "/CN=bench",
    "-days",
    "1",
  );
  certOutput = JSON.stringify({
    kind: "ExecCredential",
    apiVersion: API,
    status: {
      clientCertificateData: readFileSync(join(dir, "c.pem"), "utf8"),
      clientKeyData: readFileSync(join(dir, "k.pem"), "utf8"),
      expirationTimestamp: new Date(Date.now() + 3600_000).toISOString(),
    },
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const tokenOutput = JSON.stringify({
  kind: "ExecCredential",
  apiVersion: API,
  status: {
    token: "bench-token",
    expirationTimestamp: new Date(Date.now() + 3600_000).toISOString(),
  },
});

console.log(
  `runtime ${detectRuntime()}, ${ITERATIONS} iterations (+${WARMUP} warm-up), ms per credential acquisition`,
);
console.log(
  `${"scenario".padEnd(22)} method    ${"median".padStart(8)} ${
    "mean".padStart(8)
  } ${"p90".padStart(8)}`,
);
for (const line of await scenario(adapter, "token", tokenOutput)) {
  console.log(line);
}
for (
  const line of await scenario(adapter, "client cert (P-256)", certOutput)
) {
  console.log(line);
}
