// `kubeauth exec` and `kubeauth port-forward` as a user meets them: a real
// process of the runtime running the suite (deno run -A src/cli.ts, bun
// src/cli.ts, or for Node a bundle of testdata/cli/node_entry.ts), a real
// kubeconfig file, the test cluster's stream endpoints, a real local TCP
// server behind port-forward.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { connect } from "node:net";

import {
  makeTempDir,
  startCluster,
  writeKubeconfig,
} from "./support/harness.ts";
import type { TestCluster } from "./support/harness.ts";
import { probeCommand } from "./support/runtime_probe.ts";
import { kubeconfigFor } from "./support/authed_fetch.ts";
import { forwardingPort, startEchoServer } from "./support/streams.ts";
import type { EchoServer } from "./support/streams.ts";
import { detectRuntime } from "../src/runtime/detect.ts";
import process from "node:process";

let cluster: TestCluster;
let tmp: { path: string; remove(): Promise<void> };
let cli: { argv: string[]; cleanup(): void };
let kubeconfig: string;
let echo: EchoServer;

before(async () => {
  cluster = await startCluster({ tokens: { "tok-c": "cleo" } });
  tmp = await makeTempDir("kubeauth-cli-streams-");
  kubeconfig = await writeKubeconfig(
    tmp.path,
    kubeconfigFor(cluster, { token: "tok-c" }),
  );
  cli = await probeCommand(
    detectRuntime() === "node" ? "testdata/cli/node_entry.ts" : "src/cli.ts",
  );
  echo = await startEchoServer();
});

after(async () => {
  cli?.cleanup();
  await echo?.close();
  await cluster?.close();
  await tmp?.remove();
});

function kubeauth(args: string[], input = "") {
  const child = spawn(
    cli.argv[0],
    [
      ...cli.argv.slice(1),
      args[0],
      "--kubeconfig",
      kubeconfig,
      ...args.slice(1),
    ],
    {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, HOME: tmp.path },
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (c) => (stdout += c));
  child.stderr!.setEncoding("utf8").on("data", (c) => (stderr += c));
  child.stdin!.end(input);
  const done = new Promise<
    { code: number | null; stdout: string; stderr: string }
  >(
    (resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done, out: () => stdout };
}

test("kubeauth exec: stdout/stderr separated, exit code = the remote command's", async () => {
  const r = await kubeauth([
    "exec",
    "web",
    "--",
    "sh",
    "-c",
    "echo out; echo err >&2; exit 3",
  ]).done;
  assert.equal(r.stdout, "out\n");
  assert.equal(r.stderr, "err\n");
  assert.equal(r.code, 3);
});

test("kubeauth exec -i: stdin reaches the command, EOF ends it", async () => {
  const r = await kubeauth(
    ["exec", "-i", "web", "--", "sh", "-c", "cat; echo end"],
    "hello\n",
  ).done;
  assert.equal(r.stdout, "hello\nend\n", r.stderr);
  assert.equal(r.code, 0);
});

test("kubeauth exec -t without a terminal warns as kubectl does and runs without one", async () => {
  const r = await kubeauth([
    "exec",
    "-t",
    "web",
    "--",
    "sh",
    "-c",
    "echo e >&2",
  ])
    .done;
  assert.match(r.stderr, /Unable to use a TTY/);
  assert.match(r.stderr, /e\n$/);
  assert.equal(r.code, 0);
});

test("kubeauth exec: an unknown pod exits 1 with the server's message", async () => {
  const r = await kubeauth(["exec", "missing-9", "--", "true"]).done;
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: .*404.*pods "missing-9" not found\n$/);
  const u = await kubeauth(["exec", "web"]).done;
  assert.equal(u.code, 1);
  assert.match(u.stderr, /^error: missing command/);
});

test("kubeauth port-forward: one forwarded stream per connection; Ctrl-C stops cleanly", async () => {
  const pf = kubeauth(["port-forward", "web", `:${echo.port}`]);
  const port = await forwardingPort(pf.child, pf.out);
  for (const word of ["one", "two"]) {
    const sock = connect(port, "127.0.0.1");
    sock.write(word);
    let got = "";
    for await (const chunk of sock) {
      got += chunk;
      if (got.length >= word.length) break;
    }
    sock.destroy();
    assert.equal(got, word);
  }
  pf.child.kill("SIGINT");
  const r = await pf.done;
  assert.equal(r.stderr, "");
  // Deno's node:child_process reports a child it sent SIGINT to as killed
  // by SIGINT even when the child handled it and exited 0 (measured with a
  // script that handles SIGINT and exits 0), so the exit code is only
  // checked on Bun and Node.
  if (detectRuntime() !== "deno") assert.equal(r.code, 0);
  assert.equal((r.stdout.match(/Handling connection for/g) ?? []).length, 2);
  const kinds = (await cluster.streams()).sessions.slice(-2).map((s) => s.kind);
  assert.deepEqual(kinds, ["portforward", "portforward"]);
});

const hasScript = existsSync("/usr/bin/script");

test(
  "kubeauth exec -it in a real terminal (util-linux script): raw mode, the terminal size forwarded, exit code",
  {
    skip: hasScript ? false : "no /usr/bin/script to provide a pty",
  },
  async () => {
    const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
    const line = [
      ...cli.argv,
      "exec",
      "--kubeconfig",
      kubeconfig,
      "-it",
      "web",
      "--",
      "sh",
      "-c",
      "echo hi; exit 4",
    ].map(quote).join(" ");
    const child = spawn(
      "/usr/bin/script",
      ["-qec", `stty cols 91 rows 33; ${line}; echo "rc=$?"`, "/dev/null"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout!.setEncoding("utf8").on("data", (c) => (out += c));
    child.stderr!.resume();
    await new Promise((r) => child.on("close", r));
    assert.match(out, /hi\r\nrc=4/);
    const rec = (await cluster.streams()).sessions.at(-1)!;
    assert.match(rec.query, /tty=true/);
    assert.deepEqual(rec.resizes[0], { Width: 91, Height: 33 });
  },
);
