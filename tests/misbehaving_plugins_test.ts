// Misbehaving exec plugins, end to end: a kubeconfig user whose plugin
// misbehaves, a real request through createAuthedFetch to the fake API
// server, and afterwards no process of the plugin left alive.
//
// Only what tests/exec_runner_test.ts and tests/exec_authenticator_test.ts do
// not cover already (they cover: SIGTERM, a hang with one child, stdout
// closed while running, a grandchild holding stdout, 100 MB of stdout
// counted, a stderr flood, partial JSON, valid JSON then garbage, empty
// output, abort and close() during a run). Here:
// - a plugin and five children that all ignore SIGTERM/SIGINT/SIGHUP: the
//   timeout kills every one of them (process-group SIGKILL);
// - death by SIGKILL and SIGSEGV; an `exec` of a missing program (127);
// - stdout closed early, exit 0 a little later: the answer is used;
// - a grandchild holding stderr (not stdout) open: the answer is used
//   within the grace period, the grandchild killed;
// - a plugin that reads stdin non-interactively gets EOF, never hangs;
// - an answer written one byte per write;
// - stdout (1 GiB) and stderr (64 MiB) flooded at once: no pipe deadlock,
//   EXEC_OUTPUT_TOO_LARGE, and the process's memory (RSS) grows by far less
//   than what the plugin wrote;
// - after each failure, the server saw no request, and the next request
//   reports the failure without running the plugin again (backoff).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { assertAllGone as assertAllGoneIn } from "./support/process.ts";
import { join } from "node:path";
import process from "node:process";
import { createAuthedFetch } from "../src/fetch/authed_fetch.ts";
import type {
  AuthedFetch,
  AuthedFetchEvent,
} from "../src/fetch/authed_fetch.ts";
import { KubeauthError } from "../src/errors.ts";
import { getRuntimeAdapter } from "../src/runtime/mod.ts";
import type { RuntimeAdapter } from "../src/runtime/types.ts";
import { makeTempDir, startCluster } from "./support/harness.ts";
import type { TestCluster } from "./support/harness.ts";

const ROOT = process.cwd();
const PLUGIN = join(ROOT, "testdata", "plugins", "rel_misbehave.sh");
const V1 = "client.authentication.k8s.io/v1";
const TOKEN = "rel-misbehave-token";
const ANSWER = JSON.stringify({
  apiVersion: V1,
  kind: "ExecCredential",
  status: { token: TOKEN },
});

let cluster: TestCluster;
let tmp: { path: string; remove(): Promise<void> };
let real: RuntimeAdapter;
let serial = 0;

before(async () => {
  [cluster, tmp, real] = await Promise.all([
    startCluster({ tokens: { [TOKEN]: "alice" } }),
    makeTempDir("kubeauth-misbehave-"),
    getRuntimeAdapter(),
  ]);
});

after(async () => {
  await cluster?.close();
  await tmp?.remove();
});

/** Waits (bounded) until none of the pids is alive. */
const assertAllGone = (pids: number[]) =>
  assertAllGoneIn(pids, "plugin processes");

function pidsIn(file: string): number[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "")
    .map(Number);
}

interface Harness {
  kube: AuthedFetch;
  pidFile: string;
  events: AuthedFetchEvent[];
  stderrBytes: () => number;
}

/**
 * A client whose user runs `rel_misbehave.sh <mode>`. Its stderr is counted,
 * not printed (some modes flood it).
 */
async function client(
  mode: string,
  execTimeoutMs = 20_000,
): Promise<Harness> {
  const pidFile = join(tmp.path, `pids-${++serial}`);
  let stderrBytes = 0;
  const adapter: RuntimeAdapter = {
    ...real,
    writeStderr: (chunk) => {
      stderrBytes += chunk.byteLength;
    },
  };
  const events: AuthedFetchEvent[] = [];
  const kube = await createAuthedFetch({
    kubeconfig: {
      apiVersion: "v1",
      kind: "Config",
      "current-context": "c",
      clusters: [{
        name: "c",
        cluster: {
          server: cluster.url,
          "certificate-authority-data": btoa(cluster.caPem),
        },
      }],
      users: [{
        name: "u",
        user: {
          exec: {
            command: PLUGIN,
            // A distinct argument per client: no cache shared between cases.
            args: [mode, `case-${serial}`],
            apiVersion: V1,
            interactiveMode: "Never",
            env: [
              { name: "TEST_PID_FILE", value: pidFile },
              { name: "TEST_OUTPUT", value: ANSWER },
            ],
          },
        },
      }],
      contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
    },
    adapter,
    execTimeoutMs,
    onEvent: (e) => events.push(e),
  });
  return { kube, pidFile, events, stderrBytes: () => stderrBytes };
}

async function rejection(p: Promise<unknown>): Promise<KubeauthError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof KubeauthError) return err;
    assert.fail(`not a KubeauthError: ${err}`);
  }
  assert.fail("expected a rejection");
}

const pluginRuns = (h: Harness) =>
  h.events.filter((e) => e.type === "plugin-run").length;

/** A request with a unique id; returns the id. */
function request(kube: AuthedFetch, id: string): Promise<Response> {
  return kube("/version", { headers: { "x-request-id": id } });
}

async function serverSaw(id: string): Promise<boolean> {
  return (await cluster.requests()).some((r) => r.id === id);
}

/**
 * A failing plugin: the request rejects with `code`/`text`, the server saw
 * nothing, every process is gone, and a second request fails fast from the
 * backoff without running the plugin again.
 */
async function expectFailure(
  h: Harness,
  code: string,
  text: string,
): Promise<KubeauthError> {
  const id = `fail-${serial}-${code}`;
  const err = await rejection(request(h.kube, id));
  assert.equal(err.code, code, err.message);
  assert.ok(err.message.includes(text), `${err.message}\n  lacks: ${text}`);
  assert.ok(!err.message.includes(TOKEN));
  assert.equal(await serverSaw(id), false, "a request went out anyway");
  await assertAllGone(pidsIn(h.pidFile));
  assert.equal(pluginRuns(h), 1);
  const again = await rejection(request(h.kube, `${id}-again`));
  assert.equal(again.code, code);
  assert.match(again.message, /next attempt in \d+s/);
  assert.equal(pluginRuns(h), 1, "the plugin ran again during the backoff");
  return err;
}

/** A plugin that answers: the request succeeds as alice. */
async function expectSuccess(h: Harness): Promise<void> {
  const id = `ok-${serial}`;
  const res = await request(h.kube, id);
  assert.equal(res.status, 200);
  await res.body?.cancel();
  const rec = (await cluster.requests()).find((r) => r.id === id);
  assert.equal(rec?.user, "alice");
  assert.equal(pluginRuns(h), 1);
}

test(
  "a plugin and five children ignoring SIGTERM are all killed at the timeout",
  {
    timeout: 30_000,
  },
  async () => {
    const h = await client("stubborn", 800);
    try {
      const started = Date.now();
      const err = await expectFailure(
        h,
        "EXEC_TIMEOUT",
        "did not finish within 800ms and was killed together with its child processes",
      );
      assert.ok(Date.now() - started >= 800);
      assert.equal(pidsIn(h.pidFile).length, 6, "the plugin and 5 children");
      assert.equal((err as { signal?: string }).signal, "SIGKILL");
    } finally {
      await h.kube.close();
    }
  },
);

test("death by SIGKILL, by SIGSEGV, and exec of a missing program", {
  timeout: 30_000,
}, async () => {
  const cases: [string, string, string][] = [
    ["sigkill", "EXEC_FAILED", "terminated by signal SIGKILL"],
    ["segv", "EXEC_FAILED", "terminated by signal SIGSEGV"],
    ["exec-missing", "EXEC_FAILED", "failed with exit code 127"],
  ];
  await Promise.all(cases.map(async ([mode, code, text]) => {
    const h = await client(mode);
    try {
      await expectFailure(h, code, text);
    } finally {
      await h.kube.close();
    }
  }));
});

test(
  "answers that arrive oddly are used: stdout closed early, stderr held by a grandchild, stdin read to EOF, one byte per write",
  {
    timeout: 30_000,
  },
  async () => {
    await Promise.all(
      ["close-early", "hold-stderr", "read-stdin", "trickle"].map(
        async (mode) => {
          const h = await client(mode);
          try {
            // A run that waited for the 20 s exec timeout would fail with EXEC_TIMEOUT.
            await expectSuccess(h);
            await assertAllGone(pidsIn(h.pidFile));
          } finally {
            await h.kube.close();
          }
        },
      ),
    );
  },
);

test(
  "stdout (1 GiB) and stderr (64 MiB) flooded at once: capped, no deadlock, memory bounded",
  {
    timeout: 60_000,
  },
  async () => {
    const rss = () => process.memoryUsage().rss;
    const h = await client("double-flood");
    try {
      const before = rss();
      let peak = before;
      const sampler = setInterval(() => {
        peak = Math.max(peak, rss());
      }, 5);
      let err: KubeauthError;
      try {
        err = await expectFailure(
          h,
          "EXEC_OUTPUT_TOO_LARGE",
          "wrote more than 16 MiB to stdout and was killed",
        );
      } finally {
        clearInterval(sampler);
      }
      peak = Math.max(peak, rss());
      const growth = peak - before;
      // Unbounded buffering would need ≥ 1 GiB; the cap is 16 MiB. Allow for
      // the runtime's own buffers and garbage not yet collected.
      assert.ok(
        growth < 400 * 1024 * 1024,
        `RSS grew by ${Math.round(growth / 1048576)} MiB`,
      );
      // stderr was drained concurrently (the plugin could not block on it).
      assert.ok(h.stderrBytes() > 0);
      assert.ok(!err.message.includes("\u0000".repeat(64)));
    } finally {
      await h.kube.close();
    }
  },
);
