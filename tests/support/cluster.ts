/**
 * The demo cluster launcher, shared by the demo (scripts/demo/main.ts), the
 * benchmarks (scripts/bench/*.ts) and the tests (tests/support/harness.ts
 * re-exports it): a fake Kubernetes API server in a child Node process
 * ({@linkcode startCluster}), temp dirs, kubeconfig files, runtime paths and
 * the demo exec credential plugin ({@linkcode demoPluginExec}).
 *
 * Works unchanged under Deno, Bun and Node 20 (an esbuild bundle). Repo
 * paths resolve against the repo this file lives in, else `process.cwd()`
 * (bundles elsewhere: run them from the repo root).
 *
 * @example Usage
 * ```ts
 * import { startCluster, demoPluginExec, makeTempDir, writeKubeconfig } from "./cluster.ts";
 * const cluster = await startCluster({ tokens: { "t0k3n": "alice" } });
 * const state = await makeTempDir();
 * const kubeconfig = await writeKubeconfig(state.path, {
 *   apiVersion: "v1", kind: "Config", "current-context": "demo",
 *   clusters: [{ name: "demo", cluster: { server: cluster.url, "certificate-authority-data": btoa(cluster.caPem) } }],
 *   users: [{ name: "demo", user: { exec: demoPluginExec({ stateDir: state.path, caDir: cluster.dir }) } }],
 *   contexts: [{ name: "demo", context: { cluster: "demo", user: "demo" } }],
 * });
 * // ... use kubeconfig ...
 * await cluster.close();
 * await state.remove();
 * ```
 *
 * @module
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, realpathSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, delimiter, dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { createCa, issueCertificate } from "./pki.ts";
import type { Ca } from "./pki.ts";
import {
  makeScratchDir,
  type ScratchDir,
} from "../../src/runtime/scratch_dir.ts";

export type { Ca } from "./pki.ts";

/** One TLS connection the fake API server accepted. */
export interface ConnectionRecord {
  /** Server-assigned id, 1, 2, 3… in accept order. */
  id: number;
  /** CN of the VERIFIED client certificate, else null. */
  cn: string | null;
  /** Whether the client certificate verified against the cluster CA. */
  authorized: boolean;
  /** Epoch ms of the TLS handshake's end. */
  openedAt: number;
  /** Epoch ms of the socket's close, or null while open. */
  closedAt: number | null;
  /** How many requests arrived on this connection. */
  requests: number;
  /** The negotiated ALPN protocol ("h2", "http/1.1") or null. */
  alpn: string | null;
  /** Whether the TLS session was resumed (only possible with `sessionResumption`). */
  sessionReused: boolean;
  /** CN of the presented certificate even if unverified (extra field). */
  presentedCn?: string | null;
}

/** One request the fake API server received. */
export interface RequestRecord {
  /** The `x-request-id` header, else a server counter. */
  id: string;
  /** The connection id it arrived on. */
  conn: number;
  /** The connection's verified client-certificate CN, or null. */
  cn: string | null;
  /** The authenticated user, or null (401 or /healthz). */
  user: string | null;
  /** How the user was authenticated. */
  authScheme: "bearer" | "basic" | "cert" | null;
  /** HTTP method. */
  method: string;
  /** Path with query. */
  path: string;
  /** Response status (0 while in flight, or if the client left before any header). */
  status: number;
  /** True once the whole response was sent; false if in flight or cut short (extra field). */
  completed?: boolean;
  /** Epoch ms the request arrived. */
  startedAt: number;
  /** Epoch ms the response ended (or the client went away), null in flight. */
  endedAt: number | null;
}

/** A connection event of the fake API server's feed ({@linkcode TestCluster.events}). */
export interface ServerEvent {
  /** Increasing sequence number (1, 2, 3…). */
  seq: number;
  /** Epoch ms of the event. */
  at: number;
  /** What happened. */
  type: "connection-opened" | "connection-closed";
  /** The connection id. */
  conn: number;
  /** CN of the verified client certificate, else null. */
  cn: string | null;
  /** Whether the client certificate verified. */
  authorized: boolean;
  /** Requests seen on the connection so far. */
  requests: number;
}

/** Basic-auth user accepted by the cluster. */
export interface BasicUser {
  /** User name. */
  username: string;
  /** Password. */
  password: string;
}

/** A running fake API server. Call {@linkcode TestCluster.close} in `after`. */
export interface TestCluster {
  /** "https://127.0.0.1:<port>". */
  url: string;
  /** "http://127.0.0.1:<controlPort>". */
  controlUrl: string;
  /** The cluster CA, to issue client certificates in tests. */
  ca: Ca;
  /** The CA certificate PEM (also `dir/ca.crt`). */
  caPem: string;
  /** A fresh temp dir holding ca.crt and ca.key (PKCS#8); removed by close(). */
  dir: string;
  /** The server process id. */
  pid: number;
  /** Replaces the accepted bearer tokens (token → user name). */
  setTokens(tokens: Record<string, string>): Promise<void>;
  /** Replaces the accepted basic-auth users. */
  setBasic(users: BasicUser[]): Promise<void>;
  /** Every connection recorded since start (or since reset, plus those still open). */
  connections(): Promise<ConnectionRecord[]>;
  /** Every request recorded since start or reset. */
  requests(): Promise<RequestRecord[]>;
  /** Counters since start or reset; connectionsOpen is live. */
  stats(): Promise<
    {
      connectionsOpened: number;
      connectionsOpen: number;
      requests: number;
      byStatus: Record<string, number>;
    }
  >;
  /**
   * Long-polls until every listed connection is closed (ok: true), or the
   * timeout (default 5000 ms) passes (ok: false, open: the ids still open).
   */
  waitClosed(
    ids: number[],
    timeoutMs?: number,
  ): Promise<{ ok: boolean; open: number[] }>;
  /**
   * The connection events after `since` (a `seq`), waiting up to
   * `timeoutMs` (default 0: answer at once) for the first one. `seq` is the
   * newest sequence number: pass it as `since` next time.
   */
  events(
    since?: number,
    timeoutMs?: number,
  ): Promise<{ seq: number; events: ServerEvent[] }>;
  /** Clears request records and counters; keeps records of open connections. */
  reset(): Promise<void>;
  /** Server side: destroys every client connection now. */
  destroyConnections(): Promise<void>;
  /** Ends the server's stdin, waits for it to exit, removes dir. Idempotent. */
  close(): Promise<void>;
  /** The stream sessions (exec, attach, portforward) the server saw. */
  streams(): Promise<{ sessions: StreamRecord[] }>;
  /** Sets the stream endpoints' subprotocols (most preferred first) or attach command. */
  configureStreams(
    partial: { protocols?: string[]; attachCommand?: string[] },
  ): Promise<void>;
  /** Server side: kills every stream's process and drops its socket. */
  destroyStreams(): Promise<void>;
}

/** One exec, attach or portforward session the server accepted. */
export interface StreamRecord {
  /** `exec`, `attach` or `portforward`. */
  kind: string;
  /** The pod name. */
  pod: string;
  /** The namespace. */
  namespace: string;
  /** The authenticated user. */
  user: string;
  /** The negotiated subprotocol. */
  protocol: string;
  /** The subprotocols the client offered, in its order. */
  offered: string[];
  /** The query string. */
  query: string;
  /** Resize messages received (`{Width, Height}`). */
  resizes: { Width: number; Height: number }[];
  /** Bytes received on stdin (or the data channel). */
  stdinBytes: number;
  /** Empty messages received (skipped, as the kubelet skips them). */
  emptyMessages: number;
  /** How the process ended, null while running. */
  exit: { code: number | null; signal: string | null } | null;
  /** The WebSocket closed. */
  closed: boolean;
  /** The process id (exec, attach). */
  pid?: number;
}

/** Options of {@linkcode startCluster}. */
export interface ClusterOptions {
  /** Accepted bearer tokens: token → user name. */
  tokens?: Record<string, string>;
  /** Accepted basic-auth users. */
  basic?: BasicUser[];
  /** Reject handshakes without a valid client certificate. */
  requireClientCert?: boolean;
  /** Serve HTTP/2 (ALPN h2) as well as HTTP/1.1. */
  http2?: boolean;
  /** Allow TLS session resumption (tickets). Default false. */
  sessionResumption?: boolean;
  /**
   * The server certificate's DNS and IP names. Default: localhost,
   * 127.0.0.1 and ::1. `{ dnsNames: ["kube.test"], ipAddresses: [] }` makes
   * a certificate that only `tls-server-name: kube.test` verifies.
   */
  serverNames?: { dnsNames: string[]; ipAddresses: string[] };
}

function findRepoRoot(): string {
  try {
    const url = import.meta.url;
    if (url.startsWith("file:")) {
      const root = join(dirname(fileURLToPath(url)), "..", "..");
      if (existsSync(join(root, "tests", "support", "cluster_server.mjs"))) {
        return root;
      }
    }
  } catch {
    // not a file URL (compiled executable, data: bundle): use the cwd
  }
  return process.cwd();
}

/** The repo root: where this file lives, else the cwd (tests run from the root). */
export const REPO_ROOT: string = findRepoRoot();

/** Absolute path inside the repo. */
export function repoPath(...parts: string[]): string {
  return join(REPO_ROOT, ...parts);
}

const g = globalThis as { Deno?: unknown; Bun?: unknown };

function findNode(): string {
  if (!g.Deno && !g.Bun) return process.execPath;
  // Bun puts a `node` shim that runs bun on PATH: skip anything that is not node.
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, "node");
    try {
      if (!existsSync(candidate)) continue;
      const real = basename(realpathSync(candidate));
      if (/^(bun|deno)/.test(real)) continue;
      return candidate;
    } catch {
      continue;
    }
  }
  return "/usr/bin/node";
}

/** The Bun executable (node_modules/.bin/bun). */
export const BUN: string = repoPath("node_modules", ".bin", "bun");
/** The Deno executable (node_modules/.bin/deno). */
export const DENO: string = repoPath("node_modules", ".bin", "deno");
/** A real Node executable (process.execPath under Node; else from PATH). */
export const NODE: string = findNode();

/** Creates a fresh temp directory; `remove()` deletes it recursively. */
export function makeTempDir(prefix = "kubeauth-test-"): Promise<ScratchDir> {
  return makeScratchDir(prefix);
}

/**
 * Writes `config` to `dir/kubeconfig` (a string is written verbatim, any
 * other value as JSON, which is valid YAML) and returns the file's path.
 */
export function writeKubeconfig(dir: string, config: unknown): Promise<string> {
  const path = join(dir, "kubeconfig");
  const text = typeof config === "string"
    ? config
    : JSON.stringify(config, null, 2) + "\n";
  writeFileSync(path, text, { mode: 0o600 });
  return Promise.resolve(path);
}

function readLine(
  child: ChildProcess,
  what: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const onData = (chunk: Buffer | string) => {
      buf += chunk.toString();
      const nl = buf.indexOf("\n");
      if (nl >= 0) {
        cleanup();
        resolve(buf.slice(0, nl));
      }
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(
        new Error(
          `${what} exited (code ${code}, signal ${signal}) before it was ready; see its stderr above`,
        ),
      );
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new Error(`${what} failed to start: ${err.message}`));
    };
    const cleanup = () => {
      child.stdout!.off("data", onData);
      child.off("exit", onExit);
      child.off("error", onError);
    };
    child.stdout!.on("data", onData);
    child.on("exit", onExit);
    child.on("error", onError);
  });
}

/**
 * Starts the fake API server (`node tests/support/cluster_server.mjs`) with a
 * fresh CA and a server certificate for 127.0.0.1 and localhost.
 *
 * The server accepts, in order: a verified, unexpired client certificate
 * (user = CN, groups = O), a bearer token from `tokens`, a basic user. It
 * exits when the test process dies (its stdin closes).
 */
export async function startCluster(
  opts: ClusterOptions = {},
): Promise<TestCluster> {
  const ca = await createCa({ commonName: "kubeauth-test-ca" });
  const server = await issueCertificate(ca, {
    commonName: "kubeauth-test-apiserver",
    usage: "server",
    dnsNames: opts.serverNames?.dnsNames ?? ["localhost"],
    ipAddresses: opts.serverNames?.ipAddresses ?? ["127.0.0.1", "::1"],
  });
  const tmp = await makeTempDir("kubeauth-cluster-");
  writeFileSync(join(tmp.path, "ca.crt"), ca.certPem);
  writeFileSync(join(tmp.path, "ca.key"), ca.keyPem, { mode: 0o600 });

  const child = spawn(
    NODE,
    [repoPath("tests", "support", "cluster_server.mjs")],
    {
      cwd: REPO_ROOT,
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
    child.once("error", () => resolve());
  });
  // An EPIPE on stdin (server already gone) must not crash the test process.
  child.stdin!.on("error", () => {});
  child.stdin!.write(
    JSON.stringify({
      caPem: ca.certPem,
      serverCertPem: server.certPem,
      serverKeyPem: server.keyPem,
      tokens: opts.tokens ?? {},
      basic: opts.basic ?? [],
      requireClientCert: !!opts.requireClientCert,
      http2: !!opts.http2,
      sessionResumption: !!opts.sessionResumption,
    }) + "\n",
  );
  let ports: { port: number; controlPort: number };
  let startupTimer: ReturnType<typeof setTimeout> | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      startupTimer = setTimeout(
        () => reject(new Error("cluster server did not start within 15 s")),
        15_000,
      );
    });
    const line = readLine(child, "cluster server");
    line.catch(() => {}); // the race below reports it
    ports = JSON.parse(await Promise.race([line, timeout]));
    clearTimeout(startupTimer);
  } catch (err) {
    clearTimeout(startupTimer);
    child.stdin!.end();
    child.kill("SIGKILL");
    await exited;
    await tmp.remove();
    throw err;
  }
  // Drain anything else it prints so the pipe never fills.
  child.stdout!.on("data", () => {});

  const controlUrl = `http://127.0.0.1:${ports.controlPort}`;
  const control = async <T>(
    method: "GET" | "POST",
    path: string,
    body?: unknown,
  ): Promise<T> => {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `cluster server is not running (exit code ${child.exitCode}, signal ${child.signalCode})`,
      );
    }
    const res = await fetch(controlUrl + path, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) {
      throw new Error(
        `cluster control ${method} ${path}: ${res.status} ${text}`,
      );
    }
    return JSON.parse(text) as T;
  };

  let closing: Promise<void> | null = null;
  return {
    url: `https://127.0.0.1:${ports.port}`,
    controlUrl,
    ca,
    caPem: ca.certPem,
    dir: tmp.path,
    pid: child.pid!,
    async setTokens(tokens) {
      await control("POST", "/config", { tokens });
    },
    async setBasic(users) {
      await control("POST", "/config", { basic: users });
    },
    connections: () => control("GET", "/connections"),
    requests: () => control("GET", "/requests"),
    stats: () => control("GET", "/stats"),
    async waitClosed(ids, timeoutMs = 5000) {
      const r = await control<{ ok: boolean; open?: number[] }>(
        "GET",
        `/wait-closed?ids=${ids.join(",")}&timeoutMs=${timeoutMs}`,
      );
      return { ok: r.ok, open: r.open ?? [] };
    },
    events: (since = 0, timeoutMs = 0) =>
      control("GET", `/events?since=${since}&timeoutMs=${timeoutMs}`),
    async reset() {
      await control("POST", "/reset");
    },
    async destroyConnections() {
      await control("POST", "/destroy-connections");
    },
    streams: () => control("GET", "/streams"),
    async configureStreams(partial) {
      await control("POST", "/stream-config", partial);
    },
    async destroyStreams() {
      await control("POST", "/destroy-streams");
    },
    close() {
      closing ??= (async () => {
        child.stdin!.end();
        // stdin EOF makes the server exit at once; SIGKILL is a backstop.
        const backstop = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(backstop);
        child.stdout!.destroy();
        await tmp.remove();
      })();
      return closing;
    },
  };
}

/**
 * The token the demo plugin returns on its n-th run with `prefix`.
 * In token mode the plugin also appends `<token> <user>` to
 * `<stateDir>/tokens`; {@linkcode demoTokens} pre-computes them instead.
 */
export function demoToken(n: number, prefix = "demo-token"): string {
  return `${prefix}-${n}`;
}

/**
 * Token → user map for the demo plugin's first `count` runs
 * (`<prefix>-<n>` → `demo-user-<n>`). Pass it to `startCluster({ tokens })`
 * or `cluster.setTokens()` before using token mode.
 */
export function demoTokens(
  count = 100,
  prefix = "demo-token",
): Record<string, string> {
  const out: Record<string, string> = {};
  for (let n = 1; n <= count; n++) out[demoToken(n, prefix)] = `demo-user-${n}`;
  return out;
}

/** Options of {@linkcode demoPluginExec}. */
export interface DemoPluginOptions {
  /** Where the plugin counts its runs (`runs` file, one line per run). */
  stateDir: string;
  /** Directory holding ca.crt and ca.key (a {@linkcode TestCluster.dir}). */
  caDir: string;
  /** What to return: client cert (default), token, or both. */
  mode?: "cert" | "token" | "both";
  /** Credential lifetime: certificate validity and expirationTimestamp. Default 3600. */
  ttlSeconds?: number;
  /** The exec apiVersion. Default client.authentication.k8s.io/v1. */
  apiVersion?: string;
  /** Token prefix; tokens are `<prefix>-<n>`. Default "demo-token". */
  tokenPrefix?: string;
  /** Further plugin flags (see tests/support/plugin.ts, e.g. `--delay-ms 500`). */
  extraArgs?: string[];
}

/**
 * A kubeconfig `users[].user.exec` stanza that runs the demo plugin
 * (`bun tests/support/plugin.ts`). Each run mints a client certificate
 * CN=demo-user-<n>, O=demo signed by `caDir`'s CA, and/or returns the token
 * `<prefix>-<n>`: the cluster accepts it only if registered, e.g.
 * `startCluster({ tokens: demoTokens() })`.
 */
export function demoPluginExec(opts: DemoPluginOptions): {
  command: string;
  args: string[];
  env: { name: string; value: string }[];
  apiVersion: string;
  interactiveMode: string;
} {
  const args = [
    repoPath("tests", "support", "plugin.ts"),
    "--state-dir",
    opts.stateDir,
    "--ca-dir",
    opts.caDir,
    "--mode",
    opts.mode ?? "cert",
    "--ttl",
    String(opts.ttlSeconds ?? 3600),
    "--token-prefix",
    opts.tokenPrefix ?? "demo-token",
    ...(opts.extraArgs ?? []),
  ];
  return {
    command: BUN,
    args,
    env: [{ name: "KUBEAUTH_DEMO_PLUGIN", value: "1" }],
    apiVersion: opts.apiVersion ?? "client.authentication.k8s.io/v1",
    interactiveMode: "Never",
  };
}

/** How many times the demo plugin has run with this state dir. */
export async function pluginRuns(stateDir: string): Promise<number> {
  try {
    const text = await readFile(join(stateDir, "runs"), "utf8");
    return text.split("\n").filter((l) => l.trim() !== "").length;
  } catch (err) {
    if ((err as { code?: string }).code === "ENOENT") return 0;
    throw err;
  }
}

/** The lines `<token> <user>` the demo plugin appended in token mode. */
export async function pluginTokens(
  stateDir: string,
): Promise<Record<string, string>> {
  try {
    const text = await readFile(join(stateDir, "tokens"), "utf8");
    const out: Record<string, string> = {};
    for (const line of text.split("\n")) {
      const [t, u] = line.trim().split(/\s+/);
      if (t && u) out[t] = u;
    }
    return out;
  } catch (err) {
    if ((err as { code?: string }).code === "ENOENT") return {};
    throw err;
  }
}
