// The `kubeauth` CLI as a user meets it: a real process of the runtime
// running the suite (deno run -A src/cli.ts, bun src/cli.ts, or for Node a
// bundle of testdata/cli/node_entry.ts), a real kubeconfig file and the real
// mTLS test cluster.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  demoPluginExec,
  makeTempDir,
  pluginRuns,
  startCluster,
  type TestCluster,
  writeKubeconfig as writeKubeconfigIn,
} from "./support/harness.ts";
import { execProbe, probeCommand } from "./support/runtime_probe.ts";
import { kubeconfigFor } from "./support/authed_fetch.ts";
import { detectRuntime } from "../src/runtime/detect.ts";

const TOKEN = "cli-token-0123456789abcdef";

/** Writes `config` to `<dir>/kubeconfig`, creating `dir`. */
function writeKubeconfig(dir: string, config: unknown): Promise<string> {
  mkdirSync(dir, { recursive: true });
  return writeKubeconfigIn(dir, config);
}

let cluster: TestCluster;
let tmp: { path: string; remove(): Promise<void> };
let cli: { argv: string[]; cleanup(): void };
let tokenConfig: string;
let execConfig: string;
let failingConfig: string;
let pluginState: string;

before(async () => {
  cluster = await startCluster({ tokens: { [TOKEN]: "cli-user" } });
  tmp = await makeTempDir("kubeauth-cli-");
  cli = await probeCommand(
    detectRuntime() === "node" ? "testdata/cli/node_entry.ts" : "src/cli.ts",
  );
  tokenConfig = await writeKubeconfig(
    join(tmp.path, "token"),
    kubeconfigFor(cluster, { token: TOKEN }),
  );
  pluginState = join(tmp.path, "plugin-state");
  execConfig = await writeKubeconfig(
    join(tmp.path, "exec"),
    kubeconfigFor(cluster, {
      exec: demoPluginExec({ stateDir: pluginState, caDir: cluster.dir }),
    }),
  );
  failingConfig = await writeKubeconfig(
    join(tmp.path, "failing"),
    kubeconfigFor(cluster, {
      exec: {
        command: join(process.cwd(), "testdata", "cli", "failing_plugin.sh"),
        apiVersion: "client.authentication.k8s.io/v1",
        interactiveMode: "Never",
      },
    }),
  );
});

after(async () => {
  cli?.cleanup();
  await cluster?.close();
  await tmp?.remove();
});

function kubeauth(args: string[], stdin?: string) {
  if (stdin === undefined) {
    return execProbe(cli.argv[0], [...cli.argv.slice(1), ...args]);
  }
  return new Promise<{ code: number; stdout: string; stderr: string }>(
    (resolve) => {
      const child = spawn(cli.argv[0], [...cli.argv.slice(1), ...args], {
        stdio: ["pipe", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (c) => (stdout += c));
      child.stderr.on("data", (c) => (stderr += c));
      child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
      child.stdin.end(stdin);
    },
  );
}

describe("kubeauth CLI", { timeout: 120_000 }, () => {
  test("--version and --help", async () => {
    const v = await kubeauth(["--version"]);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^kubeauth \d+\.\d+\.\d+\n$/);
    const h = await kubeauth(["--help"]);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /kubeauth fetch <path-or-url>/);
    const fh = await kubeauth(["fetch", "--help"]);
    assert.equal(fh.code, 0);
    assert.match(fh.stdout, /--timeout SECONDS/);
  });

  test("bad usage: one error line plus the usage line, exit 1", async () => {
    for (
      const [args, phrase] of [
        [["fetch", "/version", "--bogus"], 'unknown flag "--bogus"'],
        [["fetch"], "missing <path-or-url>"],
        [["frobnicate"], 'unknown command "frobnicate"'],
        [["fetch", "/x", "-H", "no-colon"], "must look like"],
        [["fetch", "/x", "--timeout", "soon"], "--timeout needs"],
      ] as const
    ) {
      const r = await kubeauth([...args]);
      assert.equal(r.code, 1, args.join(" "));
      const lines = r.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 2, r.stderr);
      assert.ok(lines[0].startsWith("error: "), r.stderr);
      assert.ok(lines[0].includes(phrase), r.stderr);
      assert.match(lines[1], /^Usage: |^kubeauth /);
    }
  });

  test("fetch prints the body and exits 0 on 2xx", async () => {
    const r = await kubeauth([
      "fetch",
      "/version",
      "--kubeconfig",
      tokenConfig,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).gitVersion, "v1.32.0-kubeauth-demo");
    assert.equal(r.stderr, "");
  });

  test("fetch -i prints the status line and headers first", async () => {
    const r = await kubeauth([
      "fetch",
      "/version",
      "-i",
      "--kubeconfig",
      tokenConfig,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(r.stdout, /\r\ncontent-type: application\/json\r\n/);
    assert.match(r.stdout, /\r\n\r\n\{"major"/);
  });

  test("fetch: HTTP errors exit 1 with the Status message", async () => {
    const nf = await kubeauth([
      "fetch",
      "/api/v1/nothing-here",
      "--kubeconfig",
      tokenConfig,
    ]);
    assert.equal(nf.code, 1);
    assert.equal(nf.stdout, "");
    assert.match(nf.stderr, /^error: 404 Not Found/);
    const badToken = await writeKubeconfig(
      join(tmp.path, "bad-token"),
      kubeconfigFor(cluster, { token: "not-a-valid-token-xyz" }),
    );
    const un = await kubeauth(["fetch", "/version", "--kubeconfig", badToken]);
    assert.equal(un.code, 1);
    assert.equal(un.stderr, "error: 401 Unauthorized: Unauthorized\n");
    assert.ok(!un.stderr.includes("not-a-valid-token-xyz"));
  });

  test("fetch -X/-H/-d @FILE and -d @- send method, headers and body", async () => {
    const bodyFile = join(tmp.path, "body.json");
    writeFileSync(bodyFile, '{"from":"file"}');
    const r = await kubeauth([
      "fetch",
      "/echo",
      "-X",
      "post",
      "-H",
      "X-Demo: one",
      "--header=X-Other: two",
      "-d",
      `@${bodyFile}`,
      "--kubeconfig",
      tokenConfig,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const echo = JSON.parse(r.stdout);
    assert.equal(echo.method, "POST");
    assert.equal(echo.body, '{"from":"file"}');
    assert.equal(echo.headers["x-demo"], "one");
    assert.equal(echo.headers["x-other"], "two");
    assert.equal(echo.headers["content-type"], "application/json");
    assert.equal(echo.user, "cli-user");

    const s = await kubeauth(
      ["fetch", "/echo?x=1", "-d", "@-", "--kubeconfig", tokenConfig],
      '{"from":"stdin"}',
    );
    assert.equal(s.code, 0, s.stderr);
    const echo2 = JSON.parse(s.stdout);
    assert.equal(echo2.method, "POST");
    assert.equal(echo2.body, '{"from":"stdin"}');
  });

  test("fetch streams a watch: events arrive before the stream ends", async () => {
    const child = spawn(cli.argv[0], [
      ...cli.argv.slice(1),
      "fetch",
      "/api/v1/namespaces/default/pods?watch=true&intervalMs=100",
      "--kubeconfig",
      tokenConfig,
    ], { stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise((r) => child.on("close", r));
    // The watch never ends by itself: seeing two events proves streaming.
    const events = await new Promise<string[]>((resolve, reject) => {
      let buf = "";
      child.stdout.on("data", (c) => {
        buf += c;
        const lines = buf.split("\n").filter((l) => l.trim() !== "");
        if (lines.length >= 2) resolve(lines);
      });
      child.on("close", () => reject(new Error("watch ended early")));
    });
    child.kill("SIGTERM");
    await exited;
    assert.equal(JSON.parse(events[0]).type, "ADDED");
  });

  test("fetch --timeout gives up with a clear error", async () => {
    const r = await kubeauth([
      "fetch",
      "/slow?ms=10000",
      "--timeout",
      "0.5",
      "--kubeconfig",
      tokenConfig,
    ]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `error: the request to ${
        new URL(cluster.url).host
      } got no answer within 0.5 s (--timeout); check that the API server is healthy and any proxy in the way (proxy-url, HTTPS_PROXY), or raise --timeout\n`,
    );
  });

  test("a failing plugin: its stderr passes through, then client-go's wording", async () => {
    const r = await kubeauth([
      "fetch",
      "/version",
      "--kubeconfig",
      failingConfig,
    ]);
    assert.equal(r.code, 1);
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(
      lines[0],
      "failing plugin: the SSO session has expired, run 'sso login'",
    );
    const last = lines[lines.length - 1];
    assert.ok(last.startsWith("error: "), r.stderr);
    assert.match(last, /failed with exit code 73/);
  });

  test("credential: source, redacted token, certificate subject; --show-secrets", async () => {
    const r = await kubeauth(["credential", "--kubeconfig", tokenConfig]);
    assert.equal(r.code, 0, r.stderr);
    const c = JSON.parse(r.stdout);
    assert.equal(c.source, "token");
    assert.equal(c.token, "[redacted]");
    assert.ok(!r.stdout.includes(TOKEN));
    const s = await kubeauth([
      "credential",
      "--show-secrets",
      "--kubeconfig",
      tokenConfig,
    ]);
    assert.equal(JSON.parse(s.stdout).token, TOKEN);

    const runs = await pluginRuns(pluginState);
    const e = await kubeauth(["credential", "--kubeconfig", execConfig]);
    assert.equal(e.code, 0, e.stderr);
    const ec = JSON.parse(e.stdout);
    assert.equal(ec.source, "exec");
    assert.match(ec.clientCertificate.subject, /CN=demo-user-\d+/);
    assert.ok(!Number.isNaN(Date.parse(ec.clientCertificate.notAfter)));
    assert.ok(!Number.isNaN(Date.parse(ec.expiresAt)));
    assert.equal(await pluginRuns(pluginState), runs + 1);
  });

  test("whoami prints the user and groups the cluster sees", async () => {
    const r = await kubeauth(["whoami", "--kubeconfig", execConfig]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ATTRIBUTE\s+VALUE\n/);
    assert.match(r.stdout, /Username\s+demo-user-\d+\n/);
    assert.match(r.stdout, /Groups\s+\[demo system:authenticated\]\n/);
  });

  test("unknown context: one error line naming it", async () => {
    const r = await kubeauth([
      "fetch",
      "/version",
      "--context",
      "nope",
      "--kubeconfig",
      tokenConfig,
    ]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trimEnd().split("\n").length, 1);
    assert.match(r.stderr, /^error: .*"nope"/);
  });
});
