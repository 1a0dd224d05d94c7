/**
 * The kubeauth demo: `npm run demo` / `deno task demo`
 * (= `deno run -A scripts/demo/main.ts`), also `bun scripts/demo/main.ts`.
 *
 * It starts the embedded demo cluster (a real HTTPS server on 127.0.0.1 that
 * authenticates by client certificate or Bearer token), writes a temporary
 * kubeconfig whose user runs the demo exec plugin (each run mints a client
 * certificate valid for a few seconds), and sends requests through
 * `createAuthedFetch` for about 20 s from a few concurrent workers plus one
 * long `?watch=true` stream. The live log shows every plugin run, every
 * certificate rotation, the connections as the SERVER saw them open and
 * close, and a sample of which identity requests carried; the summary
 * checks, against the server's own records, that:
 *
 * - no request failed;
 * - no request that started after a rotation reached the server on a
 *   connection with an older certificate (stale-cert requests);
 * - no connection of an old certificate is left open.
 *
 * Exit code 0 only when all three are 0 (1 otherwise, 130 on Ctrl-C).
 *
 * ```sh
 * deno run -A scripts/demo/main.ts [--seconds 20] [--quiet]
 *     [--ttl 4] [--workers 4] [--drain-ms 10000]
 * ```
 *
 * On Node: bundle it first (`npx esbuild scripts/demo/main.ts --bundle
 * --platform=node --format=esm --packages=external --outfile=.cache/demo.mjs`)
 * and run `node .cache/demo.mjs` from the repo root.
 *
 * @module
 */
import process from "node:process";
import { createAuthedFetch } from "../../mod.ts";
import type { AuthedFetch } from "../../mod.ts";
import {
  demoPluginExec,
  makeTempDir,
  pluginRuns,
  startCluster,
  writeKubeconfig,
} from "../../tests/support/cluster.ts";
import type { ServerEvent, TestCluster } from "../../tests/support/cluster.ts";
import { cnOf, RotationAudit } from "./audit.ts";
import type { AuditResult } from "./audit.ts";

// ---------------------------------------------------------------- arguments

interface Args {
  seconds: number;
  quiet: boolean;
  ttl: number;
  workers: number;
  drainMs: number;
}

const USAGE = `Usage: deno run -A scripts/demo/main.ts [options]

  --seconds N    how long to send requests (default 20)
  --quiet        print only the header and the summary
  --ttl N        client-certificate lifetime in seconds (default 4)
  --workers N    concurrent request loops (default 4)
  --drain-ms N   drain deadline of an old certificate's connections (default 10000)`;

function parseArgs(argv: string[]): Args {
  const args: Args = {
    seconds: 20,
    quiet: false,
    ttl: 4,
    workers: 4,
    drainMs: 10_000,
  };
  const num = (i: number, name: string, min: number): number => {
    const v = Number(argv[i + 1]);
    if (!Number.isFinite(v) || v < min) {
      throw new Error(`${name} needs a number >= ${min}`);
    }
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--seconds") args.seconds = num(i++, a, 1);
    else if (a === "--ttl") args.ttl = num(i++, a, 2);
    else if (a === "--workers") args.workers = Math.floor(num(i++, a, 1));
    else if (a === "--drain-ms") args.drainMs = num(i++, a, 0);
    else if (a === "--quiet" || a === "-q") args.quiet = true;
    else if (a === "--help" || a === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument ${a}\n${USAGE}`);
  }
  return args;
}

// ---------------------------------------------------------------- output

const useColor = !!process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: string) => (s: string) =>
  useColor ? `\x1b[${code}m${s}\x1b[0m` : s;
const dim = paint("2");
const bold = paint("1");
const red = paint("31");
const green = paint("32");
const yellow = paint("33");
const blue = paint("34");
const magenta = paint("35");
const cyan = paint("36");

const KIND_COLOR: Record<string, (s: string) => string> = {
  plugin: magenta,
  rotated: (s) => bold(yellow(s)),
  client: cyan,
  server: blue,
  request: green,
  watch: cyan,
  error: (s) => bold(red(s)),
  info: dim,
};

let t0 = Date.now();
let quiet = false;

/** One log line: time since start (from `at`, epoch ms), kind, detail. */
function log(kind: string, detail: string, at = Date.now()): void {
  if (quiet && kind !== "error") return;
  const t = ((at - t0) / 1000).toFixed(3).padStart(7);
  const k = (KIND_COLOR[kind] ?? String)(kind.padEnd(8));
  console.log(`${dim(t)}  ${k} ${detail}`);
}

function fmtInt(n: number): string {
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, " ");
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });

// ---------------------------------------------------------------- state

interface State {
  audit: RotationAudit;
  requests: number;
  failures: number;
  failureSamples: string[];
  pluginRuns: number;
  /** The newest /echo answer, for the once-a-second sample. */
  lastEcho: { user: string; authScheme: string; conn: number } | null;
  /** Requests completed since the last sample. */
  sinceSample: number;
  watchStreams: number;
  watchEvents: number;
  /** Generation id → epoch ms of its retirement. */
  retiredAt: Map<number, number>;
  longestDrainMs: number;
  forcedDrains: number;
}

function newState(): State {
  return {
    audit: new RotationAudit(),
    requests: 0,
    failures: 0,
    failureSamples: [],
    pluginRuns: 0,
    lastEcho: null,
    sinceSample: 0,
    watchStreams: 0,
    watchEvents: 0,
    retiredAt: new Map(),
    longestDrainMs: 0,
    forcedDrains: 0,
  };
}

function fail(state: State, what: string): void {
  state.failures++;
  if (state.failureSamples.length < 5) state.failureSamples.push(what);
  log("error", what);
}

// ---------------------------------------------------------------- library events

function onLibraryEvent(
  state: State,
  e: { type: string; [key: string]: unknown },
): void {
  switch (e.type) {
    case "plugin-run": {
      state.pluginRuns++;
      const ms = Number(e.durationMs ?? 0).toFixed(0);
      const ok = e.ok === false ? red(`FAILED (exit ${e.exitCode})`) : "ok";
      log("plugin", `run ${state.pluginRuns}: ${ms} ms, ${ok}`);
      break;
    }
    case "credentials-rotated": {
      const r = state.audit.onEvent(e);
      if (r === null) break;
      const exp = e.expiresAt instanceof Date
        ? e.expiresAt.getTime()
        : typeof e.expiresAt === "string" || typeof e.expiresAt === "number"
        ? new Date(e.expiresAt).getTime()
        : NaN;
      const expiry = Number.isFinite(exp)
        ? `, expires in ${((exp - Date.now()) / 1000).toFixed(1)} s`
        : "";
      log("rotated", `${r.before ?? "(none)"} → ${bold(r.after)}${expiry}`);
      break;
    }
    case "warning":
      log("plugin", yellow(`warning: ${e.message}`));
      break;
    case "transport-created": {
      const who = cnOf(e.subject);
      log(
        "client",
        `transport #${e.generation} created${who ? ` for ${who}` : ""}`,
      );
      break;
    }
    case "transport-retired": {
      state.retiredAt.set(Number(e.generation), Date.now());
      const n = Number(e.inFlight ?? 0);
      log(
        "client",
        `transport #${e.generation} retired, ${n} request${
          n === 1 ? "" : "s"
        } in flight left to finish`,
      );
      break;
    }
    case "transport-closed": {
      const since = state.retiredAt.get(Number(e.generation));
      const drained = since === undefined ? 0 : Date.now() - since;
      if (since !== undefined) {
        state.longestDrainMs = Math.max(state.longestDrainMs, drained);
      }
      if (e.forced === true) state.forcedDrains++;
      log(
        "client",
        `transport #${e.generation} closed${
          since === undefined ? "" : ` after draining ${drained} ms`
        }${e.forced === true ? yellow(" (forced)") : ""}`,
      );
      break;
    }
  }
}

// ---------------------------------------------------------------- server events

async function followServer(
  cluster: TestCluster,
  stop: AbortSignal,
): Promise<void> {
  const openedAt = new Map<number, number>();
  let since = 0;
  while (!stop.aborted) {
    let batch: { seq: number; events: ServerEvent[] };
    try {
      batch = await cluster.events(since, 400);
    } catch (err) {
      if (!stop.aborted) log("error", `server event feed: ${err}`);
      return;
    }
    since = batch.seq;
    for (const e of batch.events) {
      const cn = e.cn ?? (e.authorized ? "?" : "no client cert");
      if (e.type === "connection-opened") {
        openedAt.set(e.conn, e.at);
        log("server", `conn #${e.conn} opened CN=${cn}`, e.at);
      } else {
        const opened = openedAt.get(e.conn);
        openedAt.delete(e.conn);
        const life = opened === undefined
          ? ""
          : `, open ${((e.at - opened) / 1000).toFixed(1)} s`;
        log(
          "server",
          `conn #${e.conn} closed   CN=${cn}, ${
            fmtInt(e.requests)
          } requests${life}`,
          e.at,
        );
      }
    }
  }
}

// ---------------------------------------------------------------- workload

const PATHS = [
  "/echo",
  "/echo",
  "/version",
  "/echo",
  "/api/v1/namespaces",
  "/echo",
];

async function worker(
  kube: AuthedFetch,
  state: State,
  w: number,
  stop: AbortSignal,
): Promise<void> {
  for (let n = 0; !stop.aborted; n++) {
    const id = `w${w}-${n}`;
    const review = n % 25 === 24;
    const path = review
      ? "/apis/authentication.k8s.io/v1/selfsubjectreviews"
      : PATHS[n % PATHS.length];
    state.audit.begin(id);
    state.requests++;
    try {
      const res = await kube(
        path,
        review
          ? {
            method: "POST",
            headers: {
              "x-request-id": id,
              "content-type": "application/json",
            },
            body: JSON.stringify({
              apiVersion: "authentication.k8s.io/v1",
              kind: "SelfSubjectReview",
            }),
          }
          : { headers: { "x-request-id": id } },
      );
      const text = await res.text();
      if (!res.ok) {
        let msg = text.slice(0, 120);
        try {
          msg = JSON.parse(text).message ?? msg;
        } catch { /* not JSON */ }
        fail(state, `${path} → ${res.status} ${msg}`);
        continue;
      }
      state.sinceSample++;
      if (path === "/echo") {
        const echo = JSON.parse(text);
        state.lastEcho = {
          user: echo.user,
          authScheme: echo.authScheme,
          conn: echo.conn,
        };
      }
    } catch (err) {
      fail(state, `${path} → ${(err as Error)?.message ?? err}`);
    }
  }
}

/** One long watch at a time; each spans a rotation, so it has to drain. */
async function watcher(
  kube: AuthedFetch,
  state: State,
  stop: AbortSignal,
  streamMs: number,
): Promise<void> {
  const intervalMs = 500;
  const count = Math.max(2, Math.round(streamMs / intervalMs));
  while (!stop.aborted) {
    const id = `watch-${++state.watchStreams}`;
    state.audit.begin(id);
    state.requests++;
    const started = Date.now();
    let startCn: string | null = null;
    let events = 0;
    try {
      const res = await kube(
        `/api/v1/namespaces/default/pods?watch=true&intervalMs=${intervalMs}&count=${count}`,
        { headers: { "x-request-id": id }, signal: stop },
      );
      if (!res.ok) {
        fail(state, `watch → ${res.status}`);
        await res.body?.cancel();
        await sleep(500, stop);
        continue;
      }
      startCn = state.audit.currentCnName;
      log(
        "watch",
        `stream ${state.watchStreams} opened with ${
          state.audit.currentCnName ?? "?"
        } (${count} events, ${(count * intervalMs / 1000).toFixed(0)} s)`,
      );
      const reader = res.body!.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const nl = new TextDecoder().decode(value).split("\n")
          .filter((l) => l.trim() !== "").length;
        events += nl;
        state.watchEvents += nl;
      }
      const held = startCn !== state.audit.currentCnName
        ? `; it kept ${startCn}'s connection open past the rotation, which lets it close now`
        : "";
      log(
        "watch",
        `stream ${state.watchStreams} ended after ${events} events, ${
          ((Date.now() - started) / 1000).toFixed(1)
        } s${held}`,
      );
    } catch (err) {
      if (stop.aborted) return;
      // A forced drain (--drain-ms shorter than a stream) cuts it: re-watch,
      // as an informer would.
      log(
        "watch",
        yellow(
          `stream ${state.watchStreams} cut after ${events} events: ${
            (err as Error)?.message ?? err
          }; re-watching`,
        ),
      );
    }
  }
}

async function sampler(state: State, stop: AbortSignal): Promise<void> {
  let last = Date.now();
  while (!stop.aborted) {
    await sleep(1000, stop);
    if (stop.aborted) return;
    const now = Date.now();
    const rate = state.sinceSample / ((now - last) / 1000);
    state.sinceSample = 0;
    last = now;
    const e = state.lastEcho;
    state.lastEcho = null;
    if (e === null) continue;
    const via = e.authScheme === "cert" ? "client cert" : e.authScheme;
    log(
      "request",
      `GET /echo → 200 as ${e.user} (${via}) on conn #${e.conn}   ${
        dim(`${fmtInt(rate)} req/s`)
      }`,
    );
  }
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    return 2;
  }
  quiet = args.quiet;
  const state = newState();
  const stop = new AbortController();
  let interrupted = false;
  const cleanups: (() => Promise<void>)[] = [];
  const onSigint = () => {
    if (interrupted) {
      console.error("interrupted twice: exiting now");
      process.exit(130);
    }
    interrupted = true;
    console.error(dim("\ninterrupted: stopping and cleaning up…"));
    stop.abort();
  };
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigint);

  let cluster: TestCluster | undefined;
  let kube: AuthedFetch | undefined;
  try {
    cluster = await startCluster({ requireClientCert: false });
    const c = cluster;
    cleanups.push(() => c.close());
    const tmp = await makeTempDir("kubeauth-demo-");
    cleanups.push(() => tmp.remove());
    const exec = demoPluginExec({
      stateDir: tmp.path,
      caDir: cluster.dir,
      mode: "cert",
      ttlSeconds: args.ttl,
      extraArgs: ["--silent"], // its stderr line would break the columns
    });
    const kubeconfigPath = await writeKubeconfig(tmp.path, {
      apiVersion: "v1",
      kind: "Config",
      "current-context": "demo",
      clusters: [{
        name: "demo",
        cluster: {
          server: cluster.url,
          "certificate-authority-data": btoa(cluster.caPem),
        },
      }],
      users: [{ name: "demo", user: { exec } }],
      contexts: [{ name: "demo", context: { cluster: "demo", user: "demo" } }],
    });

    const runtime = typeof (globalThis as { Deno?: unknown }).Deno === "object"
      ? "Deno"
      : typeof (globalThis as { Bun?: unknown }).Bun === "object"
      ? "Bun"
      : "Node";
    console.log(bold("kubeauth demo") + dim(` (${runtime})`));
    console.log(
      `  cluster     ${cluster.url}  (TLS; authenticates by client certificate or Bearer token)`,
    );
    console.log(
      `  kubeconfig  ${kubeconfigPath}  (exec plugin: a new client certificate valid ${args.ttl} s per run)`,
    );
    console.log(
      `  workload    ${args.workers} request loops + 1 watch stream for ${args.seconds} s; old connections drain up to ${args.drainMs} ms`,
    );
    console.log("");
    if (!quiet) console.log(dim("   time  what     detail"));

    if (stop.signal.aborted) return 130;
    t0 = Date.now();
    const events = followServer(cluster, stop.signal);
    kube = await createAuthedFetch({
      kubeconfig: kubeconfigPath,
      drainTimeoutMs: args.drainMs,
      onEvent: (e) => onLibraryEvent(state, e as unknown as { type: string }),
    });
    const runTimer = setTimeout(() => stop.abort(), args.seconds * 1000);
    const tasks = [
      sampler(state, stop.signal),
      watcher(kube, state, stop.signal, Math.max(2, args.ttl * 1.5) * 1000),
    ];
    for (let w = 1; w <= args.workers; w++) {
      tasks.push(worker(kube, state, w, stop.signal));
    }
    await Promise.all(tasks);
    clearTimeout(runTimer);
    const elapsed = (Date.now() - t0) / 1000;
    await events;

    const v: AuditResult = await state.audit.check(cluster);
    const runs = await pluginRuns(tmp.path);
    await kube.close();
    kube = undefined;

    const rotations = state.audit.rotations;
    const enoughRotations = rotations >= 1 || args.seconds <= args.ttl;
    const ok = state.failures === 0 && v.stale === 0 && v.oldOpen === 0 &&
      enoughRotations;
    const row = (label: string, value: string, good?: boolean) =>
      console.log(
        `  ${label.padEnd(26)} ${
          good === undefined ? value : good ? green(value) : bold(red(value))
        }`,
      );
    console.log("");
    console.log(bold(`summary`) + dim(` (${elapsed.toFixed(1)} s)`));
    row(
      "requests",
      `${fmtInt(state.requests)}  (${
        fmtInt(state.requests / elapsed)
      }/s; server saw ${fmtInt(v.serverRequests)})`,
    );
    row("failures", String(state.failures), state.failures === 0);
    row(
      "certificate rotations",
      String(rotations),
      enoughRotations,
    );
    row(
      "plugin runs",
      `${state.pluginRuns}` +
        (runs !== state.pluginRuns ? ` (plugin counted ${runs})` : ""),
    );
    row("connections (server)", String(v.connections));
    row(
      "watch streams",
      `${state.watchStreams} (${state.watchEvents} events)`,
    );
    row(
      "old connections drained",
      `longest ${state.longestDrainMs} ms, ${state.forcedDrains} forced`,
    );
    row("stale-cert requests", String(v.stale), v.stale === 0);
    row(
      "old connections left open",
      String(v.oldOpen) +
        (v.oldOpen > 0 ? ` (conn #${v.oldOpenIds.join(", #")})` : ""),
      v.oldOpen === 0,
    );
    for (const s of state.failureSamples) console.log(red(`    failure: ${s}`));
    for (const s of v.staleSamples) console.log(red(`    stale: ${s}`));
    if (interrupted) {
      console.log(yellow("interrupted"));
      return 130;
    }
    console.log(ok ? bold(green("OK")) : bold(red("FAILED")));
    return ok ? 0 : 1;
  } catch (err) {
    console.error(red(`error: ${(err as Error)?.stack ?? err}`));
    return interrupted ? 130 : 1;
  } finally {
    stop.abort();
    if (kube) await kube.close().catch(() => {});
    for (const c of cleanups.reverse()) await c().catch(() => {});
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
  }
}

process.exitCode = await main();
