// @kubernetes/client-node's Exec, Attach and PortForward (2.x; 1.x on Node
// 20) on kubeauthWebSocketHandler, against the mTLS test cluster (client
// certificate required) with the demo exec plugin's certificates: exec runs
// a real local process, port-forward reaches a real TCP server.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import type { AddressInfo, Server, Socket } from "node:net";
import { PassThrough } from "node:stream";
import { createAuthedFetch } from "../src/fetch/authed_fetch.ts";
import type { AuthedFetch } from "../src/fetch/authed_fetch.ts";
import { WebSocketRefusedError } from "../src/errors.ts";
import {
  KubeauthSocket,
  kubeauthWebSocketHandler,
} from "../src/integrations/client_node.ts";
import {
  demoPluginExec,
  makeTempDir,
  pluginRuns,
  startCluster,
  writeKubeconfig,
} from "./support/harness.ts";
import type { TestCluster } from "./support/harness.ts";
import { kubeconfigFor } from "./support/authed_fetch.ts";
import { assertAllGone } from "./support/process.ts";
import {
  Attach,
  Exec,
  KubeConfig,
  PortForward,
} from "./support/client_node.ts";
import type { V1Status, WsSocket } from "./support/client_node.ts";

let cluster: TestCluster;
let echo: Server;
let echoPort: number;
const echoSockets = new Set<Socket>();
const cleanups: (() => Promise<void>)[] = [];
// Never read by the stream classes when a handler is given.
const kc = new KubeConfig();

before(async () => {
  cluster = await startCluster({ requireClientCert: true });
  // A real TCP server for port-forward: echoes what it receives.
  echo = createServer((s) => {
    echoSockets.add(s);
    s.on("close", () => echoSockets.delete(s));
    s.on("error", () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
  echoPort = (echo.address() as AddressInfo).port;
});

after(async () => {
  for (const c of cleanups.reverse()) await c();
  for (const s of echoSockets) s.destroy();
  await new Promise((r) => echo?.close(r));
  await cluster?.close();
});

/** A kube on the demo plugin (client certificates) with its own state dir. */
async function pluginKube(
  extraArgs: string[] = [],
): Promise<{ kube: AuthedFetch; stateDir: string }> {
  const state = await makeTempDir();
  const path = await writeKubeconfig(
    state.path,
    kubeconfigFor(cluster, {
      exec: demoPluginExec({
        stateDir: state.path,
        caDir: cluster.dir,
        mode: "cert",
        extraArgs,
      }),
    }),
  );
  const kube = await createAuthedFetch({ kubeconfig: path });
  cleanups.push(async () => {
    await kube.close();
    await state.remove();
  });
  return { kube, stateDir: state.path };
}

/** A writable that collects what is written; `text` resolves at its end. */
function sink(): { stream: PassThrough; text: Promise<string> } {
  const stream = new PassThrough();
  const chunks: Uint8Array[] = [];
  stream.on("data", (c: Uint8Array) => chunks.push(c));
  const text = new Promise<string>((resolve) =>
    stream.on("end", () => {
      resolve(new TextDecoder().decode(concat(chunks)));
    })
  );
  return { stream, text };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Resolves with the socket's close code. */
function closed(ws: WsSocket): Promise<number> {
  if (ws.readyState === 3) return Promise.resolve(-1);
  return new Promise((resolve) =>
    ws.on("close", (code: number) => resolve(code))
  );
}

/** Runs `command` through client-node's Exec; resolves with its output and Status. */
async function runExec(
  kube: AuthedFetch,
  command: string[],
  stdin: PassThrough | null = null,
  pod = "web",
): Promise<{ out: string; err: string; status: V1Status; ws: WsSocket }> {
  const out = sink();
  const err = sink();
  let gotStatus!: (s: V1Status) => void;
  const status = new Promise<V1Status>((r) => gotStatus = r);
  const ws = await new Exec(kc, kubeauthWebSocketHandler(kube)).exec(
    "default",
    pod,
    "app",
    command,
    out.stream,
    err.stream,
    stdin,
    false,
    (s) => gotStatus(s),
  );
  const [o, e, s] = await Promise.all([out.text, err.text, status]);
  return { out: o, err: e, status: s, ws };
}

test("client-node Exec on kube: stdout, stderr, exit status, one plugin run, the plugin's certificate", async () => {
  const { kube, stateDir } = await pluginKube();
  const r = await runExec(kube, [
    "sh",
    "-c",
    "echo out; echo err >&2; exit 3",
  ]);
  assert.ok(r.ws instanceof KubeauthSocket);
  assert.equal(r.ws.protocol, "v5.channel.k8s.io");
  assert.equal(r.out, "out\n");
  assert.equal(r.err, "err\n");
  assert.equal(r.status.status, "Failure");
  assert.equal(r.status.reason, "NonZeroExitCode");
  assert.deepEqual(r.status.details?.causes, [
    { reason: "ExitCode", message: "3" },
  ]);
  await closed(r.ws);
  const ok = await runExec(kube, ["sh", "-c", "echo fine"]);
  assert.equal(ok.out, "fine\n");
  assert.equal(ok.status.status, "Success");
  const sessions = (await cluster.streams()).sessions.slice(-2);
  assert.deepEqual(sessions[0].offered, [
    "v5.channel.k8s.io",
    "v4.channel.k8s.io",
    "v3.channel.k8s.io",
    "v2.channel.k8s.io",
    "channel.k8s.io",
  ]);
  assert.deepEqual(sessions.map((s) => [s.kind, s.user]), [
    ["exec", "demo-user-1"],
    ["exec", "demo-user-1"],
  ]);
  assert.deepEqual(new URLSearchParams(sessions[0].query).getAll("command"), [
    "sh",
    "-c",
    "echo out; echo err >&2; exit 3",
  ]);
  assert.equal(await pluginRuns(stateDir), 1);
});

test("client-node Exec on kube: stdin reaches the process; its end half-closes (v5), output kept", async () => {
  const { kube } = await pluginKube();
  const stdin = new PassThrough();
  const run = runExec(kube, ["sh", "-c", "cat; echo done"], stdin);
  stdin.write("hello ");
  stdin.write(new TextEncoder().encode("world\n"));
  stdin.end();
  const r = await run;
  assert.equal(r.out, "hello world\ndone\n");
  assert.equal(r.status.status, "Success");
  await closed(r.ws);
  const rec = (await cluster.streams()).sessions.at(-1)!;
  assert.equal(rec.stdinBytes, 12);
  await assertAllGone([rec.pid!], "exec processes");
});

test("client-node Attach on kube: the main process's output, stdin in", async () => {
  const { kube } = await pluginKube();
  const out = sink();
  const stdin = new PassThrough();
  const ws = await new Attach(kc, kubeauthWebSocketHandler(kube)).attach(
    "default",
    "web",
    "app",
    out.stream,
    null,
    stdin,
    false,
  );
  const done = closed(ws);
  stdin.end("attached\n");
  await done;
  const rec = (await cluster.streams()).sessions.at(-1)!;
  assert.equal(rec.kind, "attach");
  assert.equal(rec.user, "demo-user-1");
  assert.equal(rec.stdinBytes, "attached\n".length);
  out.stream.end();
  assert.equal(await out.text, "attached\n");
});

test("client-node PortForward on kube: bytes to the pod's port and back; v4 offered, input end closes", async () => {
  const { kube, stateDir } = await pluginKube();
  const out = new PassThrough();
  const input = new PassThrough();
  const got: Uint8Array[] = [];
  let resolveEcho!: () => void;
  const echoed = new Promise<void>((r) => resolveEcho = r);
  out.on("data", (c: Uint8Array) => {
    got.push(c);
    if (new TextDecoder().decode(concat(got)) === "ping pong") resolveEcho();
  });
  const ws = await new PortForward(
    kc,
    true,
    kubeauthWebSocketHandler(kube),
  ).portForward("default", "web", [echoPort], out, null, input) as WsSocket;
  input.write("ping ");
  input.write("pong");
  await echoed;
  const done = closed(ws);
  input.end(); // v4: client-node closes the socket
  await done;
  const rec = (await cluster.streams()).sessions.at(-1)!;
  assert.equal(rec.kind, "portforward");
  assert.equal(rec.user, "demo-user-1");
  // v4 only, as the kubelet speaks port-forward: with v5 client-node would
  // end its input with a close-stream frame and the socket would stay open.
  assert.deepEqual(rec.offered, ["v4.channel.k8s.io"]);
  assert.equal(rec.protocol, "v4.channel.k8s.io");
  assert.equal(ws.protocol, "v4.channel.k8s.io");
  assert.equal(rec.stdinBytes, 9);
  assert.equal(await pluginRuns(stateDir), 1);
});

test("client-node Exec on kube: a refused upgrade rejects with the server's Status", async () => {
  const { kube } = await pluginKube();
  await assert.rejects(
    new Exec(kc, kubeauthWebSocketHandler(kube)).exec(
      "default",
      "missing-pod",
      "app",
      ["true"],
      new PassThrough(),
      null,
      null,
      false,
    ),
    (err: unknown) => {
      assert.ok(err instanceof WebSocketRefusedError);
      assert.equal(err.status, 404);
      assert.match(err.message, /missing-pod/);
      return true;
    },
  );
});

test(
  "client-node Exec on kube: each exec opens with the current certificate as it rotates",
  { timeout: 60_000 },
  async () => {
    // Each credential expires 300 ms after it is issued: the plugin runs
    // again and the certificate rotates (demo-user-1, -2, …).
    const { kube, stateDir } = await pluginKube(["--expiry-ms", "300"]);
    const users = new Set<string>();
    const deadline = Date.now() + 40_000;
    let n = 0;
    while (users.size < 2 && Date.now() < deadline) {
      const r = await runExec(kube, ["true"]);
      assert.equal(r.status.status, "Success");
      n++;
      users.add((await cluster.streams()).sessions.at(-1)!.user);
    }
    assert.ok(users.size >= 2, `saw ${[...users]} in ${n} execs`);
    const mine = (await cluster.streams()).sessions.slice(-n);
    const num = (u: string) => Number(u.slice("demo-user-".length));
    for (let i = 1; i < mine.length; i++) {
      assert.ok(num(mine[i].user) >= num(mine[i - 1].user));
    }
    assert.ok((await pluginRuns(stateDir)) >= 2);
  },
);
