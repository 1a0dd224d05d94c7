/**
 * Helpers of the benchmark scripts (scripts/bench/*.ts), which run on Deno
 * (`deno run -A`), Bun, and Node (an esbuild bundle made by
 * scripts/bench/main.mjs): runtime detection, the runtime's raw mTLS fetch (the
 * same primitive its kubeauth adapter uses, as the baseline), kubeconfig
 * writers, statistics and the result line scripts/bench/main.mjs reads.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { Buffer } from "node:buffer";
import process from "node:process";
import { writeKubeconfig } from "../../tests/support/cluster.ts";
import type { TestCluster } from "../../tests/support/cluster.ts";

/** The runtime running this script. */
export type Runtime = "deno" | "bun" | "node";

const g = globalThis as { Deno?: unknown; Bun?: unknown };

/** Which runtime runs this script. */
export function runtimeName(): Runtime {
  if (typeof g.Deno === "object") return "deno";
  if (typeof g.Bun === "object") return "bun";
  return "node";
}

/** A raw fetch over one mTLS connection pool (no kubeauth). */
export interface RawClient {
  /** What the pool is, for the report. */
  readonly primitive: string;
  /** fetch on the pool. */
  fetch(url: string, init?: RequestInit): Promise<Response>;
  /** Closes every connection. */
  close(): Promise<void>;
}

/** TLS material of a {@linkcode RawClient}. */
export interface RawTls {
  /** CA PEM. */
  ca: string;
  /** Client certificate PEM (optional). */
  cert?: string;
  /** Client key PEM (optional). */
  key?: string;
}

interface DenoHttp {
  createHttpClient(o: {
    caCerts?: string[];
    cert?: string;
    key?: string;
  }): { close(): void };
}

interface BunSession {
  fetch(url: string, init?: RequestInit): Promise<Response>;
  close(): void | Promise<void>;
}

/**
 * The runtime's own mTLS fetch, the primitive its kubeauth adapter wraps:
 * Deno `fetch` + `Deno.createHttpClient`, Bun `Bun.FetchSession`, Node
 * global `fetch` + an undici 7 `Agent`.
 */
export async function rawClient(tls: RawTls): Promise<RawClient> {
  const rt = runtimeName();
  if (rt === "deno") {
    const D = g.Deno as DenoHttp;
    const client = D.createHttpClient({
      caCerts: [tls.ca],
      ...(tls.cert ? { cert: tls.cert, key: tls.key } : {}),
    });
    return {
      primitive: "fetch + Deno.createHttpClient",
      fetch: (url, init) =>
        fetch(url, { ...init, client } as RequestInit & { client: unknown }),
      close() {
        client.close();
        return Promise.resolve();
      },
    };
  }
  if (rt === "bun") {
    const B = g.Bun as {
      FetchSession: new (o: { tls: Record<string, string> }) => BunSession;
    };
    const session = new B.FetchSession({
      tls: {
        ca: tls.ca,
        ...(tls.cert ? { cert: tls.cert, key: tls.key! } : {}),
      },
    });
    return {
      primitive: "Bun.FetchSession",
      fetch: (url, init) => session.fetch(url, init),
      async close() {
        await session.close();
      },
    };
  }
  const { Agent } = await import("undici");
  const dispatcher = new Agent({
    connect: {
      ca: tls.ca,
      ...(tls.cert ? { cert: tls.cert, key: tls.key } : {}),
    },
  });
  return {
    primitive: "fetch + undici.Agent",
    fetch: (url, init) =>
      fetch(
        url,
        { ...init, dispatcher } as RequestInit & {
          dispatcher: unknown;
        },
      ),
    close: () => dispatcher.close(),
  };
}

/**
 * A plain `node:https` keep-alive Agent with the same TLS material: each
 * request reads the whole body into one Buffer (what a hand-written client
 * does). Its answers carry just `ok` and `arrayBuffer()`, for
 * {@linkcode sequential}.
 */
export async function httpsClient(tls: RawTls): Promise<{
  fetch(url: string, init: { headers: Record<string, string> }): Promise<
    Response
  >;
  close(): void;
}> {
  const https = await import("node:https");
  const agent = new https.Agent({
    keepAlive: true,
    ca: tls.ca,
    ...(tls.cert ? { cert: tls.cert, key: tls.key } : {}),
  });
  return {
    fetch: (url, init) =>
      new Promise((resolve, reject) => {
        const req = https.request(
          url,
          { agent, headers: init.headers },
          (res) => {
            const chunks: Uint8Array[] = [];
            res.on("data", (c: Uint8Array) => chunks.push(c));
            res.on("end", () => {
              const body = Buffer.concat(chunks);
              const status = res.statusCode ?? 0;
              resolve({
                ok: status >= 200 && status < 300,
                arrayBuffer: () => Promise.resolve(body.buffer),
              } as unknown as Response);
            });
            res.on("error", reject);
          },
        );
        req.on("error", reject);
        req.end();
      }),
    close: () => agent.destroy(),
  };
}

/** The median of the values (0 for none). */
export function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Rounds to `digits` decimals. */
export function round(x: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Prints the result line scripts/bench/main.mjs looks for (last `BENCH_RESULT` line wins). */
export function emitResult(result: Record<string, unknown>): void {
  console.log("BENCH_RESULT " + JSON.stringify(result));
}

/** Progress on stderr (the orchestrator shows it dimmed). */
export function note(message: string): void {
  process.stderr.write(`  [${runtimeName()}] ${message}\n`);
}

/** A kubeconfig for `cluster` with the given user stanza; returns its path. */
export function writeClusterKubeconfig(
  dir: string,
  cluster: TestCluster,
  user: Record<string, unknown>,
): Promise<string> {
  return writeKubeconfig(dir, {
    apiVersion: "v1",
    kind: "Config",
    "current-context": "bench",
    clusters: [{
      name: "bench",
      cluster: {
        server: cluster.url,
        "certificate-authority-data": btoa(cluster.caPem),
      },
    }],
    users: [{ name: "bench", user }],
    contexts: [{
      name: "bench",
      context: { cluster: "bench", user: "bench" },
    }],
  });
}

/** What an exec plugin printed, parsed. */
export interface ExecStatus {
  token?: string;
  clientCertificateData?: string;
  clientKeyData?: string;
  expirationTimestamp?: string;
}

/**
 * Runs an exec stanza's command directly (no kubeauth): the bare-spawn
 * baseline. Resolves with its parsed `status`.
 */
export function runPluginBare(exec: {
  command: string;
  args: string[];
  env: { name: string; value: string }[];
  apiVersion: string;
}): Promise<ExecStatus> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (v !== undefined) env[k] = v;
    }
    for (const e of exec.env) env[e.name] = e.value;
    env.KUBERNETES_EXEC_INFO = JSON.stringify({
      apiVersion: exec.apiVersion,
      kind: "ExecCredential",
      spec: { interactive: false },
    });
    const child = spawn(exec.command, exec.args, {
      env,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (c: string) => (out += c));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`plugin exited ${code}`));
      try {
        resolve(JSON.parse(out).status);
      } catch (err) {
        reject(err);
      }
    });
  });
}

/** Awaits `fn` n times in a row; returns requests per second. */
export async function sequential(
  n: number,
  fn: () => Promise<Response>,
): Promise<number> {
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    const res = await fn();
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`HTTP ${res.status} on request ${i}`);
  }
  return n / ((performance.now() - t) / 1000);
}

/**
 * Starts `n` requests at once; resolves with the time to the last response
 * (ms) and how many were not 2xx (or threw).
 */
export async function concurrent(
  n: number,
  fn: (i: number) => Promise<Response>,
): Promise<{ ms: number; failures: number; errors: string[] }> {
  const t = performance.now();
  const errors: string[] = [];
  const results = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      try {
        const res = await fn(i);
        await res.arrayBuffer();
        if (!res.ok) {
          if (errors.length < 3) errors.push(`HTTP ${res.status}`);
          return false;
        }
        return true;
      } catch (err) {
        if (errors.length < 3) errors.push(String((err as Error)?.message));
        return false;
      }
    }),
  );
  return {
    ms: performance.now() - t,
    failures: results.filter((ok) => !ok).length,
    errors,
  };
}
