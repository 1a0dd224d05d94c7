import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createAuthedFetch } from "../src/fetch/authed_fetch.ts";
import type { AuthedFetchEvent } from "../src/fetch/authed_fetch.ts";
import { WebSocketRefusedError } from "../src/errors.ts";
import { startCluster } from "./support/harness.ts";
import type { TestCluster } from "./support/harness.ts";
import {
  clientCert,
  EventLog,
  kubeconfigFor,
  TestSource,
} from "./support/authed_fetch.ts";
import { makeCredentials } from "../src/credentials/credentials.ts";

let cluster: TestCluster;

before(async () => {
  cluster = await startCluster({ tokens: { "tok-a": "alice" } });
});

after(async () => {
  await cluster?.close();
});

const EXEC =
  "/api/v1/namespaces/default/pods/web/exec?command=echo&command=early&stdout=true";

/** Every message until the socket closes (listener attached after open). */
function collect(
  ws: WebSocket,
): Promise<{ frames: Uint8Array[]; code: number }> {
  return new Promise((resolve) => {
    const frames: Uint8Array[] = [];
    ws.addEventListener("message", (e) => {
      frames.push(new Uint8Array((e as MessageEvent).data as ArrayBuffer));
    });
    ws.addEventListener("close", (e) => {
      resolve({ frames, code: (e as CloseEvent).code });
    });
  });
}

test("webSocket: token header, subprotocol, frames sent right after the upgrade reach a late listener", async () => {
  const kube = await createAuthedFetch({
    kubeconfig: kubeconfigFor(cluster, { token: "tok-a" }) as never,
  });
  try {
    const ws = await kube.webSocket(EXEC, {
      protocols: ["v5.channel.k8s.io", "v4.channel.k8s.io"],
    });
    assert.equal(ws.protocol, "v5.channel.k8s.io");
    assert.equal(ws.readyState, 1);
    // Let the server finish (all its frames sent) before anyone listens.
    await serverSessionEnded();
    const { frames } = await collect(ws);
    assert.equal(frames[0][0], 1);
    assert.equal(new TextDecoder().decode(frames[0].subarray(1)), "early\n");
    const last = frames[frames.length - 1];
    assert.equal(last[0], 3);
    assert.match(new TextDecoder().decode(last.subarray(1)), /Success/);
    const { sessions } = await cluster.streams();
    assert.equal(sessions.at(-1)?.user, "alice");
  } finally {
    await kube.close();
  }
});

test("webSocket: a client certificate user is authenticated by its certificate", async () => {
  const cert = await clientCert(cluster, "carol");
  const source = new TestSource({ clientCertificate: cert });
  const kube = await createAuthedFetch({
    kubeconfig: kubeconfigFor(cluster, { token: "unused" }) as never,
    credentialSource: source,
  });
  try {
    const ws = await kube.webSocket(EXEC, { protocols: ["v4.channel.k8s.io"] });
    assert.equal(ws.protocol, "v4.channel.k8s.io");
    await collect(ws);
    const { sessions } = await cluster.streams();
    assert.equal(sessions.at(-1)?.user, "carol");
  } finally {
    await kube.close();
  }
});

test("webSocket: refused upgrades carry the HTTP status and the server's Status message", async () => {
  const kube = await createAuthedFetch({
    kubeconfig: kubeconfigFor(cluster, { token: "tok-a" }) as never,
  });
  try {
    await assert.rejects(
      kube.webSocket(
        "/api/v1/namespaces/default/pods/missing-x/exec?command=true",
      ),
      (err: unknown) => {
        assert.ok(err instanceof WebSocketRefusedError);
        assert.equal(err.code, "WEBSOCKET_REFUSED");
        assert.equal(err.status, 404);
        assert.match(err.message, /pods "missing-x" not found/);
        return true;
      },
    );
    await assert.rejects(
      kube.webSocket(
        "/api/v1/namespaces/default/pods/forbidden-y/exec?command=true",
      ),
      (err: unknown) => {
        assert.ok(err instanceof WebSocketRefusedError);
        assert.equal(err.status, 403);
        assert.match(
          err.message,
          /pods "forbidden-y" is forbidden: User "alice" cannot create resource "pods\/exec"/,
        );
        return true;
      },
    );
    await assert.rejects(
      kube.webSocket("https://example.com/x"),
      { code: "ORIGIN_REFUSED" },
    );
  } finally {
    await kube.close();
  }
});

test("webSocket: a 401 refreshes the credentials and tries once more", async () => {
  const source = new TestSource({ token: "stale" });
  source.onRefresh = () => Promise.resolve(makeCredentials({ token: "tok-a" }));
  const kube = await createAuthedFetch({
    kubeconfig: kubeconfigFor(cluster, { token: "unused" }) as never,
    credentialSource: source,
  });
  try {
    const ws = await kube.webSocket(EXEC);
    await collect(ws);
    assert.equal(source.refreshes, 1);
  } finally {
    await kube.close();
  }
  const bad = new TestSource({ token: "nope" });
  bad.onRefresh = () => Promise.resolve(makeCredentials({ token: "nope-2" }));
  const kube2 = await createAuthedFetch({
    kubeconfig: kubeconfigFor(cluster, { token: "unused" }) as never,
    credentialSource: bad,
  });
  try {
    await assert.rejects(kube2.webSocket(EXEC), { status: 401 });
    assert.equal(bad.refreshes, 1);
  } finally {
    await kube2.close();
  }
});

test("webSocket: abort during the handshake rejects with the reason; close() closes every socket", async () => {
  const kube = await createAuthedFetch({
    kubeconfig: kubeconfigFor(cluster, { token: "tok-a" }) as never,
  });
  const ac = new AbortController();
  const reason = new Error("stop");
  const pending = kube.webSocket(EXEC, { signal: ac.signal });
  ac.abort(reason);
  await assert.rejects(pending, (err) => err === reason);
  const ws = await kube.webSocket(
    "/api/v1/namespaces/default/pods/web/exec?command=sleep&command=30&stdout=true",
  );
  const closed = new Promise((r) => ws.addEventListener("close", r));
  await kube.close();
  await closed;
  assert.equal(ws.readyState, 3);
  await assert.rejects(kube.webSocket(EXEC), { code: "CLOSED" });
});

test("webSocket: a socket on a rotated certificate keeps running while it drains, new sockets use the new certificate", async () => {
  const log = new EventLog<AuthedFetchEvent>();
  const source = new TestSource({
    clientCertificate: await clientCert(cluster, "old"),
  });
  const kube = await createAuthedFetch({
    kubeconfig: kubeconfigFor(cluster, { token: "unused" }) as never,
    credentialSource: source,
    onEvent: (e) => log.push(e),
    drainTimeoutMs: Infinity,
  });
  try {
    const ws = await kube.webSocket(CAT);
    const ended = new Promise((r) => ws.addEventListener("close", r));
    const firstEcho = echoOnce(ws);
    source.rotate({ clientCertificate: await clientCert(cluster, "new") });
    const ws2 = await kube.webSocket(EXEC);
    await collect(ws2);
    const { sessions } = await cluster.streams();
    assert.equal(sessions.at(-1)?.user, "new");
    // The old socket still works after the rotation.
    ws.send(new Uint8Array([0, 104, 105]));
    assert.equal(await firstEcho, "hi");
    assert.equal(ws.readyState, 1);
    await kube.close();
    await ended;
  } finally {
    await kube.close();
  }
});

test("webSocket: at the drain deadline the rotated certificate's socket is closed", async () => {
  const source = new TestSource({
    clientCertificate: await clientCert(cluster, "old"),
  });
  const kube = await createAuthedFetch({
    kubeconfig: kubeconfigFor(cluster, { token: "unused" }) as never,
    credentialSource: source,
    drainTimeoutMs: 0,
  });
  try {
    const ws = await kube.webSocket(CAT);
    const ended = new Promise((r) => ws.addEventListener("close", r));
    source.rotate({ clientCertificate: await clientCert(cluster, "new") });
    await (await kube("/version")).body?.cancel();
    await ended;
    assert.equal(ws.readyState, 3);
    const ws2 = await kube.webSocket(EXEC);
    await collect(ws2);
  } finally {
    await kube.close();
  }
});

const CAT =
  "/api/v1/namespaces/default/pods/web/exec?command=cat&stdin=true&stdout=true";

/** The next stdout frame's text. */
function echoOnce(ws: WebSocket): Promise<string> {
  return new Promise((resolve) => {
    const on = (e: Event) => {
      const b = new Uint8Array((e as MessageEvent).data as ArrayBuffer);
      if (b[0] !== 1) return;
      ws.removeEventListener("message", on);
      resolve(new TextDecoder().decode(b.subarray(1)));
    };
    ws.addEventListener("message", on);
  });
}

test("webSocket: after a 16 KiB burst no runtime sends empty messages to a cluster with a CA", async () => {
  const kube = await createAuthedFetch({
    kubeconfig: kubeconfigFor(cluster, { token: "tok-a" }) as never,
  });
  try {
    const ws = await kube.webSocket(CAT, { protocols: ["v5.channel.k8s.io"] });
    const message = new Uint8Array(20_001); // channel 0 (stdin), 20 000 bytes
    ws.send(message);
    // The first flush is due 10 ms after the send; this timer, set later
    // and longer, fires after it on the same clock.
    await new Promise((resolve) => setTimeout(resolve, 30));
    ws.close(1000);
    await serverSessionEnded();
    const { sessions } = await cluster.streams();
    const record = sessions.at(-1)!;
    assert.equal(record.stdinBytes, 20_000);
    // Deno's own WebSocket needs empty flush messages over wss:
    // (denoland/deno#36862, src/runtime/wss_tail_flush.ts), but a cluster
    // with a CA gets the node:tls client there (it trusts the CA alone), and
    // Bun and Node send nothing extra.
    assert.equal(record.emptyMessages, 0);
  } finally {
    await kube.close();
  }
});

test("webSocket: tls-server-name verifies the certificate against that name; insecure-skip-tls-verify connects", async () => {
  const open = async (clusterExtra: Record<string, unknown>) => {
    const kube = await createAuthedFetch({
      kubeconfig: kubeconfigFor(
        cluster,
        { token: "tok-a" },
        clusterExtra,
      ) as never,
    });
    try {
      const ws = await kube.webSocket(EXEC, {
        protocols: ["v5.channel.k8s.io"],
      });
      const { frames } = await collect(ws);
      return new TextDecoder().decode(frames[0].subarray(1));
    } finally {
      await kube.close();
    }
  };
  // The test cluster's certificate names localhost and 127.0.0.1.
  assert.equal(await open({ "tls-server-name": "localhost" }), "early\n");
  await assert.rejects(open({ "tls-server-name": "kube.test" }));
  assert.equal(
    await open({
      "certificate-authority-data": undefined,
      "insecure-skip-tls-verify": true,
    }),
    "early\n",
  );
});

/** Polls (bounded) until the newest server session has closed. */
async function serverSessionEnded(): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const { sessions } = await cluster.streams();
    if (sessions.at(-1)?.closed) return;
  }
  throw new Error("the server session did not end");
}
