// cloudydeno's tunnel contract (performRequest({ expectTunnel })) on
// kubeauth, against the mTLS test cluster's stream endpoints with the demo
// exec plugin: consumers written here the way cloudydeno's typed APIs use a
// tunnel (0.7's getChannel/ready/stop as @cloudydeno/kubernetes-apis 0.5's
// tunnelPodExec/tunnelPodPortforward do; the later getReadableStream/
// getWritableStream/whenReady/close), exec with stdout/stderr/Status, stdin,
// port-forward byte-exact, refusals, abort, rotation, nothing left open.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createAuthedFetch } from "../src/fetch/authed_fetch.ts";
import type { AuthedFetch } from "../src/fetch/authed_fetch.ts";
import { KubeauthError, WebSocketRefusedError } from "../src/errors.ts";
import {
  KubeauthRestClient,
  KubeauthRestError,
  KubeauthTunnel,
} from "../src/integrations/cloudydeno.ts";
import type {
  KubernetesTunnel,
  RestClient,
} from "../src/integrations/cloudydeno.ts";
import { pluginRuns, startCluster } from "./support/harness.ts";
import type { StreamRecord, TestCluster } from "./support/harness.ts";
import {
  clientCert,
  demoPluginKube,
  kubeconfigFor,
  TestSource,
} from "./support/authed_fetch.ts";
import {
  assertStreamsReleased,
  closedOnServer,
  echoThrough,
  exitOnServer,
  randomBytes,
  refusedPort,
  startEchoServer,
} from "./support/streams.ts";
import type { EchoServer } from "./support/streams.ts";

let cluster: TestCluster;
let kube: AuthedFetch;
let client: KubeauthRestClient;
let stateDir: string;
let closeKube: () => Promise<void>;
let echo: EchoServer;

before(async () => {
  cluster = await startCluster({ requireClientCert: true });
  ({ kube, stateDir, close: closeKube } = await demoPluginKube(cluster));
  client = new KubeauthRestClient(kube);
  echo = await startEchoServer();
});

after(async () => {
  client?.close();
  await closeKube?.();
  await echo?.close();
  await cluster?.close();
});

const enc = new TextEncoder();
const text = (s: ReadableStream<Uint8Array> | null) => new Response(s).text();

// ---- Consumers, written the way cloudydeno's typed APIs drive a tunnel ----

/** The exit Status of an exec, with the exit code the way the APIs add it. */
type ExecStatus = {
  status: string;
  reason?: string;
  message?: string;
  exitCode?: number;
  details?: { causes?: { reason: string; message: string }[] };
};

function withExitCode(s: ExecStatus): ExecStatus {
  if (s.status === "Success") return { ...s, exitCode: 0 };
  const cause = s.details?.causes?.find((c) => c.reason === "ExitCode");
  return cause ? { ...s, exitCode: Number(cause.message) } : s;
}

/** Like kubernetes-apis 0.5's tunnelPodExec: flags as 1/0, GET, v4/v3, getChannel then ready(). */
async function execV07(
  rc: RestClient,
  pod: string,
  opts: {
    command: string[];
    stdin?: boolean;
    tty?: boolean;
    abortSignal?: AbortSignal;
  },
) {
  const query = new URLSearchParams();
  for (const c of opts.command) query.append("command", c);
  query.append("stderr", opts.tty ? "0" : "1");
  query.append("stdin", opts.stdin ? "1" : "0");
  query.append("stdout", "1");
  query.append("tty", opts.tty ? "1" : "0");
  const tunnel = await rc.performRequest({
    method: "GET",
    path: `/api/v1/namespaces/cdt/pods/${pod}/exec`,
    expectTunnel: ["v4.channel.k8s.io", "v3.channel.k8s.io"],
    querystring: query,
    abortSignal: opts.abortSignal,
  });
  const version = parseInt(tunnel.subProtocol.slice(1));
  const side = (streamIndex: number, readable: boolean) =>
    tunnel.getChannel({ streamIndex, readable, writable: !readable });
  const [stdin, stdout, stderr, error, resize] = await Promise.all([
    opts.stdin ? side(0, false).then((c) => c.writable) : null,
    side(1, true).then((c) => c.readable),
    opts.tty ? null : side(2, true).then((c) => c.readable),
    side(3, true).then((c) => c.readable),
    opts.tty ? side(4, false).then((c) => c.writable) : null,
  ]);
  await tunnel.ready();
  const status = text(error).then((t) =>
    version >= 4
      ? withExitCode(JSON.parse(t))
      : { status: "Failure", message: t }
  );
  status.catch(() => {});
  return { tunnel, stdin, stdout, stderr, resize, status };
}

/** Like the later typed APIs: getReadableStream/getWritableStream, whenReady(), v5 first. */
async function execLater(
  rc: RestClient,
  pod: string,
  command: string[],
  abortSignal?: AbortSignal,
) {
  const query = new URLSearchParams();
  for (const c of command) query.append("command", c);
  query.set("stdin", "true");
  query.set("stdout", "true");
  query.set("stderr", "true");
  const tunnel = await rc.performRequest({
    method: "POST",
    path: `/api/v1/namespaces/cdt/pods/${pod}/exec`,
    querystring: query,
    expectTunnel: ["v5.channel.k8s.io", "v4.channel.k8s.io"],
    abortSignal,
  });
  const stdin = tunnel.getWritableStream({ index: 0 });
  const stdout = tunnel.getReadableStream({ index: 1 });
  const stderr = tunnel.getReadableStream({ index: 2 });
  const status = text(tunnel.getReadableStream({ index: 3 })).then((t) =>
    withExitCode(JSON.parse(t))
  );
  status.catch(() => {});
  await tunnel.whenReady();
  return { tunnel, stdin, stdout, stderr, status };
}

/** Drops the 2-byte port header port-forward channels start with. */
function dropPort(): TransformStream<Uint8Array, Uint8Array> {
  let skip = 2;
  return new TransformStream({
    transform(chunk, c) {
      const n = Math.min(skip, chunk.length);
      skip -= n;
      if (chunk.length > n) c.enqueue(chunk.subarray(n));
    },
  });
}

/** Like kubernetes-apis 0.5's tunnelPodPortforward: ready() first, then the channels of port 0. */
async function forwardV07(rc: RestClient, pod: string, port: number) {
  const tunnel = await rc.performRequest({
    method: "GET",
    path: `/api/v1/namespaces/cdt/pods/${pod}/portforward`,
    expectTunnel: ["portforward.k8s.io", "v4.channel.k8s.io"],
    querystring: new URLSearchParams([["ports", String(port)]]),
  });
  await tunnel.ready();
  const [data, error] = await Promise.all([
    tunnel.getChannel({ streamIndex: 0, readable: true, writable: true }),
    tunnel.getChannel({ streamIndex: 1, readable: true, writable: false }),
  ]);
  const result = text(error.readable.pipeThrough(dropPort()));
  result.catch(() => {});
  return {
    tunnel,
    readable: data.readable.pipeThrough(dropPort()),
    writable: data.writable,
    result,
  };
}

async function lastSession(): Promise<StreamRecord> {
  return (await cluster.streams()).sessions.at(-1)!;
}

// ---- Tests ----

test("tunnel (0.7 contract): exec with stdout, stderr and the exit Status on channel 3", async () => {
  const s = await execV07(client, "web", {
    command: ["sh", "-c", "echo out; echo err >&2; exit 3"],
  });
  assert.ok(s.tunnel instanceof KubeauthTunnel);
  assert.equal(s.tunnel.transportProtocol, "WebSocket");
  assert.equal(s.tunnel.subProtocol, "v4.channel.k8s.io");
  const [out, err, status] = await Promise.all([
    text(s.stdout),
    text(s.stderr),
    s.status,
  ]);
  assert.equal(out, "out\n");
  assert.equal(err, "err\n");
  assert.equal(status.status, "Failure");
  assert.equal(status.reason, "NonZeroExitCode");
  assert.equal(status.exitCode, 3);
  const rec = await lastSession();
  assert.equal(rec.user, "demo-user-1");
  assert.match(rec.query, /command=sh&command=-c&command=echo\+out/);
  assert.match(rec.query, /stdout=1/);
  await s.tunnel.stop(); // after the server's close: nothing to do
  const ok = await execV07(client, "web", { command: ["true"] });
  assert.equal((await ok.status).exitCode, 0);
  assert.equal(await pluginRuns(stateDir), 1);
});

test("tunnel (later contract): v5 stdin with EOF on close, 4 MiB byte-exact", async () => {
  const size = 4 * 1024 * 1024;
  const data = randomBytes(size);
  const s = await execLater(client, "web", ["cat"]);
  assert.equal(s.tunnel.subProtocol, "v5.channel.k8s.io");
  const writing = (async () => {
    const w = s.stdin.getWriter();
    for (let i = 0; i < size; i += 100_000) {
      await w.write(data.subarray(i, Math.min(size, i + 100_000)));
    }
    await w.close(); // [255, 0]: the command sees EOF and exits
  })();
  const [got, err, status] = await Promise.all([
    new Response(s.stdout).arrayBuffer(),
    text(s.stderr),
    s.status,
  ]);
  await writing;
  assert.equal(status.exitCode, 0);
  assert.equal(err, "");
  assert.equal(got.byteLength, size);
  assert.ok(Buffer.from(got).equals(Buffer.from(data)), "bytes differ");
  assert.equal((await lastSession()).stdinBytes, size);
});

test("tunnel: v4 stdin (no EOF message), tty and resize on channel 4", async () => {
  const s = await execV07(client, "web", {
    command: ["sh", "-c", "head -c 5; echo"],
    stdin: true,
    tty: true,
  });
  assert.equal(s.stderr, null);
  const r = s.resize!.getWriter();
  await r.write(enc.encode(JSON.stringify({ Width: 100, Height: 30 })));
  const w = s.stdin!.getWriter();
  await w.write(enc.encode("hello"));
  await w.close(); // v4: nothing is sent
  assert.equal(await text(s.stdout), "hello\n");
  assert.equal((await s.status).exitCode, 0);
  const rec = await lastSession();
  assert.equal(rec.protocol, "v4.channel.k8s.io");
  assert.deepEqual(rec.resizes, [{ Width: 100, Height: 30 }]);
  assert.equal(rec.stdinBytes, 5);
});

test("tunnel: port-forward byte-exact (channels taken after ready(): the port headers wait)", async () => {
  const size = 4 * 1024 * 1024;
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 13) & 0xff;
  const f = await forwardV07(client, "web", echo.port);
  assert.equal(f.tunnel.subProtocol, "v4.channel.k8s.io");
  const reader = f.readable.getReader();
  const got = await echoThrough(f.writable, reader, data);
  assert.equal(got.length, size);
  assert.ok(Buffer.from(got).equals(Buffer.from(data)), "bytes differ");
  await f.tunnel.stop();
  assert.equal((await reader.read()).done, true);
  assert.equal(await f.result, ""); // no error on the error channel
  await closedOnServer(cluster, (r) => r.kind === "portforward");

  const deadPort = await refusedPort();
  const d = await forwardV07(client, "web", deadPort);
  assert.match(await d.result, /ECONNREFUSED/);
  assert.match(await d.result, new RegExp(`forwarding port ${deadPort}`));
});

test("tunnel: a refused upgrade rejects as cloudydeno's errors (httpCode, status)", async () => {
  const missing = await execV07(client, "missing-7", { command: ["true"] })
    .then(() => null, (e) => e);
  assert.ok(missing instanceof KubeauthRestError, String(missing));
  assert.equal(missing.httpCode, 404);
  assert.equal(missing.code, "HTTP_ERROR");
  assert.equal(missing.reason, "NotFound");
  const status = missing.status as {
    kind: string;
    reason: string;
    code: number;
  };
  assert.equal(status.kind, "Status");
  assert.equal(status.reason, "NotFound");
  assert.equal(status.code, 404);
  assert.equal(
    missing.message,
    'Error from server (NotFound): pods "missing-7" not found',
  );
  assert.ok(missing.cause instanceof WebSocketRefusedError);
  const forbidden = await execLater(client, "forbidden-7", ["true"])
    .then(() => null, (e) => e);
  assert.ok(forbidden instanceof KubeauthRestError);
  assert.equal(forbidden.httpCode, 403);
  assert.match(
    forbidden.message,
    /^Error from server \(Forbidden\): pods "forbidden-7" is forbidden: User "demo-user-1" cannot create resource "pods\/exec"/,
  );
  // An offer the server does not speak: Deno opens the socket with no
  // subprotocol (the client refuses it: STREAM_FAILED); Bun's and Node's
  // handshakes fail, and the same URL as a plain GET answers 400.
  const none = await client.performRequest({
    method: "GET",
    path: "/api/v1/namespaces/cdt/pods/web/exec",
    querystring: new URLSearchParams([["command", "true"]]),
    expectTunnel: ["v1.nothing.example"],
  }).then(() => null, (e) => e);
  assert.ok(none instanceof KubeauthError, String(none));
  if (none.code === "STREAM_FAILED") {
    assert.match(none.message, /not one of v1\.nothing\.example/);
  } else {
    assert.equal((none as KubeauthRestError).httpCode, 400);
  }
  await closedOnServer(cluster, (r) => r.protocol === "");
});

test("tunnel: abort before and during; the server's process is stopped", async () => {
  const early = new AbortController();
  const reason0 = new Error("not now");
  early.abort(reason0);
  const before = (await cluster.streams()).sessions.length;
  await assert.rejects(
    execLater(client, "web", ["true"], early.signal),
    (e) => e === reason0,
  );
  assert.equal((await cluster.streams()).sessions.length, before);

  const ac = new AbortController();
  const s = await execLater(client, "web", [
    "sh",
    "-c",
    "echo started; exec sleep 60",
  ], ac.signal);
  const reader = s.stdout.getReader();
  assert.equal(
    new TextDecoder().decode((await reader.read()).value),
    "started\n",
  );
  const reason = new Error("user stopped");
  ac.abort(reason);
  await assert.rejects(reader.read(), (e) => e === reason);
  await assert.rejects(s.status, (e) => e === reason);
  const w = s.stdin.getWriter();
  await assert.rejects(w.write(enc.encode("x")), (e) => e === reason);
  const pid = (await lastSession()).pid!;
  await closedOnServer(cluster, (r) => r.pid === pid);
  // Rejects if the remote process is not stopped.
  await exitOnServer(cluster, pid);
});

test("tunnel: close()/stop()/using end the readables and release the socket; client.close() closes its tunnels", async () => {
  const s = await execLater(client, "web", ["sleep", "60"]);
  const pending = text(s.stdout);
  await s.tunnel.close();
  assert.equal(await pending, "");
  await assert.rejects(s.stdin.getWriter().write(enc.encode("x")), {
    code: "STREAM_FAILED",
  });
  const pid = (await lastSession()).pid!;
  await closedOnServer(cluster, (r) => r.pid === pid);

  const t = await client.performRequest({
    method: "GET",
    path: "/api/v1/namespaces/cdt/pods/web/exec",
    querystring: new URLSearchParams([
      ["command", "sleep"],
      ["command", "60"],
      ["stdout", "1"],
    ]),
    expectTunnel: ["v4.channel.k8s.io"],
  }) as KubeauthTunnel;
  assert.equal(t.subProtocol, "v4.channel.k8s.io");
  t[Symbol.dispose](); // what `using` calls
  const usedPid = (await lastSession()).pid!;
  await closedOnServer(cluster, (r) => r.pid === usedPid);

  const own = new KubeauthRestClient(kube);
  const o = await execLater(own, "web", ["sleep", "60"]);
  const ownPid = (await lastSession()).pid!;
  own.close();
  await assert.rejects(text(o.stdout), { code: "CLOSED" });
  await closedOnServer(cluster, (r) => r.pid === ownPid);
  await assert.rejects(
    execLater(own, "web", ["true"]),
    (e) => e instanceof KubeauthError && e.code === "CLOSED",
  );
});

test("tunnel: cut by the server → STREAM_FAILED; bad channel indexes refused", async () => {
  const s = await execLater(client, "web", [
    "sh",
    "-c",
    "echo started; exec sleep 60",
  ]);
  const reader = s.stdout.getReader();
  await reader.read();
  await cluster.destroyStreams();
  await assert.rejects(reader.read(), { code: "STREAM_FAILED" });
  await assert.rejects(s.status, { code: "STREAM_FAILED" });

  const t: KubernetesTunnel = await client.performRequest({
    method: "GET",
    path: "/api/v1/namespaces/cdt/pods/web/exec",
    querystring: new URLSearchParams([["command", "true"], ["stdout", "1"]]),
    expectTunnel: ["v4.channel.k8s.io"],
  });
  assert.throws(() => t.getReadableStream({}), { code: "STREAM_FAILED" });
  assert.throws(() => t.getWritableStream({ index: 255 }), {
    code: "STREAM_FAILED",
  });
  await assert.rejects(
    t.getChannel({ readable: true, writable: false }),
    { code: "STREAM_FAILED" },
  );
  const status = t.getReadableStream({ index: 3 });
  assert.throws(() => t.getReadableStream({ index: 3 }), /already taken/);
  assert.equal(JSON.parse(await text(status)).status, "Success");
  // A channel asked for after the end: what arrived, then the end.
  assert.equal(await text(t.getReadableStream({ index: 1 })), "");
});

test("tunnel: rotation — an open tunnel keeps its connection until the drain deadline, new ones use the new certificate", async () => {
  const source = new TestSource({
    clientCertificate: await clientCert(cluster, "before"),
  });
  const k = await createAuthedFetch({
    kubeconfig: kubeconfigFor(cluster, { token: "unused" }) as never,
    credentialSource: source,
    drainTimeoutMs: 0,
  });
  try {
    const rc = new KubeauthRestClient(k);
    const long = await execLater(rc, "web", ["cat"]);
    const w = long.stdin.getWriter();
    const r = long.stdout.getReader();
    await w.write(enc.encode("a"));
    assert.equal(new TextDecoder().decode((await r.read()).value), "a");
    source.rotate({ clientCertificate: await clientCert(cluster, "after") });
    const fresh = await execLater(rc, "web", ["true"]);
    await fresh.stdin.close();
    assert.equal((await fresh.status).exitCode, 0);
    const users = (await cluster.streams()).sessions.slice(-2).map((s) =>
      s.user
    );
    assert.deepEqual(users, ["before", "after"]);
    // drainTimeoutMs 0: the old certificate's connection is closed at once.
    await assert.rejects(r.read(), { code: "STREAM_FAILED" });
  } finally {
    await k.close();
  }
});

test("tunnel: after kube.close() no stream session, process or connection is left open", async () => {
  const open = await execLater(client, "web", ["sleep", "60"]);
  const fw = await forwardV07(client, "web", echo.port);
  await kube.close();
  await assert.rejects(text(open.stdout));
  await assert.rejects(new Response(fw.readable).arrayBuffer());
  await assertStreamsReleased(cluster);
});
