// The test cluster's stream endpoints against the real kubectl: `kubectl
// exec` (≥ 1.31 speaks WebSockets, v5.channel.k8s.io, with client-go's
// fallback executor) must accept our server: stdout and stderr separated,
// the exit code, stdin with EOF. So kubeauth's streams are tested against a
// server kubectl accepts, not against kubeauth's own assumptions.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import {
  makeTempDir,
  startCluster,
  writeKubeconfig,
} from "./support/harness.ts";
import type { TestCluster } from "./support/harness.ts";
import { kubeconfigFor } from "./support/authed_fetch.ts";

let cluster: TestCluster;
let dir: { path: string; remove(): Promise<void> };
let kubeconfig: string;
const kubectl = findKubectl();

before(async () => {
  cluster = await startCluster({ tokens: { "tok-k": "kim" } });
  dir = await makeTempDir();
  kubeconfig = await writeKubeconfig(
    dir.path,
    kubeconfigFor(cluster, { token: "tok-k" }),
  );
});

after(async () => {
  await cluster?.close();
  await dir?.remove();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(kubectl!, ["--kubeconfig", kubeconfig, ...args], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, KUBECACHEDIR: join(dir.path, "cache") },
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (c) => (stdout += c));
    child.stderr!.on("data", (c) => (stderr += c));
    child.stdin!.end(input ?? "");
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

test("kubectl exec over WebSockets: stdout/stderr separated, exit code", {
  skip: kubectl === undefined ? "kubectl is not on PATH" : false,
}, async () => {
  const r = await run([
    "exec",
    "web",
    "--",
    "sh",
    "-c",
    "echo out; echo err >&2; exit 3",
  ]);
  assert.equal(r.stdout, "out\n");
  assert.match(r.stderr, /^err\n/);
  assert.equal(r.code, 3, r.stderr);
  const rec = (await cluster.streams()).sessions.at(-1)!;
  assert.equal(rec.protocol, "v5.channel.k8s.io");
  assert.equal(rec.user, "kim");
});

test("kubectl exec -i: stdin reaches the command and EOF ends it", {
  skip: kubectl === undefined ? "kubectl is not on PATH" : false,
}, async () => {
  const r = await run(
    ["exec", "-i", "web", "--", "sh", "-c", "cat; echo done"],
    "hello\n",
  );
  assert.equal(r.stdout, "hello\ndone\n", r.stderr);
  assert.equal(r.code, 0);
});

test("kubectl exec on an unknown pod shows the server's message", {
  skip: kubectl === undefined ? "kubectl is not on PATH" : false,
}, async () => {
  const r = await run(["exec", "missing-pod", "--", "true"]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /pods "missing-pod" not found/);
});

/** The kubectl to run (gcloud's dispatcher resolved), if any. */
function findKubectl(): string | undefined {
  let found: string | undefined;
  for (const d of (process.env.PATH ?? "").split(":")) {
    if (d && existsSync(join(d, "kubectl"))) {
      found = join(d, "kubectl");
      break;
    }
  }
  if (found === undefined) return undefined;
  const text = spawnSync(found, ["version", "--client"], {
    encoding: "utf8",
    timeout: 20_000,
  }).stdout ?? "";
  if (!text.includes("dispatcher")) return found;
  const m = /v(\d+)\.(\d+)\./.exec(text);
  const candidate = m
    ? join(dirname(realpathSync(found)), `kubectl.${m[1]}.${m[2]}`)
    : "";
  return candidate && existsSync(candidate) ? candidate : found;
}
