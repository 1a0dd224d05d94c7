// The Bun single executable (scripts/build/bin.ts → `bun build --compile
// src/cli.ts`): builds it once into a temp dir (a fraction of a second) and
// runs it against the fake API server.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import {
  BUN,
  demoPluginExec,
  makeTempDir,
  repoPath,
  startCluster,
  writeKubeconfig,
} from "./support/harness.ts";
import type { TestCluster } from "./support/harness.ts";
import { forwardingPort, startEchoServer } from "./support/streams.ts";
import { detectRuntime } from "../src/runtime/detect.ts";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], timeout = 30_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { cwd: repoPath(), timeout, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === "number"
            ? (err as { code: number }).code
            : -1
          : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

function kubeconfigFor(
  cluster: TestCluster,
  user: Record<string, unknown>,
): unknown {
  return {
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
    users: [{ name: "demo", user }],
    contexts: [{ name: "demo", context: { cluster: "demo", user: "demo" } }],
  };
}

describe("compiled Bun executable (dist/kubeauth)", () => {
  let cluster: TestCluster;
  let tmp: { path: string; remove(): Promise<void> };
  let bin: string;

  before(async () => {
    tmp = await makeTempDir("kubeauth-bin-");
    bin = join(tmp.path, "kubeauth");
    const built = await run(
      BUN,
      [repoPath("scripts", "build", "bin.ts"), "--outfile", bin],
      120_000,
    );
    assert.equal(
      built.code,
      0,
      `build failed:\n${built.stdout}${built.stderr}`,
    );
    cluster = await startCluster({ tokens: { "static-t0ken": "alice" } });
  });

  after(async () => {
    await cluster?.close();
    await tmp?.remove();
  });

  test("--version prints the package version", async () => {
    const version = JSON.parse(readFileSync(repoPath("deno.json"), "utf8"))
      .version;
    const r = await run(bin, ["--version"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `kubeauth ${version}`);
  });

  test("fetch /version with a static token", async () => {
    const dir = join(tmp.path, "static");
    mkdirSync(dir, { recursive: true });
    const kubeconfig = await writeKubeconfig(
      dir,
      kubeconfigFor(cluster, { token: "static-t0ken" }),
    );
    const r = await run(bin, ["fetch", "/version", "--kubeconfig", kubeconfig]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).gitVersion, "v1.32.0-kubeauth-demo");
    const reqs = await cluster.requests();
    const seen = reqs.find((q) => q.path === "/version" && q.user === "alice");
    assert.ok(seen, "the server saw the request as alice");
    assert.equal(seen.authScheme, "bearer");
  });

  test("a rejected token exits 1 with one error line", async () => {
    const dir = join(tmp.path, "bad");
    mkdirSync(dir, { recursive: true });
    const kubeconfig = await writeKubeconfig(
      dir,
      kubeconfigFor(cluster, { token: "wrong-token" }),
    );
    const r = await run(bin, ["fetch", "/version", "--kubeconfig", kubeconfig]);
    assert.equal(r.code, 1);
    const last = r.stderr.trim().split("\n").at(-1) ?? "";
    assert.match(last, /^error: .*401/);
    assert.ok(!r.stderr.includes("wrong-token"), "no secret in the error");
  });

  test("whoami with the exec plugin's client certificate", async () => {
    const dir = join(tmp.path, "exec");
    mkdirSync(dir, { recursive: true });
    const kubeconfig = await writeKubeconfig(
      dir,
      kubeconfigFor(cluster, {
        exec: demoPluginExec({
          stateDir: dir,
          caDir: cluster.dir,
          extraArgs: ["--silent"],
        }),
      }),
    );
    const r = await run(bin, ["whoami", "--kubeconfig", kubeconfig]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /demo-user-1/);
  });
  test("exec -i: stdin reaches the remote command; its exit code is the CLI's", async () => {
    const dir = join(tmp.path, "exec-stream");
    mkdirSync(dir, { recursive: true });
    const kubeconfig = await writeKubeconfig(
      dir,
      kubeconfigFor(cluster, { token: "static-t0ken" }),
    );
    const child = spawn(bin, [
      "exec",
      "--kubeconfig",
      kubeconfig,
      "-i",
      "web",
      "--",
      "sh",
      "-c",
      "cat; echo err >&2; exit 5",
    ]);
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c) => (stderr += c));
    child.stdin.end("from stdin\n");
    const code = await new Promise((r) => child.on("close", r));
    assert.equal(stdout, "from stdin\n", stderr);
    assert.equal(stderr, "err\n");
    assert.equal(code, 5);
  });

  test("port-forward: a local connection reaches the pod's port; SIGINT stops it", async () => {
    const dir = join(tmp.path, "pf");
    mkdirSync(dir, { recursive: true });
    const kubeconfig = await writeKubeconfig(
      dir,
      kubeconfigFor(cluster, { token: "static-t0ken" }),
    );
    const echo = await startEchoServer();
    const child = spawn(bin, [
      "port-forward",
      "--kubeconfig",
      kubeconfig,
      "web",
      `:${echo.port}`,
    ]);
    const closed = new Promise((r) => child.on("close", r));
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (c) => (stderr += c));
    try {
      let out = "";
      child.stdout.setEncoding("utf8").on("data", (c) => (out += c));
      const port = await forwardingPort(child, () => out);
      const sock = connect(port, "127.0.0.1");
      sock.write("ping");
      let got = "";
      for await (const chunk of sock) {
        got += chunk;
        if (got.length >= 4) break;
      }
      sock.destroy();
      assert.equal(got, "ping");
      child.kill("SIGINT");
      const code = await closed;
      assert.equal(stderr, "");
      assert.match(out, /Handling connection for/);
      // Deno's node:child_process reports a child it sent SIGINT to as
      // killed by the signal even when it exited 0 (see cli_streams_test).
      if (detectRuntime() !== "deno") assert.equal(code, 0);
    } finally {
      child.kill("SIGKILL");
      await closed;
      await echo.close();
    }
  });
});
