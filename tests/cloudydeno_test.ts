// cloudydeno's RestClient contract (declared in src/integrations/cloudydeno.ts)
// on kubeauth, against the mTLS test cluster with the demo exec plugin.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { AuthedFetch } from "../src/fetch/authed_fetch.ts";
import { KubeauthError } from "../src/errors.ts";
import {
  KubeauthRestClient,
  KubeauthRestError,
} from "../src/integrations/cloudydeno.ts";
import type { JSONValue, RestClient } from "../src/integrations/cloudydeno.ts";
import { pluginRuns, startCluster } from "./support/harness.ts";
import type { TestCluster } from "./support/harness.ts";
import { demoPluginKube } from "./support/authed_fetch.ts";

let cluster: TestCluster;
let kube: AuthedFetch;
let stateDir: string;
let closeKube: () => Promise<void>;
let client: KubeauthRestClient;

before(async () => {
  cluster = await startCluster({ requireClientCert: true });
  ({ kube, stateDir, close: closeKube } = await demoPluginKube(cluster));
  client = new KubeauthRestClient(kube);
});

after(async () => {
  client?.close();
  await closeKube?.();
  await cluster?.close();
});

const enc = new TextEncoder();
type Obj = { metadata: { name: string; resourceVersion: string } };

test("cloudydeno: JSON, bytes, querystring, bodyJson/bodyRaw/bodyStream, defaultNamespace", async () => {
  const rc: RestClient = client;
  assert.equal(rc.defaultNamespace, "default");
  const path = "/api/v1/namespaces/cd1/configmaps";
  const created = await rc.performRequest({
    method: "POST",
    path,
    bodyJson: { metadata: { name: "j" }, data: { via: "json" } },
    expectJson: true,
  }) as Obj;
  assert.equal(created.metadata.name, "j");
  await rc.performRequest({
    method: "POST",
    path,
    contentType: "application/json",
    bodyRaw: enc.encode(JSON.stringify({ metadata: { name: "r" } })),
    expectJson: true,
  });
  const bytes = enc.encode(JSON.stringify({ metadata: { name: "s" } }));
  await rc.performRequest({
    method: "POST",
    path,
    contentType: "application/json",
    bodyStream: new ReadableStream({
      start(c) {
        c.enqueue(bytes.slice(0, 7));
        c.enqueue(bytes.slice(7));
        c.close();
      },
    }),
    expectJson: true,
  });
  const list = await rc.performRequest({
    method: "GET",
    path,
    expectJson: true,
  }) as { items: Obj[] };
  assert.deepEqual(list.items.map((o) => o.metadata.name), ["j", "r", "s"]);
  const raw = await rc.performRequest({ method: "GET", path: `${path}/j` });
  assert.ok(raw instanceof Uint8Array);
  assert.equal(JSON.parse(new TextDecoder().decode(raw)).data.via, "json");
  const echoed = await rc.performRequest({
    method: "GET",
    path: "/echo",
    querystring: new URLSearchParams({ a: "1", b: "x y" }),
    expectJson: true,
  }) as { path: string; headers: Record<string, string>; cn: string };
  assert.equal(echoed.path, "/echo?a=1&b=x+y");
  assert.equal(echoed.headers.accept, "application/json");
  assert.equal(echoed.cn, "demo-user-1");
  assert.equal(await pluginRuns(stateDir), 1);
});

test("cloudydeno: a watch as a stream of JSON values, and a raw byte stream", async () => {
  const path = "/api/v1/namespaces/cd2/configmaps";
  const list = await client.performRequest({
    method: "GET",
    path,
    expectJson: true,
  }) as Obj & { metadata: { resourceVersion: string } };
  const ac = new AbortController();
  const events = await client.performRequest({
    method: "GET",
    path,
    querystring: new URLSearchParams({
      watch: "true",
      resourceVersion: list.metadata.resourceVersion,
    }),
    expectStream: true,
    expectJson: true,
    abortSignal: ac.signal,
  });
  await client.performRequest({
    method: "POST",
    path,
    bodyJson: { metadata: { name: "w" } },
    expectJson: true,
  });
  const reader = events.getReader();
  const first = (await reader.read()).value as {
    type: string;
    object: JSONValue;
  };
  assert.equal(first.type, "ADDED");
  assert.equal((first.object as Obj).metadata.name, "w");
  ac.abort();
  await assert.rejects(reader.read());

  const pods = await client.performRequest({
    method: "GET",
    path: "/api/v1/namespaces/default/pods",
    querystring: new URLSearchParams({
      watch: "true",
      count: "2",
      intervalMs: "1",
    }),
    expectStream: true,
  });
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of pods) {
    text += decoder.decode(chunk, { stream: true });
  }
  assert.equal(text.trim().split("\n").length, 2);
});

test("cloudydeno: failures reject shaped as its own errors (httpCode, status)", async () => {
  const err = await client.performRequest({
    method: "GET",
    path: "/api/v1/namespaces/cd3/configmaps/missing",
    expectJson: true,
  }).then(() => null, (e) => e);
  assert.ok(err instanceof KubeauthRestError, String(err));
  assert.ok(err instanceof KubeauthError);
  assert.equal(err.httpCode, 404);
  assert.equal(err.code, "HTTP_ERROR");
  assert.equal(err.reason, "NotFound");
  assert.equal((err.status as { reason: string }).reason, "NotFound");
  assert.equal(
    err.message,
    'Error from server (NotFound): configmaps "missing" not found',
  );
});

// expectTunnel: tests/cloudydeno_tunnel_test.ts.
test("cloudydeno: close() aborts open streams", async () => {
  const own = new KubeauthRestClient(kube);
  const stream = await own.performRequest({
    method: "GET",
    path: "/api/v1/namespaces/cd4/configmaps",
    querystring: new URLSearchParams({ watch: "true" }),
    expectStream: true,
    expectJson: true,
  });
  const reader = stream.getReader();
  const pending = reader.read();
  own[Symbol.dispose]();
  await assert.rejects(pending);
  await assert.rejects(
    own.performRequest({ method: "GET", path: "/version", expectJson: true }),
    (e) => e instanceof KubeauthError && e.code === "CLOSED",
  );
  // The kube itself stays usable.
  assert.equal((await kube("/version")).status, 200);
});
