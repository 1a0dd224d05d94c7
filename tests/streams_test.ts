import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createAuthedFetch } from "../src/fetch/authed_fetch.ts";
import type { AuthedFetch } from "../src/fetch/authed_fetch.ts";
import { attachToPod, execInPod } from "../src/streams/exec.ts";
import { portForward } from "../src/streams/port_forward.ts";
import { startCluster } from "./support/harness.ts";
import type { TestCluster } from "./support/harness.ts";
import {
  clientCert,
  kubeconfigFor,
  TestSource,
} from "./support/authed_fetch.ts";
import {
  assertStreamsReleased,
  echoThrough,
  exitOnServer,
  randomBytes,
  refusedPort,
  startEchoServer,
} from "./support/streams.ts";
import type { EchoServer } from "./support/streams.ts";

let cluster: TestCluster;
let kube: AuthedFetch;
let echo: EchoServer;

before(async () => {
  cluster = await startCluster({ tokens: { "tok-s": "sam" } });
  kube = await createAuthedFetch({
    kubeconfig: kubeconfigFor(cluster, { token: "tok-s" }) as never,
  });
  // A real TCP server for port-forward: echoes what it receives.
  echo = await startEchoServer();
});

after(async () => {
  await kube?.close();
  await echo?.close();
  await cluster?.close();
});

const text = (s: ReadableStream<Uint8Array> | null) => new Response(s).text();

test("exec: stdout and stderr separated, exit code from the final Status", async () => {
  const s = await execInPod(kube, {
    pod: "web",
    command: ["sh", "-c", "echo out; echo err >&2; exit 3"],
  });
  assert.equal(s.protocol, "v5.channel.k8s.io");
  assert.equal(s.stdin, null);
  const [out, err, exited] = await Promise.all([
    text(s.stdout),
    text(s.stderr),
    s.exited,
  ]);
  assert.equal(out, "out\n");
  assert.equal(err, "err\n");
  assert.equal(exited.exitCode, 3);
  const ok = await execInPod(kube, { pod: "web", command: ["true"] });
  assert.equal((await ok.exited).exitCode, 0);
  const q = (await cluster.streams()).sessions.at(-2)!.query;
  assert.match(q, /command=sh&command=-c&command=echo%20out/);
});

test("exec: stdin with EOF through the close channel; 10 MiB byte-exact both ways", async () => {
  const size = 10 * 1024 * 1024;
  const data = randomBytes(size);
  const s = await execInPod(kube, {
    pod: "web",
    command: ["cat"],
    stdin: true,
  });
  const writing = (async () => {
    const w = s.stdin!.getWriter();
    for (let i = 0; i < size; i += 100_000) {
      await w.write(data.subarray(i, Math.min(size, i + 100_000)));
    }
    await w.close();
  })();
  const got = new Uint8Array(await new Response(s.stdout).arrayBuffer());
  await writing;
  assert.equal((await s.exited).exitCode, 0);
  assert.equal(got.length, size);
  assert.ok(Buffer.from(got).equals(Buffer.from(data)), "bytes differ");
  assert.equal((await cluster.streams()).sessions.at(-1)!.stdinBytes, size);
});

test("exec: falls back to v4.channel.k8s.io when the server offers only that", async () => {
  await cluster.configureStreams({ protocols: ["v4.channel.k8s.io"] });
  try {
    const s = await execInPod(kube, {
      pod: "web",
      command: ["sh", "-c", "echo v4; exit 7"],
    });
    assert.equal(s.protocol, "v4.channel.k8s.io");
    assert.equal(await text(s.stdout), "v4\n");
    assert.equal((await s.exited).exitCode, 7);
  } finally {
    await cluster.configureStreams({
      protocols: ["v5.channel.k8s.io", "v4.channel.k8s.io"],
    });
  }
});

test("exec: tty merges stderr into stdout and forwards resizes", async () => {
  const s = await execInPod(kube, {
    pod: "web",
    command: ["sh", "-c", "read x; echo got $x; echo e >&2"],
    stdin: true,
    tty: true,
  });
  assert.equal(s.stderr, null);
  s.resize(120, 40);
  const w = s.stdin!.getWriter();
  await w.write(new TextEncoder().encode("line\n"));
  const out = await text(s.stdout);
  assert.equal(out, "got line\ne\n");
  assert.equal((await s.exited).exitCode, 0);
  const rec = (await cluster.streams()).sessions.at(-1)!;
  assert.deepEqual(rec.resizes, [{ Width: 120, Height: 40 }]);
  assert.match(rec.query, /tty=true/);
  assert.doesNotMatch(rec.query, /stderr=/);
});

test("exec: unknown pod and forbidden pod reject with the server's message", async () => {
  await assert.rejects(
    execInPod(kube, { pod: "missing-1", command: ["true"] }),
    (err: Error & { code?: string; status?: number }) => {
      assert.equal(err.code, "WEBSOCKET_REFUSED");
      assert.equal(err.status, 404);
      assert.match(err.message, /pods "missing-1" not found/);
      return true;
    },
  );
  await assert.rejects(
    execInPod(kube, { pod: "forbidden-1", command: ["true"] }),
    /pods "forbidden-1" is forbidden: User "sam" cannot create resource "pods\/exec"/,
  );
});

test("exec: a killed remote command exits 137; a server cutting the stream is STREAM_FAILED", async () => {
  const killed = await execInPod(kube, {
    pod: "web",
    command: ["sh", "-c", "kill -9 $$"],
  });
  assert.equal((await killed.exited).exitCode, 137);
  const s = await execInPod(kube, {
    pod: "web",
    command: ["sh", "-c", "echo started; exec sleep 60"],
  });
  const reader = s.stdout.getReader();
  assert.equal(
    new TextDecoder().decode((await reader.read()).value),
    "started\n",
  );
  await cluster.destroyStreams();
  await assert.rejects(s.exited, { code: "STREAM_FAILED" });
  await assert.rejects(reader.read(), { code: "STREAM_FAILED" });
});

test("exec: abort mid-stream closes the session and rejects exited with the reason", async () => {
  const ac = new AbortController();
  const s = await execInPod(kube, {
    pod: "web",
    command: ["sh", "-c", "echo started; exec sleep 60"],
    signal: ac.signal,
  });
  const reader = s.stdout.getReader();
  await reader.read();
  const reason = new Error("user stopped");
  ac.abort(reason);
  await assert.rejects(s.exited, (e) => e === reason);
  const pid = (await cluster.streams()).sessions.at(-1)!.pid!;
  // Rejects if the remote process is not stopped.
  await exitOnServer(cluster, pid);
});

test("exec: a reader that never reads fails the session instead of buffering without bound", async () => {
  const s = await execInPod(kube, {
    pod: "web",
    command: ["head", "-c", String(80 * 1024 * 1024), "/dev/zero"],
  });
  await assert.rejects(s.exited, /left unread/);
});

test("attach: the container's main process gets stdin and its output comes back", async () => {
  const s = await attachToPod(kube, { pod: "web", stdin: true });
  const w = s.stdin!.getWriter();
  await w.write(new TextEncoder().encode("attached!"));
  await w.close();
  assert.equal(await text(s.stdout), "attached!");
  assert.equal((await s.exited).exitCode, 0);
  assert.equal((await cluster.streams()).sessions.at(-1)!.kind, "attach");
});

test("portForward: a duplex byte stream to the pod's port; the error channel is a stream error", async () => {
  const c = await portForward(kube, { pod: "web", port: echo.port });
  const w = c.writable.getWriter();
  const r = c.readable.getReader();
  await w.write(new TextEncoder().encode("ping"));
  let got = "";
  for (let chunk = await r.read(); !chunk.done; chunk = await r.read()) {
    got += new TextDecoder().decode(chunk.value);
    if (got.length >= 4) break;
  }
  assert.equal(got, "ping");
  c.close();
  assert.equal((await r.read()).done, true);

  const deadPort = await refusedPort();
  const d = await portForward(kube, { pod: "web", port: deadPort });
  await assert.rejects(
    new Response(d.readable).arrayBuffer(),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, "STREAM_FAILED");
      assert.match(err.message, new RegExp(`port ${deadPort}`));
      assert.match(err.message, /ECONNREFUSED/);
      return true;
    },
  );
});

test("portForward: 10 MiB through a forwarded connection byte-exact", async () => {
  const size = 10 * 1024 * 1024;
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 7) & 0xff;
  const c = await portForward(kube, { pod: "web", port: echo.port });
  const got = await echoThrough(c.writable, c.readable.getReader(), data);
  c.close();
  assert.equal(got.length, size);
  assert.ok(Buffer.from(got).equals(Buffer.from(data)));
});

test("exec: rotation during a long session: it keeps running, new sessions use the new certificate", async () => {
  const source = new TestSource({
    clientCertificate: await clientCert(cluster, "before"),
  });
  const k = await createAuthedFetch({
    kubeconfig: kubeconfigFor(cluster, { token: "unused" }) as never,
    credentialSource: source,
    drainTimeoutMs: Infinity,
  });
  try {
    const long = await execInPod(k, {
      pod: "web",
      command: ["cat"],
      stdin: true,
    });
    const w = long.stdin!.getWriter();
    const r = long.stdout.getReader();
    await w.write(new TextEncoder().encode("a"));
    await r.read();
    source.rotate({ clientCertificate: await clientCert(cluster, "after") });
    const fresh = await execInPod(k, { pod: "web", command: ["true"] });
    assert.equal((await fresh.exited).exitCode, 0);
    const users = (await cluster.streams()).sessions.slice(-2).map((s) =>
      s.user
    );
    assert.deepEqual(users, ["before", "after"]);
    await w.write(new TextEncoder().encode("b"));
    assert.equal(new TextDecoder().decode((await r.read()).value), "b");
    await w.close();
    assert.equal((await long.exited).exitCode, 0);
  } finally {
    await k.close();
  }
});

test("close(): every stream socket and remote process is released", async () => {
  const open = await execInPod(kube, {
    pod: "web",
    command: ["sleep", "60"],
    stdin: true,
  });
  const fw = await portForward(kube, { pod: "web", port: echo.port });
  await kube.close();
  await assert.rejects(open.exited);
  // Closed under it: the forwarded stream errors rather than ending as if
  // the pod had closed the connection.
  await assert.rejects(new Response(fw.readable).arrayBuffer(), {
    code: "STREAM_FAILED",
  });
  // The server sees every session closed and every process ended, and no
  // TLS connection of the client is left open.
  await assertStreamsReleased(cluster);
});
