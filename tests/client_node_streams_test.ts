// @kubernetes/client-node's Exec, Attach and PortForward (2.x; 1.x on Node
// 20) on kubeauthWebSocketHandler, against the mTLS test cluster (client
// certificate required) with the demo exec plugin's certificates: exec runs
// a real local process, port-forward reaches a real TCP server.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type {
  AuthedFetch,
  AuthedFetchEvent,
} from "../src/fetch/authed_fetch.ts";
import { WebSocketRefusedError } from "../src/errors.ts";
import {
  KubeauthSocket,
  kubeauthWebSocketHandler,
} from "../src/integrations/client_node.ts";
import { makeTempDir, pluginRuns, startCluster } from "./support/harness.ts";
import type { TestCluster } from "./support/harness.ts";
import { demoPluginKube } from "./support/authed_fetch.ts";
import { JumpClock } from "./support/jump_clock.ts";
import { assertAllGone } from "./support/process.ts";
import { refusedPort, startEchoServer } from "./support/streams.ts";
import type { EchoServer } from "./support/streams.ts";
import {
  Attach,
  Cp,
  Exec,
  KubeConfig,
  PortForward,
} from "./support/client_node.ts";
import type {
  V1Status,
  WebSocketInterface,
  WsSocket,
} from "./support/client_node.ts";

let cluster: TestCluster;
let echo: EchoServer;
const cleanups: (() => Promise<void>)[] = [];
// Never read by the stream classes when a handler is given.
const kc = new KubeConfig();

before(async () => {
  cluster = await startCluster({ requireClientCert: true });
  // A real TCP server for port-forward: echoes what it receives.
  echo = await startEchoServer();
});

after(async () => {
  for (const c of cleanups.reverse()) await c();
  await echo?.close();
  await cluster?.close();
});

/** Options of {@linkcode pluginKube}. */
interface PluginKubeOptions {
  /** The exec authenticator's clock. */
  now?: () => number;
  /** How long an old certificate's sockets may drain. */
  drainTimeoutMs?: number;
  /** Receives kube's events. */
  onEvent?: (e: AuthedFetchEvent) => void;
}

/** A kube on the demo plugin (client certificates) with its own state dir. */
async function pluginKube(
  options: PluginKubeOptions = {},
): Promise<{ kube: AuthedFetch; stateDir: string }> {
  const k = await demoPluginKube(cluster, {
    execOptions: options.now ? { now: options.now } : undefined,
    drainTimeoutMs: options.drainTimeoutMs,
    onEvent: options.onEvent,
  });
  cleanups.push(k.close);
  return k;
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
  ).portForward("default", "web", [echo.port], out, null, input) as WsSocket;
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

test("client-node PortForward on kube: a refused connection in the pod comes on the error stream, then the socket closes", async () => {
  const { kube } = await pluginKube();
  const deadPort = await refusedPort();
  const out = sink();
  const err = sink();
  const ws = await new PortForward(
    kc,
    true,
    kubeauthWebSocketHandler(kube),
  ).portForward(
    "default",
    "web",
    [deadPort],
    out.stream,
    err.stream,
    new PassThrough(),
  ) as WsSocket;
  await closed(ws);
  out.stream.end();
  err.stream.end();
  assert.equal(await out.text, "");
  const message = await err.text;
  assert.match(message, new RegExp(`error forwarding port ${deadPort}`));
  assert.match(message, /ECONNREFUSED/);
});

test("client-node Cp on kube: cpToPod through an Exec on kubeauthWebSocketHandler", async () => {
  const { kube } = await pluginKube();
  const src = await makeTempDir();
  const dst = await makeTempDir();
  cleanups.push(() => src.remove(), () => dst.remove());
  await writeFile(join(src.path, "hello.txt"), "copied through kubeauth\n");
  // Cp does not hand out its socket (cpToPod resolves before the copy
  // ends): a handler that watches it from its opening tells the test when
  // and how it closes.
  const handler = kubeauthWebSocketHandler(kube);
  let opened!: (code: Promise<number>) => void;
  const sessionClosed = new Promise<number>((r) => opened = r);
  const watching: WebSocketInterface = {
    connect: async (path, text, binary) => {
      const ws = await handler.connect(path, text, binary);
      opened(closed(ws));
      return ws;
    },
  };
  await new Cp(kc, new Exec(kc, watching)).cpToPod(
    "default",
    "web",
    "app",
    src.path,
    dst.path,
  );
  // The pod's tar has exited when its session closes.
  assert.equal(await sessionClosed, 1000);
  assert.equal(
    await readFile(join(dst.path, "hello.txt"), "utf8"),
    "copied through kubeauth\n",
  );
  const rec = (await cluster.streams()).sessions.at(-1)!;
  assert.equal(rec.user, "demo-user-1");
  assert.deepEqual(new URLSearchParams(rec.query).getAll("command"), [
    "tar",
    "xf",
    "-",
    "-C",
    dst.path,
  ]);
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

/** A `cat` through client-node's Exec: what is written to `stdin` comes back on `out`. */
async function startCat(kube: AuthedFetch): Promise<{
  ws: WsSocket;
  stdin: PassThrough;
  echo: (text: string) => Promise<void>;
  status: Promise<V1Status>;
}> {
  const stdin = new PassThrough();
  const out = new PassThrough();
  let seen = "";
  const waiters: { text: string; resolve: () => void }[] = [];
  out.on("data", (c: Uint8Array) => {
    seen += new TextDecoder().decode(c);
    for (const w of [...waiters]) {
      if (seen.endsWith(w.text)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  let gotStatus!: (s: V1Status) => void;
  const status = new Promise<V1Status>((r) => gotStatus = r);
  const ws = await new Exec(kc, kubeauthWebSocketHandler(kube)).exec(
    "default",
    "web",
    "app",
    ["cat"],
    out,
    null,
    stdin,
    false,
    (s) => gotStatus(s),
  );
  const echo = (text: string) =>
    new Promise<void>((resolve) => {
      waiters.push({ text, resolve });
      stdin.write(text);
    });
  return { ws, stdin, echo, status };
}

test("client-node streams across a certificate rotation: new sessions on the new certificate only; one opened before keeps running (no drain deadline)", async () => {
  const clock = new JumpClock();
  const events: AuthedFetchEvent[] = [];
  const { kube, stateDir } = await pluginKube({
    now: clock.now,
    drainTimeoutMs: Infinity,
    onEvent: (e) => events.push(e),
  });
  const before = (await cluster.streams()).sessions.length;
  const cat = await startCat(kube);
  await cat.echo("before\n");
  clock.expireNext();
  // The first session after the expiry runs the plugin: demo-user-2.
  const r = await runExec(kube, ["true"]);
  assert.equal(r.status.status, "Success");
  const out = sink();
  const input = new PassThrough();
  const pf = await new PortForward(kc, true, kubeauthWebSocketHandler(kube))
    .portForward("default", "web", [echo.port], out.stream, null, input);
  input.end();
  await closed(pf as WsSocket);
  await closed(
    await new Attach(kc, kubeauthWebSocketHandler(kube)).attach(
      "default",
      "web",
      "app",
      null,
      null,
      new PassThrough().end(),
      false,
    ),
  );
  // The session opened on demo-user-1 still carries bytes both ways.
  await cat.echo("after\n");
  assert.equal(cat.ws.readyState, 1);
  const mine = (await cluster.streams()).sessions.slice(before);
  assert.deepEqual(mine.map((s) => [s.kind, s.user]), [
    ["exec", "demo-user-1"],
    ["exec", "demo-user-2"],
    ["portforward", "demo-user-2"],
    ["attach", "demo-user-2"],
  ]);
  assert.equal(mine[0].closed, false);
  assert.equal(await pluginRuns(stateDir), 2);
  assert.deepEqual(
    events.filter((e) => e.type.startsWith("transport-")).map((e) => e.type),
    ["transport-created", "transport-created", "transport-retired"],
  );
  // Its end is the command's: stdin's end, then Success and a normal close.
  const done = closed(cat.ws);
  cat.stdin.end();
  assert.equal((await cat.status).status, "Success");
  assert.equal(await done, 1000);
  assert.equal((await cluster.streams()).sessions[before].stdinBytes, 13);
});

test("client-node streams across a certificate rotation: at the drain deadline (0 ms) the old certificate's session is closed, the next opens on the new one", async () => {
  const clock = new JumpClock();
  let oldTransportClosed!: (e: AuthedFetchEvent) => void;
  const transportClosed = new Promise<AuthedFetchEvent>((r) =>
    oldTransportClosed = r
  );
  const { kube, stateDir } = await pluginKube({
    now: clock.now,
    drainTimeoutMs: 0,
    onEvent: (e) => {
      if (e.type === "transport-closed") oldTransportClosed(e);
    },
  });
  const before = (await cluster.streams()).sessions.length;
  const cat = await startCat(kube);
  await cat.echo("before\n");
  const oldClosed = closed(cat.ws);
  clock.expireNext();
  const r = await runExec(kube, ["echo", "new"]);
  assert.equal(r.out, "new\n");
  await oldClosed;
  assert.equal(cat.ws.readyState, 3);
  const mine = (await cluster.streams()).sessions.slice(before);
  assert.deepEqual(mine.map((s) => [s.kind, s.user]), [
    ["exec", "demo-user-1"],
    ["exec", "demo-user-2"],
  ]);
  assert.equal(await pluginRuns(stateDir), 2);
  assert.deepEqual(await transportClosed, {
    type: "transport-closed",
    generation: 1,
    forced: true,
  });
  await assertAllGone([mine[0].pid!], "the old session's process");
});
