import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createAuthedFetch } from "../src/fetch/authed_fetch.ts";
import type { AuthedFetch } from "../src/fetch/authed_fetch.ts";
import { KubeauthError } from "../src/errors.ts";
import { startCluster } from "./support/harness.ts";
import type { TestCluster } from "./support/harness.ts";
import {
  kubeconfigFor,
  LineReader,
  serverSaw,
  TestSource,
} from "./support/authed_fetch.ts";
import type { Echo } from "./support/echo.ts";

const TOKEN = "http-test-token-SECRET";
let cluster: TestCluster;
let source: TestSource;
let kube: AuthedFetch;

before(async () => {
  cluster = await startCluster({ tokens: { [TOKEN]: "http-user" } });
  source = new TestSource({ token: TOKEN });
  kube = await createAuthedFetch({
    kubeconfig: kubeconfigFor(cluster),
    credentialSource: source,
  });
});

after(async () => {
  await kube?.close();
  await cluster?.close();
});

async function echo(res: Response): Promise<Echo> {
  assert.equal(res.status, 200);
  return await res.json() as Echo;
}

test("paths, relative paths, same-origin URLs and Requests reach the cluster with the token", async () => {
  assert.equal(kube.server.href, cluster.url + "/");
  assert.equal(kube.namespace, "default");
  const a = await echo(await kube("/echo?x=1"));
  assert.equal(a.path, "/echo?x=1");
  assert.equal(a.user, "http-user");
  assert.equal(a.authScheme, "bearer");
  assert.equal(a.headers.authorization, "Bearer");
  assert.equal((await echo(await kube("echo"))).path, "/echo");
  assert.equal(
    (await echo(await kube(new URL("/echo", cluster.url)))).path,
    "/echo",
  );
  assert.equal((await echo(await kube(cluster.url + "/echo"))).path, "/echo");
  const req = new Request(cluster.url + "/echo", {
    method: "POST",
    body: "from a Request",
    headers: { "x-custom": "1" },
  });
  const r = await echo(await kube(req));
  assert.equal(r.method, "POST");
  assert.equal(r.body, "from a Request");
  assert.equal(r.headers["x-custom"], "1");
  assert.equal(r.user, "http-user");
  // init overrides the Request's fields.
  const o = await echo(
    await kube(new Request(cluster.url + "/echo"), {
      headers: [["x-over", "yes"]],
    }),
  );
  assert.equal(o.headers["x-over"], "yes");
  assert.equal(o.user, "http-user");
});

test("a server URL with a path prefix (Rancher) is kept for relative URLs", async () => {
  const prefixed = await createAuthedFetch({
    kubeconfig: kubeconfigFor(cluster, {}, {
      server: cluster.url + "/k8s/clusters/c-abc/",
    }),
    credentialSource: source,
  });
  try {
    assert.equal(prefixed.server.pathname, "/k8s/clusters/c-abc/");
    for (const input of ["/api/v1/pods", "api/v1/pods"]) {
      const res = await prefixed(input, { headers: { "x-request-id": input } });
      assert.equal(res.status, 404); // HTTP errors are responses
      await res.arrayBuffer();
    }
    const paths = (await cluster.requests())
      .filter((r) => r.id === "/api/v1/pods" || r.id === "api/v1/pods")
      .map((r) => r.path);
    assert.deepEqual(paths, [
      "/k8s/clusters/c-abc/api/v1/pods",
      "/k8s/clusters/c-abc/api/v1/pods",
    ]);
  } finally {
    await prefixed.close();
  }
});

test("URLs of another origin are refused with ORIGIN_REFUSED, naming the origin and no secret", async () => {
  const port = new URL(cluster.url).port;
  const others = [
    "https://example.com/api",
    new URL("https://example.com/api"),
    "//example.com/api",
    `https://localhost:${port}/echo`, // same server, other origin
    `http://127.0.0.1:${port}/echo`,
    new Request("https://example.com/x"),
  ];
  for (const input of others) {
    await assert.rejects(kube(input), (err) => {
      assert.ok(err instanceof KubeauthError);
      assert.equal(err.code, "ORIGIN_REFUSED");
      assert.ok(!err.message.includes(TOKEN));
      assert.match(err.message, /example\.com|localhost|http:\/\/127/);
      return true;
    });
  }
});

test("same-origin redirects are followed with credentials; cross-origin ones are returned unfollowed", async () => {
  for (const status of [301, 302, 303, 307, 308]) {
    const res = await kube(
      `/redirect?status=${status}&to=%2Fecho%3Fr%3D${status}`,
    );
    const e = await echo(res);
    assert.equal(e.path, `/echo?r=${status}`);
    assert.equal(e.user, "http-user", "credentials carried");
  }
  const port = new URL(cluster.url).port;
  const away = `https://localhost:${port}/echo?leak`;
  const res = await kube(`/redirect?to=${encodeURIComponent(away)}`, {
    headers: { "x-request-id": "cross" },
  });
  assert.equal(res.status, 302);
  assert.equal(res.headers.get("location"), away);
  await res.arrayBuffer();
  const leaked = (await cluster.requests()).filter((r) =>
    r.path === "/echo?leak"
  );
  assert.deepEqual(leaked, []);
  // The caller's redirect mode is honoured.
  const manual = await kube("/redirect?to=%2Fecho", { redirect: "manual" });
  assert.equal(manual.status, 302);
  await manual.arrayBuffer();
  await assert.rejects(
    kube("/redirect?to=%2Fecho", { redirect: "error" }),
    TypeError,
  );
  // Redirect chains are bounded.
  const limited = await createAuthedFetch({
    kubeconfig: kubeconfigFor(cluster),
    credentialSource: source,
    maxRedirects: 1,
  });
  try {
    const twice = "/redirect?to=" +
      encodeURIComponent("/redirect?to=" + encodeURIComponent("/echo"));
    await assert.rejects(limited(twice), TypeError);
    assert.equal((await limited("/redirect?to=%2Fecho")).status, 200);
  } finally {
    await limited.close();
  }
});

test("aborting mid-response rejects the request and the server sees it go", async () => {
  const controller = new AbortController();
  const pending = kube("/slow?ms=10000", {
    signal: controller.signal,
    headers: { "x-request-id": "abort-mid" },
  });
  await serverSaw(cluster, "abort-mid");
  controller.abort();
  await assert.rejects(pending, (err: Error) => err.name === "AbortError");
  // An already-aborted signal never sends anything.
  await assert.rejects(
    kube("/echo", { signal: AbortSignal.abort() }),
    (err: Error) => err.name === "AbortError",
  );
  // Aborting a streaming body.
  const watchAbort = new AbortController();
  const res = await kube(
    "/api/v1/namespaces/default/pods?watch=true&intervalMs=20",
    {
      signal: watchAbort.signal,
    },
  );
  const lines = new LineReader(res.body!);
  assert.ok(await lines.next());
  watchAbort.abort();
  await assert.rejects(async () => {
    for (;;) if ((await lines.next()) === null) return;
  });
});

test("aborting while the credential source is slow rejects at once", async () => {
  const slow = new TestSource({ token: TOKEN });
  const k = await createAuthedFetch({
    kubeconfig: kubeconfigFor(cluster),
    credentialSource: slow,
  });
  try {
    slow.hold();
    const controller = new AbortController();
    const pending = k("/echo", { signal: controller.signal });
    const other = k("/echo");
    controller.abort();
    await assert.rejects(pending, (err: Error) => err.name === "AbortError");
    slow.release();
    assert.equal((await echo(await other)).user, "http-user");
  } finally {
    await k.close();
  }
});

test("response bodies stream: watch events arrive as they are sent", async () => {
  const started = Date.now();
  const res = await kube(
    "/api/v1/namespaces/default/pods?watch=true&intervalMs=150",
  );
  const lines = new LineReader(res.body!);
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const event = JSON.parse((await lines.next())!);
    assert.equal(event.object.metadata.name, `pod-${i + 1}`);
    times.push(Date.now() - started);
  }
  await lines.cancel();
  // The third event is 300 ms after the first: it was not buffered up.
  assert.ok(times[2] - times[0] >= 200, `${times}`);
});

test("headers: records, Headers and pairs are merged with ours; the caller's objects are untouched", async () => {
  const record = { "X-A": "1" };
  const headers = new Headers({ "x-b": "2" });
  const a = await echo(await kube("/echo", { headers: record }));
  const b = await echo(await kube("/echo", { headers }));
  const c = await echo(await kube("/echo", { headers: [["x-c", "3"]] }));
  assert.equal(a.headers["x-a"], "1");
  assert.equal(b.headers["x-b"], "2");
  assert.equal(c.headers["x-c"], "3");
  for (const e of [a, b, c]) assert.equal(e.user, "http-user");
  assert.deepEqual(record, { "X-A": "1" });
  assert.equal(headers.has("authorization"), false);
});

test("close() closes the connections server-side and later calls reject with CLOSED", async () => {
  const k = await createAuthedFetch({
    kubeconfig: kubeconfigFor(cluster),
    credentialSource: source,
  });
  await (await k("/echo", { headers: { "x-request-id": "close-1" } }))
    .arrayBuffer();
  const watch = await k("/api/v1/namespaces/default/pods?watch=true", {
    headers: { "x-request-id": "close-watch" },
  });
  const lines = new LineReader(watch.body!);
  assert.ok(await lines.next());
  const conns = [
    ...new Set(
      (await cluster.requests())
        .filter((r) => r.id.startsWith("close-"))
        .map((r) => r.conn),
    ),
  ];
  await k.close();
  assert.deepEqual(await cluster.waitClosed(conns, 5000), {
    ok: true,
    open: [],
  });
  await assert.rejects(async () => {
    for (;;) if ((await lines.next()) === null) return;
  }, "the watch ends with an error");
  await assert.rejects(
    k("/echo"),
    (err) => err instanceof KubeauthError && err.code === "CLOSED",
  );
  await k.close(); // idempotent
  assert.equal(source.closed, false, "a caller-supplied source stays open");
});
