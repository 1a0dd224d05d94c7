import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createAuthedFetch } from "../src/fetch/authed_fetch.ts";
import type { AuthedFetch } from "../src/fetch/authed_fetch.ts";
import { ensureOk, KubeauthHttpError } from "../src/http/http_error.ts";
import { watch } from "../src/watch/watch.ts";
import type { WatchEvent } from "../src/watch/watch.ts";
import { startCluster } from "./support/harness.ts";
import type { TestCluster } from "./support/harness.ts";
import {
  kubeconfigFor,
  pollUntil,
  TestSource,
} from "./support/authed_fetch.ts";
import { configMap, storeControl, storeWatches } from "./support/store.ts";

const TOKEN = "watch-test-token-SECRET";
const CMS = "/api/v1/namespaces/default/configmaps";
let cluster: TestCluster;
let kube: AuthedFetch;

before(async () => {
  cluster = await startCluster({ tokens: { [TOKEN]: "watch-user" } });
  kube = await createAuthedFetch({
    kubeconfig: kubeconfigFor(cluster),
    credentialSource: new TestSource({ token: TOKEN }),
  });
});

after(async () => {
  await kube?.close();
  await cluster?.close();
});

async function send(method: string, path: string, body?: unknown) {
  const res = await ensureOk(
    await kube(path, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
  return await res.json() as { metadata: { resourceVersion: string } };
}

/** The next event that is not a BOOKMARK. */
async function next(
  it: AsyncGenerator<WatchEvent>,
): Promise<WatchEvent> {
  for (;;) {
    const r = await it.next();
    assert.equal(r.done, false, "the watch ended");
    if (r.value!.type !== "BOOKMARK") return r.value!;
  }
}

function nameOf(e: WatchEvent): string | undefined {
  return e.type === "ERROR" ? undefined : e.object.metadata?.name;
}

test("watch: ADDED, MODIFIED, DELETED arrive typed, from a list's resourceVersion", async () => {
  const ns = "/api/v1/namespaces/w1/configmaps";
  await send("POST", ns, configMap("before"));
  const list = await send("GET", ns);
  const it = watch(kube, ns, {
    resourceVersion: list.metadata.resourceVersion,
  });
  try {
    await send("POST", ns, configMap("a", { k: "1" }));
    await send("PUT", `${ns}/a`, configMap("a", { k: "2" }));
    await send("DELETE", `${ns}/a`);
    const events = [await next(it), await next(it), await next(it)];
    assert.deepEqual(events.map((e) => [e.type, nameOf(e)]), [
      ["ADDED", "a"],
      ["MODIFIED", "a"],
      ["DELETED", "a"],
    ]);
    const modified = events[1];
    assert.equal(
      modified.type === "MODIFIED" &&
        (modified.object as { data?: Record<string, string> }).data?.k,
      "2",
    );
  } finally {
    await it.return();
  }
});

test("watch: a bookmark comes first when allowed, none when not", async () => {
  const ns = "/api/v1/namespaces/w2/configmaps";
  const it = watch(kube, ns);
  const first = await it.next();
  assert.equal(first.value?.type, "BOOKMARK");
  await it.return();
  const list = await send("GET", ns);
  const plain = watch(kube, ns, {
    allowWatchBookmarks: false,
    resourceVersion: list.metadata.resourceVersion,
  });
  await send("POST", ns, configMap("x"));
  const e = (await plain.next()).value!;
  assert.deepEqual([e.type, nameOf(e)], ["ADDED", "x"]);
  await plain.return();
});

test("watch: resumes from the last resourceVersion after a dropped connection and after a clean end", async () => {
  const ns = "/api/v1/namespaces/w3/configmaps";
  const list = await send("GET", ns);
  const it = watch(kube, ns, {
    resourceVersion: list.metadata.resourceVersion,
  });
  try {
    const a = await send("POST", ns, configMap("a"));
    assert.equal(nameOf(await next(it)), "a");
    const before = await storeWatches(cluster);
    await storeControl(cluster, "drop-watches");
    await send("POST", ns, configMap("b"));
    assert.equal(nameOf(await next(it)), "b");
    await storeControl(cluster, "end-watches");
    await send("POST", ns, configMap("c"));
    assert.equal(nameOf(await next(it)), "c");
    const afterward = await storeWatches(cluster);
    assert.equal(afterward.started - before.started, 2, "two reconnections");
    const watches = (await cluster.requests()).filter((r) =>
      r.path.startsWith(ns + "?")
    );
    assert.equal(watches.length, 3);
    assert.match(
      watches[1].path,
      new RegExp(`resourceVersion=${a.metadata.resourceVersion}(&|$)`),
      "the second watch resumes from a's version",
    );
  } finally {
    await it.return();
  }
});

test("watch: a compacted resourceVersion rejects with WATCH_EXPIRED (410)", async () => {
  const ns = "/api/v1/namespaces/w4/configmaps";
  const old = await send("GET", ns);
  await send("POST", ns, configMap("a"));
  await storeControl(cluster, "compact");
  const it = watch(kube, ns, { resourceVersion: old.metadata.resourceVersion });
  const err = await next(it).then(() => null, (e) => e);
  assert.ok(err instanceof KubeauthHttpError, String(err));
  assert.equal(err.code, "WATCH_EXPIRED");
  assert.equal(err.status, 410);
  assert.equal(err.reason, "Expired");
  assert.match(
    err.message,
    /^Error from server \(Expired\): too old resource version/,
  );
});

test("watch: an HTTP failure rejects with the server's Status; non-2xx helper", async () => {
  const it = watch(kube, "/api/v1/namespaces/default/nothing-here");
  const err = await it.next().then(() => null, (e) => e);
  assert.ok(err instanceof KubeauthHttpError);
  assert.equal(err.code, "HTTP_ERROR");
  assert.equal(err.status, 404);
  assert.equal(err.reason, "NotFound");
  await send("POST", CMS, configMap("dup"));
  const dup = await send("POST", CMS, configMap("dup")).then(
    () => null,
    (e) => e,
  );
  assert.ok(dup instanceof KubeauthHttpError);
  assert.equal(dup.status, 409);
  assert.equal(dup.reason, "AlreadyExists");
  assert.equal(
    dup.message,
    'Error from server (AlreadyExists): configmaps "dup" already exists',
  );
  assert.equal(dup.serverStatus?.code, 409);
});

test("watch: the signal aborts it (rejects with the reason) and break closes the stream", async () => {
  const ns = "/api/v1/namespaces/w5/configmaps";
  const ac = new AbortController();
  const it = watch(kube, ns, { signal: ac.signal });
  assert.equal((await it.next()).value?.type, "BOOKMARK");
  const pending = it.next();
  const reason = new Error("stop watching");
  ac.abort(reason);
  await assert.rejects(pending, (e) => e === reason);
  const again = watch(kube, ns);
  for await (const e of again) {
    assert.equal(e.type, "BOOKMARK");
    break;
  }
  await pollUntil("every watch stream closed", async () => {
    const w = await storeWatches(cluster);
    return w.open === 0 ? true : undefined;
  });
});
