import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createAuthedFetch } from "../src/fetch/authed_fetch.ts";
import type { AuthedFetchEvent } from "../src/fetch/authed_fetch.ts";
import { pluginRuns, startCluster } from "./support/harness.ts";
import type { TestCluster } from "./support/harness.ts";
import {
  clientCert,
  demoPluginKube,
  EventLog,
  kubeconfigFor,
  LineReader,
  serverSaw,
  TestSource,
} from "./support/authed_fetch.ts";
import type { Echo } from "./support/echo.ts";

let cluster: TestCluster;

before(async () => {
  cluster = await startCluster();
});

after(async () => {
  await cluster?.close();
});

test(
  "after a certificate rotation no new request uses an old connection; in-flight ones finish, old connections close",
  {
    timeout: 60_000,
  },
  async () => {
    const log = new EventLog<AuthedFetchEvent>();
    const source = new TestSource({
      clientCertificate: await clientCert(cluster, "rot-0"),
    });
    const kube = await createAuthedFetch({
      kubeconfig: kubeconfigFor(cluster),
      credentialSource: source,
      drainTimeoutMs: 20_000,
      onEvent: log.push,
    });
    try {
      const epochOf = new Map<string, number>(); // request id -> epoch at call
      let epoch = 0;
      const send = async (id: string, path = "/echo") => {
        epochOf.set(id, epoch);
        const res = await kube(path, { headers: { "x-request-id": id } });
        assert.equal(res.status, 200, `${id}: ${res.status}`);
        return await res.json();
      };
      const slow: Promise<unknown>[] = [];
      for (epoch = 0; epoch < 4; epoch++) {
        if (epoch > 0) {
          source.rotate({
            clientCertificate: await clientCert(cluster, `rot-${epoch}`),
          });
        }
        // Load on the current identity, one slow request left in flight
        // across the next rotation.
        const echoes = await Promise.all(
          Array.from({ length: 20 }, (_, i) => send(`e${epoch}-${i}`)),
        ) as Echo[];
        for (const e of echoes) assert.equal(e.cn, `rot-${epoch}`);
        const id = `slow-${epoch}`;
        slow.push(send(id, "/slow?ms=700"));
        await serverSaw(cluster, id);
      }
      const slowResults = await Promise.all(slow) as { ok: boolean }[];
      for (const r of slowResults) assert.equal(r.ok, true);

      const records = await cluster.requests();
      const connCn = new Map<number, string | null>();
      for (const r of records) {
        const want = epochOf.get(r.id);
        if (want === undefined) continue;
        // Every request was sent with the identity current when it was made.
        assert.equal(r.cn, `rot-${want}`, `request ${r.id} on ${r.cn}`);
        connCn.set(r.conn, r.cn);
      }
      // No connection ever carried two identities.
      const byConn = new Map<number, Set<string | null>>();
      for (const r of records) {
        if (!epochOf.has(r.id)) continue;
        (byConn.get(r.conn) ?? byConn.set(r.conn, new Set()).get(r.conn)!)
          .add(r.cn);
      }
      for (const [conn, cns] of byConn) {
        assert.equal(cns.size, 1, `connection ${conn}: ${[...cns]}`);
      }
      // The connections of retired identities are closed once drained.
      const old = [...connCn].filter(([, cn]) => cn !== "rot-3").map(([c]) =>
        c
      );
      assert.ok(old.length >= 3);
      const closed = await cluster.waitClosed(old, 10_000);
      assert.deepEqual(closed, { ok: true, open: [] });

      const created = log.events.filter((e) => e.type === "transport-created");
      assert.deepEqual(
        created.map((e) => e.type === "transport-created" && e.subject),
        ["CN=rot-0", "CN=rot-1", "CN=rot-2", "CN=rot-3"],
      );
      const retired = log.events.filter((e) => e.type === "transport-retired");
      assert.deepEqual(
        retired.map((e) => e.generation),
        [1, 2, 3],
      );
      for (const g of [1, 2, 3]) {
        await log.waitFor((e) =>
          e.type === "transport-closed" && e.generation === g
        );
      }
      for (const e of log.events) {
        if (e.type === "transport-closed") assert.equal(e.forced, false);
      }
    } finally {
      await kube.close();
    }
  },
);

test("a token-only rotation keeps the transport and its connection", async () => {
  const log = new EventLog<AuthedFetchEvent>();
  await cluster.setTokens({ "tok-1": "tok-user-1", "tok-2": "tok-user-2" });
  const cert = await clientCert(cluster, "tok-cert");
  const source = new TestSource({ clientCertificate: cert, token: "tok-1" });
  const kube = await createAuthedFetch({
    kubeconfig: kubeconfigFor(cluster),
    credentialSource: source,
    onEvent: log.push,
  });
  try {
    const a = await (await kube("/echo")).json() as Echo;
    source.rotate({ clientCertificate: cert, token: "tok-2" });
    const b = await (await kube("/echo")).json() as Echo;
    assert.equal(a.cn, "tok-cert");
    assert.equal(b.cn, "tok-cert");
    // Nothing was retired or closed: the pool's connections stay open.
    const conns = (await cluster.connections()).filter((c) =>
      c.cn === "tok-cert"
    );
    assert.ok(conns.some((c) => c.id === a.conn));
    for (const c of conns) assert.equal(c.closedAt, null);
    assert.deepEqual(log.events.map((e) => e.type), ["transport-created"]);
  } finally {
    await kube.close();
  }
});

test("requests racing a rotation never go out with overtaken credentials", {
  timeout: 60_000,
}, async () => {
  const source = new TestSource({
    clientCertificate: await clientCert(cluster, "race-0"),
  });
  const kube = await createAuthedFetch({
    kubeconfig: kubeconfigFor(cluster),
    credentialSource: source,
    drainTimeoutMs: 20_000,
  });
  try {
    const certs = await Promise.all(
      [1, 2, 3, 4, 5].map((i) => clientCert(cluster, `race-${i}`)),
    );
    // Each request sees, at call time, an epoch; it must be answered on that
    // identity or a newer one, never an older one.
    let epoch = 0;
    const pending: Promise<[number, Echo]>[] = [];
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 40; i++) {
        const at = epoch;
        pending.push(
          kube("/echo").then(async (r) => [at, await r.json()]),
        );
        if (i === 20) {
          epoch++;
          source.rotate({ clientCertificate: certs[round] });
        }
      }
      await Promise.all(pending.slice(-10));
    }
    const results = await Promise.all(pending);
    for (const [at, echo] of results) {
      const seen = Number(echo.cn!.slice("race-".length));
      assert.ok(seen >= at, `called at epoch ${at}, answered as ${echo.cn}`);
    }
  } finally {
    await kube.close();
  }
});

test(
  "a watch opened before a rotation ends at the drain deadline, not earlier, not never",
  {
    timeout: 30_000,
  },
  async () => {
    const log = new EventLog<AuthedFetchEvent>();
    const source = new TestSource({
      clientCertificate: await clientCert(cluster, "watch-a"),
    });
    const drainTimeoutMs = 600;
    const kube = await createAuthedFetch({
      kubeconfig: kubeconfigFor(cluster),
      credentialSource: source,
      drainTimeoutMs,
      onEvent: log.push,
    });
    try {
      const res = await kube(
        "/api/v1/namespaces/default/pods?watch=true&intervalMs=40",
      );
      assert.equal(res.status, 200);
      const lines = new LineReader(res.body!);
      const first = JSON.parse((await lines.next())!);
      assert.equal(first.type, "ADDED");

      source.rotate({
        clientCertificate: await clientCert(cluster, "watch-b"),
      });
      // Taken before the request that retires the old transport, so it is
      // never later than the retirement itself: the lower bound stays exact
      // however slow the machine is.
      const retiredAt = Date.now();
      const echo = await (await kube("/echo")).json() as Echo;
      assert.equal(echo.cn, "watch-b");
      await log.waitFor((e) => e.type === "transport-retired");

      let lastEventAt = retiredAt;
      let events = 0;
      let ending: "end" | "error";
      try {
        for (;;) {
          const line = await lines.next();
          if (line === null) {
            ending = "end";
            break;
          }
          events++;
          lastEventAt = Date.now();
        }
      } catch {
        ending = "error";
      }
      const endedAfter = Date.now() - retiredAt;
      assert.ok(
        endedAfter >= drainTimeoutMs - 50,
        `watch ended ${endedAfter} ms after the rotation (${ending})`,
      );
      assert.ok(
        events >= 5 && lastEventAt - retiredAt >= drainTimeoutMs / 2,
        `the watch kept streaming until the deadline (${events} events)`,
      );
      const closed = await log.waitFor((e) =>
        e.type === "transport-closed" && e.generation === 1
      );
      assert.deepEqual(closed, {
        type: "transport-closed",
        generation: 1,
        forced: true,
      });
      // The server saw the old connection go.
      const conns = await cluster.connections();
      const oldConns = conns.filter((c) => c.cn === "watch-a").map((c) => c.id);
      assert.ok(oldConns.length >= 1);
      assert.deepEqual(await cluster.waitClosed(oldConns, 5000), {
        ok: true,
        open: [],
      });
    } finally {
      await kube.close();
    }
  },
);

test(
  "end to end: the demo plugin mints a new certificate every 2 s; each rotation moves new requests to a new connection",
  {
    timeout: 90_000,
  },
  async () => {
    const log = new EventLog<AuthedFetchEvent>();
    const demo = await demoPluginKube(cluster, {
      ttlSeconds: 2,
      drainTimeoutMs: 3000,
      onEvent: log.push,
    });
    const kube = demo.kube;
    try {
      // Requests paced by the server (/slow?ms=40) until three rotations
      // happened; one longer request is kept in flight most of the time.
      const seen: { id: string; cn: string; at: number }[] = [];
      const cns = new Set<string>();
      let n = 0;
      let inFlight: Promise<void> | undefined;
      const deadline = Date.now() + 40_000;
      while (cns.size < 4 && Date.now() < deadline) {
        const id = `p-${n++}`;
        const at = Date.now();
        const res = await kube("/echo", { headers: { "x-request-id": id } });
        assert.equal(res.status, 200);
        const echo = await res.json() as Echo;
        seen.push({ id, cn: echo.cn!, at });
        cns.add(echo.cn!);
        inFlight ??= kube("/slow?ms=1200").then(async (r) => {
          assert.equal(
            r.status,
            200,
            "a request in flight at a rotation succeeds",
          );
          await r.arrayBuffer();
          inFlight = undefined;
        });
        await (await kube("/slow?ms=40")).arrayBuffer();
      }
      await inFlight;
      assert.ok(cns.size >= 4, `saw ${[...cns]}`);
      // Certificates only move forward: demo-user-<n> never goes back.
      let max = 0;
      for (const s of seen) {
        const k = Number(s.cn.slice("demo-user-".length));
        assert.ok(
          k >= max,
          `${s.id} went back to ${s.cn} after demo-user-${max}`,
        );
        max = k;
      }
      // Server view: every connection carried exactly one identity, and the
      // connections of all but the newest are closed.
      const conns = await cluster.connections();
      const ours = conns.filter((c) => c.cn?.startsWith("demo-user-"));
      const newest = `demo-user-${max}`;
      const old = ours.filter((c) => c.cn !== newest).map((c) => c.id);
      assert.ok(old.length >= 3);
      assert.deepEqual(await cluster.waitClosed(old, 10_000), {
        ok: true,
        open: [],
      });
      const runs = await pluginRuns(demo.stateDir);
      assert.ok(runs >= max && runs <= max + 1, `plugin ran ${runs} times`);
      const rotations = log.events.filter((e) =>
        e.type === "credentials-rotated" && e.certificateChanged
      );
      assert.ok(rotations.length >= 3);
    } finally {
      await demo.close();
    }
  },
);
