// @kubernetes/client-node (2.x; 1.x on Node 20) on kubeauth, against the
// mTLS test cluster (client certificate required) with the demo exec plugin.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { AuthedFetch } from "../src/fetch/authed_fetch.ts";
import {
  kubeauthConfiguration,
  KubeauthWatch,
  makeKubeauthInformer,
} from "../src/integrations/client_node.ts";
import { pluginRuns, startCluster } from "./support/harness.ts";
import type { TestCluster } from "./support/harness.ts";
import { demoPluginKube, EventLog } from "./support/authed_fetch.ts";
import { JumpClock } from "./support/jump_clock.ts";
import { configMap, storeControl } from "./support/store.ts";
import {
  ApiException,
  CoreV1Api,
  KubernetesObjectApi,
} from "./support/client_node.ts";
import type { V1ConfigMap } from "./support/client_node.ts";

let cluster: TestCluster;
const cleanups: (() => Promise<void>)[] = [];

before(async () => {
  cluster = await startCluster({ requireClientCert: true });
});

after(async () => {
  for (const c of cleanups.reverse()) await c();
  await cluster?.close();
});

/** A kube on the demo plugin (client certificates) with its own state dir. */
async function pluginKube(
  extraArgs: string[] = [],
  now?: () => number,
): Promise<{ kube: AuthedFetch; stateDir: string }> {
  const k = await demoPluginKube(cluster, {
    extraArgs,
    execOptions: now ? { now } : undefined,
  });
  cleanups.push(k.close);
  return k;
}

test("client-node: CoreV1Api list/create/read/delete and KubernetesObjectApi through kubeauth, one plugin run", async () => {
  const { kube, stateDir } = await pluginKube();
  const core = new CoreV1Api(kubeauthConfiguration(kube));
  const namespace = "cn1";
  assert.equal((await core.listNamespace()).items.length, 3);
  const created = await core.createNamespacedConfigMap({
    namespace,
    body: configMap("a", { k: "v" }) as V1ConfigMap,
  });
  assert.equal(created.metadata?.namespace, namespace);
  assert.equal(
    (await core.readNamespacedConfigMap({ name: "a", namespace })).data?.k,
    "v",
  );
  const list = await core.listNamespacedConfigMap({ namespace });
  assert.deepEqual(list.items.map((c) => c.metadata?.name), ["a"]);
  await core.deleteNamespacedConfigMap({ name: "a", namespace });
  const missing = await core.readNamespacedConfigMap({ name: "a", namespace })
    .then(() => null, (e) => e);
  assert.ok(missing instanceof ApiException, String(missing));
  assert.equal(missing.code, 404);

  const objects = new KubernetesObjectApi(kubeauthConfiguration(kube));
  const spec = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "b", namespace },
    data: { x: "1" },
  };
  await objects.create(spec);
  const read = await objects.read(spec) as typeof spec;
  assert.equal(read.data.x, "1");
  await objects.delete(spec);

  assert.equal(await pluginRuns(stateDir), 1);
  const reqs = (await cluster.requests()).filter((r) =>
    r.path.includes("/cn1/")
  );
  assert.ok(reqs.length >= 8);
  for (const r of reqs) assert.equal(r.cn, "demo-user-1");
});

test("client-node: 200 concurrent CoreV1Api calls run the plugin once", async () => {
  const { kube, stateDir } = await pluginKube(["--delay-ms", "200"]);
  const core = new CoreV1Api(kubeauthConfiguration(kube));
  const lists = await Promise.all(
    Array.from({ length: 200 }, () => core.listNamespace()),
  );
  assert.equal(lists.length, 200);
  for (const l of lists) assert.equal(l.items.length, 3);
  assert.equal(await pluginRuns(stateDir), 1);
  const reqs = (await cluster.requests()).filter((r) =>
    r.path === "/api/v1/namespaces" && r.cn === "demo-user-1"
  );
  assert.ok(reqs.length >= 200, "every call on the plugin's certificate");
});

test("client-node: KubeauthWatch receives events and ends when aborted", async () => {
  const { kube } = await pluginKube();
  const core = new CoreV1Api(kubeauthConfiguration(kube));
  const namespace = "cn2";
  const path = `/api/v1/namespaces/${namespace}/configmaps`;
  const list = await core.listNamespacedConfigMap({ namespace });
  const events = new EventLog<[string, string | undefined]>();
  let doneWith: unknown = "not called";
  const doneCalled = new Promise<void>((resolve) => {
    const controller = new KubeauthWatch(kube).watch(
      path,
      { resourceVersion: list.metadata?.resourceVersion },
      (type, obj) => events.push([type, obj?.metadata?.name]),
      (err) => {
        doneWith = err;
        resolve();
      },
    );
    cleanups.push(async () => (await controller).abort());
    void (async () => {
      await core.createNamespacedConfigMap({
        namespace,
        body: configMap("w") as V1ConfigMap,
      });
      await core.deleteNamespacedConfigMap({ name: "w", namespace });
      await events.waitFor(([t]) => t === "DELETED");
      (await controller).abort();
    })();
  });
  await doneCalled;
  assert.deepEqual(events.events, [["ADDED", "w"], ["DELETED", "w"]]);
  assert.ok(doneWith instanceof Error || doneWith instanceof DOMException);
});

test("client-node: an informer on kubeauth calls add/update/delete, and survives a dropped watch", async () => {
  const { kube } = await pluginKube();
  const core = new CoreV1Api(kubeauthConfiguration(kube));
  const namespace = "cn3";
  await core.createNamespacedConfigMap({
    namespace,
    body: configMap("pre") as V1ConfigMap,
  });
  const informer = makeKubeauthInformer<V1ConfigMap>(
    kube,
    `/api/v1/namespaces/${namespace}/configmaps`,
    () => core.listNamespacedConfigMap({ namespace }),
  );
  const log = new EventLog<string>();
  informer.on("add", (o) => log.push(`add ${o.metadata?.name}`));
  informer.on(
    "update",
    (o) => log.push(`update ${o.metadata?.name}=${o.data?.k}`),
  );
  informer.on("delete", (o) => log.push(`delete ${o.metadata?.name}`));
  informer.on("error", (e) => log.push(`error ${e}`));
  informer.on("connect", () => log.push("connect"));
  await informer.start();
  try {
    await log.waitFor((e) => e === "add pre");
    await core.createNamespacedConfigMap({
      namespace,
      body: configMap("x", { k: "1" }) as V1ConfigMap,
    });
    await log.waitFor((e) => e === "add x");
    await core.replaceNamespacedConfigMap({
      name: "x",
      namespace,
      body: configMap("x", { k: "2" }) as V1ConfigMap,
    });
    await log.waitFor((e) => e === "update x=2");
    await storeControl(cluster, "end-watches");
    await log.waitFor((e) =>
      e === "connect" && log.events.filter((x) => x === "connect").length >= 2
    );
    await core.deleteNamespacedConfigMap({ name: "x", namespace });
    await log.waitFor((e) => e === "delete x");
    assert.deepEqual(informer.list(namespace).map((o) => o.metadata?.name), [
      "pre",
    ]);
    assert.equal(log.events.filter((e) => e.startsWith("error")).length, 0);
  } finally {
    await informer.stop();
  }
});

test(
  "client-node: with a certificate that rotates, no request goes out on an old certificate",
  {
    timeout: 60_000,
  },
  async () => {
    // Each round makes the next clock reading jump past the credential's
    // expiry (the certificate itself stays valid): the plugin runs again
    // and the certificate rotates while two requests are in flight.
    const clock = new JumpClock();
    const { kube, stateDir } = await pluginKube([], clock.now);
    const core = new CoreV1Api(kubeauthConfiguration(kube));
    const namespace = "cn4";
    const cns = new Set<string>();
    let n = 0;
    for (let round = 0; round < 3; round++) {
      if (round > 0) clock.expireNext();
      await Promise.all([
        core.listNamespacedConfigMap({ namespace }),
        core.listNamespacedConfigMap({ namespace }),
      ]);
      n += 2;
      const reqs = (await cluster.requests()).filter((r) =>
        r.path.startsWith(`/api/v1/namespaces/${namespace}/`)
      );
      for (const r of reqs) cns.add(r.cn ?? "none");
    }
    assert.deepEqual([...cns].sort(), [
      "demo-user-1",
      "demo-user-2",
      "demo-user-3",
    ]);
    const reqs = (await cluster.requests()).filter((r) =>
      r.path.startsWith(`/api/v1/namespaces/${namespace}/`)
    );
    assert.equal(reqs.length, n);
    let max = 0;
    const num = (cn: string | null) =>
      Number((cn ?? "").slice("demo-user-".length));
    reqs.sort((a, b) => a.startedAt - b.startedAt || num(a.cn) - num(b.cn));
    for (const r of reqs) {
      assert.equal(r.status, 200);
      const k = num(r.cn);
      assert.ok(
        k >= max,
        `a request went out on demo-user-${k} after demo-user-${max}`,
      );
      max = k;
    }
    assert.equal(await pluginRuns(stateDir), 3);
    const conns = await cluster.connections();
    const old = conns.filter((c) =>
      c.cn?.startsWith("demo-user-") && c.cn !== `demo-user-${max}` &&
      reqs.some((r) => r.conn === c.id)
    ).map((c) => c.id);
    assert.deepEqual(await cluster.waitClosed(old, 10_000), {
      ok: true,
      open: [],
    });
  },
);

test("client-node: an informer relists after its resourceVersion expires (410 through KubeauthWatch)", async () => {
  const { kube } = await pluginKube();
  const core = new CoreV1Api(kubeauthConfiguration(kube));
  const namespace = "cn5";
  const informer = makeKubeauthInformer<V1ConfigMap>(
    kube,
    `/api/v1/namespaces/${namespace}/configmaps`,
    () => core.listNamespacedConfigMap({ namespace }),
  );
  const log = new EventLog<string>();
  informer.on("add", (o) => log.push(`add ${o.metadata?.name}`));
  informer.on("error", (e) => log.push(`error ${e}`));
  informer.on("connect", () => log.push("connect"));
  await informer.start();
  try {
    await core.createNamespacedConfigMap({
      namespace,
      body: configMap("a") as V1ConfigMap,
    });
    await log.waitFor((e) => e === "add a");
    const listsBefore = (await cluster.requests()).filter((r) =>
      r.path === `/api/v1/namespaces/${namespace}/configmaps`
    ).length;
    // Forget the history, then end the watch: the informer reconnects
    // from a's version, gets a 410 ERROR event, and lists again.
    await storeControl(cluster, "compact");
    await storeControl(cluster, "end-watches");
    await core.createNamespacedConfigMap({
      namespace,
      body: configMap("b") as V1ConfigMap,
    });
    await log.waitFor((e) =>
      e === "add b"
    );
    const lists = (await cluster.requests()).filter((r) =>
      r.path === `/api/v1/namespaces/${namespace}/configmaps`
    ).length;
    assert.ok(lists > listsBefore, "the informer listed again");
    assert.deepEqual(
      informer.list(namespace).map((o) => o.metadata?.name).sort(),
      ["a", "b"],
    );
    assert.equal(log.events.filter((e) => e.startsWith("error")).length, 0);
  } finally {
    await informer.stop();
  }
});
