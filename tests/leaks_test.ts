// Leaks: after close() nothing is left.
// - In process: a client with an exec plugin whose first answer gets a 401
//   (so the plugin runs twice and two certificates, two transports exist),
//   a watch and a slow request in flight, plus a client whose plugin is
//   still running: after close() the server sees every connection closed
//   (waitClosed), no plugin process (nor child) is alive, and the pending
//   calls settle.
// - A separate process (testdata/plugins/rel_exit_probe.ts under the
//   runtime being tested; bundled with esbuild for Node) doing the same ends
//   on its own after close(), without process.exit.
// - The default client (authedFetch, which has no close()) does not keep a
//   process alive either.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { assertAllGone } from "./support/process.ts";
import { join } from "node:path";
import process from "node:process";
import { createCa, issueCertificate } from "./support/pki.ts";
import { createAuthedFetch } from "../src/fetch/authed_fetch.ts";
import type { AuthedFetchEvent } from "../src/fetch/authed_fetch.ts";
import { KubeauthError } from "../src/errors.ts";
import { makeTempDir, startCluster } from "./support/harness.ts";
import type { TestCluster } from "./support/harness.ts";
import { probeCommand } from "./support/runtime_probe.ts";

const ROOT = process.cwd();
const PARITY_PLUGIN = join(ROOT, "testdata", "plugins", "parity_plugin.sh");
const MISBEHAVE = join(ROOT, "testdata", "plugins", "rel_misbehave.sh");
const V1 = "client.authentication.k8s.io/v1";
const GOOD = "leak-good-token";

let cluster: TestCluster;
let tmp: { path: string; remove(): Promise<void> };
let certs: { certPem: string; keyPem: string }[] = [];
let serial = 0;

before(async () => {
  [cluster, tmp] = await Promise.all([
    startCluster({ tokens: { [GOOD]: "alice" } }),
    makeTempDir("kubeauth-leaks-"),
  ]);
  // Certificates the server does not trust: it records them and
  // authenticates by token, so the 401 below really comes from the token.
  const ca = await createCa({ commonName: "leaks-untrusted-ca" });
  certs = await Promise.all(
    ["leak-a", "leak-b"].map((cn) =>
      issueCertificate(ca, { commonName: cn, usage: "client" })
    ),
  );
});

after(async () => {
  await cluster?.close();
  await tmp?.remove();
});

function numbersIn(file: string): number[] {
  if (!existsSync(file)) return [];
  return [...readFileSync(file, "utf8").matchAll(/(\d+)/g)].map((m) =>
    Number(m[1])
  );
}

function kubeconfig(user: Record<string, unknown>): Record<string, unknown> {
  return {
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
    users: [{ name: "u", user }],
    contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
  };
}

/**
 * A user whose plugin answers a refused token with certificate A first,
 * then the good token with certificate B. Returns it and its state dir.
 */
function rotatingUser(): { user: Record<string, unknown>; state: string } {
  const state = join(tmp.path, `state-${++serial}`);
  mkdirSync(state, { recursive: true });
  const out = (token: string, c: { certPem: string; keyPem: string }) =>
    JSON.stringify({
      apiVersion: V1,
      kind: "ExecCredential",
      status: {
        token,
        clientCertificateData: c.certPem,
        clientKeyData: c.keyPem,
      },
    });
  return {
    state,
    user: {
      exec: {
        command: PARITY_PLUGIN,
        apiVersion: V1,
        interactiveMode: "Never",
        args: [`leaks-${serial}`],
        env: [
          { name: "PARITY_DIR", value: state },
          { name: "PARITY_OUTPUT_1", value: out("leak-refused", certs[0]) },
          { name: "PARITY_OUTPUT", value: out(GOOD, certs[1]) },
        ],
      },
    },
  };
}

function hangingUser(): { user: Record<string, unknown>; pidFile: string } {
  const pidFile = join(tmp.path, `hang-${++serial}.pids`);
  return {
    pidFile,
    user: {
      exec: {
        command: MISBEHAVE,
        args: ["stubborn", `leaks-${serial}`],
        apiVersion: V1,
        interactiveMode: "Never",
        env: [{ name: "TEST_PID_FILE", value: pidFile }],
      },
    },
  };
}

/** Waits (bounded) until `file` lists at least `n` numbers. */
async function waitForPids(file: string, n: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (numbersIn(file).length < n && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(numbersIn(file).length >= n, `${file}: plugin did not start`);
}

test(
  "after close(): every connection closed server-side, no plugin process alive, pending calls settled",
  {
    timeout: 60_000,
  },
  async () => {
    await cluster.reset();
    const before = new Set((await cluster.connections()).map((c) => c.id));
    const rot = rotatingUser();
    const hang = hangingUser();
    const events: AuthedFetchEvent[] = [];
    const kube = await createAuthedFetch({
      kubeconfig: kubeconfig(rot.user),
      onEvent: (e) => events.push(e),
    });
    const stuck = await createAuthedFetch({
      kubeconfig: kubeconfig(hang.user),
    });

    const version = await kube("/version");
    assert.equal(version.status, 200, "the 401 retry with the second answer");
    await version.body?.cancel();
    const watch = await kube(
      "/api/v1/namespaces/default/pods?watch=true&intervalMs=100",
    );
    const reader = watch.body!.getReader();
    await reader.read();
    // After close() the watch must end in an error (events buffered before
    // it may still be read).
    const watchEnd = (async () => {
      try {
        for (let i = 0; i < 1000; i++) {
          if ((await reader.read()).done) return "ended";
        }
        return "endless";
      } catch {
        return "aborted";
      }
    })();
    const slow = kube("/slow?ms=60000").then(
      (r) => `status ${r.status}`,
      () => "aborted",
    );
    const pending = stuck("/version").then(
      () => "answered",
      (e) => (e instanceof KubeauthError ? e.code : String(e)),
    );
    await waitForPids(hang.pidFile, 6);
    // Wait until the slow request is at the server, so it is really in flight.
    const deadline = Date.now() + 5000;
    while (
      !(await cluster.requests()).some((r) => r.path.startsWith("/slow")) &&
      Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const opened = (await cluster.connections())
      .filter((c) => !before.has(c.id));
    const presented = new Set(opened.map((c) => c.presentedCn));
    assert.ok(
      presented.has("leak-a") && presented.has("leak-b"),
      `two certificates, two transports: ${[...presented]}`,
    );

    await Promise.all([kube.close(), stuck.close()]);

    const waited = await cluster.waitClosed(opened.map((c) => c.id), 3000);
    assert.ok(
      waited.ok,
      `connections still open after close(): ${waited.open}`,
    );
    assert.equal(await watchEnd, "aborted");
    assert.equal(await slow, "aborted");
    assert.equal(await pending, "CLOSED");
    await assertAllGone([
      ...numbersIn(join(rot.state, "runs")),
      ...numbersIn(hang.pidFile),
    ]);
    assert.equal(numbersIn(join(rot.state, "runs")).length, 2);
    // Every transport created was closed.
    const created = events.filter((e) => e.type === "transport-created").length;
    const closed = events.filter((e) => e.type === "transport-closed").length;
    assert.equal(closed, created);
    // Calls after close() are refused, and start nothing.
    await assert.rejects(
      kube("/version"),
      (e) => e instanceof KubeauthError && e.code === "CLOSED",
    );
    assert.equal(numbersIn(join(rot.state, "runs")).length, 2);
  },
);

/** Runs the exit probe under the current runtime; kills it after `ms`. */
async function runProbe(
  args: string[],
  env: Record<string, string>,
  ms: number,
): Promise<
  { code: number | null; stdout: string; stderr: string; killed: boolean }
> {
  const cmd = await probeCommand("testdata/plugins/rel_exit_probe.ts");
  try {
    return await new Promise((resolve, reject) => {
      const child = spawn(cmd.argv[0], [...cmd.argv.slice(1), ...args], {
        cwd: ROOT,
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
      let stdout = "";
      let stderr = "";
      let killed = false;
      child.stdout!.setEncoding("utf8").on("data", (d) => (stdout += d));
      child.stderr!.setEncoding("utf8").on("data", (d) => (stderr += d));
      const timer = setTimeout(() => {
        killed = true;
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          child.kill("SIGKILL");
        }
      }, ms);
      child.on("error", reject);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr, killed });
      });
    });
  } finally {
    cmd.cleanup();
  }
}

test(
  "a process that used kubeauth ends on its own after close() (no process.exit)",
  {
    timeout: 60_000,
  },
  async () => {
    const rot = rotatingUser();
    const hang = hangingUser();
    const dir = join(tmp.path, `probe-${++serial}`);
    mkdirSync(dir);
    const k1 = join(dir, "rotating");
    const k2 = join(dir, "hanging");
    writeFileSync(k1, JSON.stringify(kubeconfig(rot.user)));
    writeFileSync(k2, JSON.stringify(kubeconfig(hang.user)));
    const r = await runProbe(["closed", k1, k2, hang.pidFile], {}, 20_000);
    assert.equal(
      r.killed,
      false,
      `the process did not end within 20 s after close():\n${r.stdout}${r.stderr}`,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim().split("\n").at(-1)!), {
      mode: "closed",
      version: 200,
      pluginStarted: true,
      watch: "aborted",
      slow: "aborted",
      stuck: "CLOSED",
    });
    // It ended before the probe's 20 s kill, so not at the 30 s drain deadline.
    await assertAllGone([
      ...numbersIn(join(rot.state, "runs")),
      ...numbersIn(hang.pidFile),
    ]);
  },
);

test(
  "the default client (authedFetch, no close()) does not keep the process alive",
  {
    timeout: 60_000,
  },
  async () => {
    const rot = rotatingUser();
    const file = join(tmp.path, `default-${++serial}`);
    writeFileSync(file, JSON.stringify(kubeconfig(rot.user)));
    const r = await runProbe(["default"], { KUBECONFIG: file }, 20_000);
    assert.equal(
      r.killed,
      false,
      `the process did not end within 20 s:\n${r.stdout}${r.stderr}`,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim().split("\n").at(-1)!), {
      mode: "default",
      version: 200,
    });
    await assertAllGone(numbersIn(join(rot.state, "runs")));
  },
);
