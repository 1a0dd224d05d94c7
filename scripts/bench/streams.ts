/**
 * Benchmark: streams over WebSockets. (1) port-forward throughput: bytes
 * echoed through `portForward` (client → WebSocket → test cluster → local
 * TCP echo server and back) against a direct TCP connection to the same
 * echo server, same volume, same process, interleaved rounds; target
 * kubeauth ≥ 0.5× direct. (2) exec round trip: one byte written to `cat`'s
 * stdin through `execInPod` until it comes back on stdout (median ms).
 *
 * Run from the repository root: `deno run -A scripts/bench/streams.ts`,
 * `bun scripts/bench/streams.ts`, or Node via an esbuild bundle (main.mjs
 * does it). `--mib N` (default 32) per round, `--rounds N` (default 5),
 * `--echoes N` (default 200). Prints `BENCH_RESULT {json}` last.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import type { AddressInfo, Socket } from "node:net";
import process from "node:process";
import { createAuthedFetch } from "../../src/fetch/authed_fetch.ts";
import { detectRuntime } from "../../src/runtime/detect.ts";
import { execInPod } from "../../src/streams/exec.ts";
import { portForward } from "../../src/streams/port_forward.ts";
import { startCluster } from "../../tests/support/cluster.ts";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const MIB = arg("mib", 32);
const ROUNDS = arg("rounds", 5);
const ECHOES = arg("echoes", 200);
const CHUNK = 64 * 1024;
const total = MIB * 1024 * 1024;
const chunk = new Uint8Array(CHUNK).fill(7);

const sockets = new Set<Socket>();
const echo = createServer((s) => {
  sockets.add(s);
  s.on("close", () => sockets.delete(s));
  s.on("error", () => {});
  s.pipe(s);
});
await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
const echoPort = (echo.address() as AddressInfo).port;
const cluster = await startCluster({ tokens: { "bench": "bench" } });
const kube = await createAuthedFetch({
  kubeconfig: {
    apiVersion: "v1",
    kind: "Config",
    "current-context": "b",
    clusters: [{
      name: "b",
      cluster: {
        server: cluster.url,
        "certificate-authority-data": btoa(cluster.caPem),
      },
    }],
    users: [{ name: "b", user: { token: "bench" } }],
    contexts: [{ name: "b", context: { cluster: "b", user: "b" } }],
  } as never,
});

/** Writes `total` bytes and reads them back; returns seconds. */
async function pump(
  readable: ReadableStream<Uint8Array>,
  writable: WritableStream<Uint8Array>,
): Promise<number> {
  const t0 = performance.now();
  const writing = (async () => {
    const w = writable.getWriter();
    for (let sent = 0; sent < total; sent += CHUNK) await w.write(chunk);
    w.releaseLock();
  })();
  let got = 0;
  const r = readable.getReader();
  while (got < total) {
    const { value, done } = await r.read();
    if (done) throw new Error(`stream ended after ${got} bytes`);
    got += value.length;
  }
  r.releaseLock();
  await writing;
  return (performance.now() - t0) / 1000;
}

async function direct(): Promise<number> {
  const s = connect(echoPort, "127.0.0.1");
  await new Promise((r) => s.once("connect", r));
  const readable = new ReadableStream<Uint8Array>({
    start(c) {
      s.on("data", (d: Uint8Array) => c.enqueue(new Uint8Array(d)));
      s.on("end", () => c.close());
    },
  });
  const writable = new WritableStream<Uint8Array>({
    write: (c) =>
      new Promise<void>((res, rej) => s.write(c, (e) => e ? rej(e) : res())),
  });
  try {
    return await pump(readable, writable);
  } finally {
    s.destroy();
  }
}

async function forwarded(): Promise<number> {
  const c = await portForward(kube, { pod: "bench", port: echoPort });
  try {
    return await pump(c.readable, c.writable);
  } finally {
    c.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
/** The test cluster process's CPU ms so far (Linux /proc; NaN elsewhere). */
function serverCpuMs(): number {
  try {
    const stat = readFileSync(`/proc/${cluster.pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, 100 Hz ticks
  } catch {
    return NaN;
  }
}
/**
 * One timed transfer: MiB/s, and CPU ms per MiB of this process (client
 * and echo server) and of the test cluster (the WebSocket server).
 */
async function measure(run: () => Promise<number>) {
  const cpu0 = process.cpuUsage();
  const server0 = serverCpuMs();
  const seconds = await run();
  const cpu = process.cpuUsage(cpu0);
  return {
    rate: MIB / seconds,
    cpuMs: (cpu.user + cpu.system) / 1000 / MIB,
    serverMs: (serverCpuMs() - server0) / MIB,
  };
}
const rounds: { direct: number; forward: number; ratio: number }[] = [];
const cpu = { direct: [] as number[], forward: [] as number[] };
const serverCpu: number[] = [];
await direct(); // warm-up, both paths
await forwarded();
for (let i = 0; i < ROUNDS; i++) {
  console.error(`round ${i + 1}: direct, port-forward`);
  const d = await measure(direct);
  const f = await measure(forwarded);
  rounds.push({ direct: d.rate, forward: f.rate, ratio: f.rate / d.rate });
  cpu.direct.push(d.cpuMs);
  cpu.forward.push(f.cpuMs);
  serverCpu.push(f.serverMs);
}
console.error("exec echo");

const session = await execInPod(kube, {
  pod: "bench",
  command: ["cat"],
  stdin: true,
});
const w = session.stdin!.getWriter();
const r = session.stdout.getReader();
const trips: number[] = [];
for (let i = 0; i < ECHOES + 10; i++) {
  const t0 = performance.now();
  await w.write(new Uint8Array([65]));
  await r.read();
  if (i >= 10) trips.push(performance.now() - t0);
}
await w.close();
await session.exited;

const result = {
  runtime: detectRuntime(),
  mibPerRound: MIB,
  rounds: ROUNDS,
  directMiBps: median(rounds.map((r) => r.direct)),
  portForwardMiBps: median(rounds.map((r) => r.forward)),
  // Each round pairs a direct and a forwarded transfer run back to back:
  // the median of the per-round ratios cancels most of the machine's drift.
  ratio: median(rounds.map((r) => r.ratio)),
  ratios: rounds.map((r) => Number(r.ratio.toFixed(2))),
  clientCpuMsPerMiB: {
    direct: Number(median(cpu.direct).toFixed(2)),
    portForward: Number(median(cpu.forward).toFixed(2)),
  },
  serverCpuMsPerMiB: Number(median(serverCpu).toFixed(2)),
  execEchoMedianMs: median(trips),
  execEchoP90Ms:
    [...trips].sort((a, b) => a - b)[Math.floor(trips.length * 0.9)],
};
console.log(
  `${result.runtime}: port-forward ${
    result.portForwardMiBps.toFixed(1)
  } MiB/s vs direct ${result.directMiBps.toFixed(1)} MiB/s (${
    result.ratio.toFixed(2)
  }×); exec 1-byte echo ${result.execEchoMedianMs.toFixed(2)} ms median`,
);
console.log(`BENCH_RESULT ${JSON.stringify(result)}`);
await kube.close();
for (const s of sockets) s.destroy();
await new Promise((res) => echo.close(res));
await cluster.close();
