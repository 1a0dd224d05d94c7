// The runtime's TLS transport against the fake API server, observed from the
// server side: which client certificate each connection carried, which
// connections each request used, and when connections closed.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { KubeauthError } from "../src/errors.ts";
import { getRuntimeAdapter } from "../src/runtime/mod.ts";
import type {
  RuntimeAdapter,
  Transport,
  TransportOptions,
} from "../src/runtime/mod.ts";
import { issueCertificate } from "./support/pki.ts";
import { createServer as createHttpServer } from "node:http";
import { startConnectProxy } from "./support/connect_proxy.ts";
import { startCluster } from "./support/harness.ts";
import type { ClusterOptions, TestCluster } from "./support/harness.ts";

/** One run of the suite: a cluster, and what every transport adds to its TLS settings. */
interface Variant {
  name: string;
  cluster: ClusterOptions;
  extra: TransportOptions;
}

const VARIANTS: Variant[] = [
  { name: "certificate-authority", cluster: {}, extra: {} },
  {
    name: "tls-server-name, the server certificate naming only kube.test",
    cluster: { serverNames: { dnsNames: ["kube.test"], ipAddresses: [] } },
    extra: { serverName: "kube.test" },
  },
  {
    name: "insecure-skip-tls-verify, the server certificate from an unknown CA",
    cluster: {},
    extra: { ca: undefined, insecureSkipVerify: true },
  },
];

for (const variant of VARIANTS) {
  describe(variant.name, () => transportSuite(variant));
}

function transportSuite(variant: Variant): void {
  let cluster: TestCluster;
  let adapter: RuntimeAdapter;
  let alice: { certPem: string; keyPem: string };
  let bob: { certPem: string; keyPem: string };
  const transports: Transport[] = [];

  before(async () => {
    adapter = await getRuntimeAdapter();
    cluster = await startCluster({
      sessionResumption: true,
      ...variant.cluster,
    });
    alice = await issueCertificate(cluster.ca, {
      commonName: "alice",
      usage: "client",
    });
    bob = await issueCertificate(cluster.ca, {
      commonName: "bob",
      usage: "client",
      keyType: "rsa-2048",
    });
  });

  after(async () => {
    await Promise.all(transports.map((t) => t.destroy()));
    await cluster?.close();
  });

  function transportFor(who: { certPem: string; keyPem: string }): Transport {
    const t = adapter.createTransport({
      ca: cluster.caPem,
      cert: who.certPem,
      key: who.keyPem,
      ...variant.extra,
    });
    transports.push(t);
    return t;
  }

  let counter = 0;
  function rid(prefix: string): string {
    return `${prefix}-${++counter}`;
  }

  async function echo(
    t: Transport,
    id: string,
  ): Promise<{ cn: string | null; conn: number; user: string | null }> {
    const res = await t.fetch(`${cluster.url}/echo`, {
      headers: { "x-request-id": id },
    });
    assert.equal(res.status, 200);
    return await res.json();
  }

  /** Connection ids the server saw requests with this id prefix on. */
  async function connsOf(prefix: string): Promise<number[]> {
    const reqs = await cluster.requests();
    return [
      ...new Set(
        reqs.filter((r) => r.id.startsWith(prefix + "-")).map((r) => r.conn),
      ),
    ];
  }

  /** Polls the server until a request with this id has arrived. */
  async function arrived(id: string): Promise<void> {
    for (let i = 0; i < 500; i++) {
      const reqs = await cluster.requests();
      if (reqs.some((r) => r.id === id)) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.fail(`request ${id} never reached the server`);
  }

  async function assertClosed(t: Transport, prefix: string): Promise<void> {
    const conns = await connsOf(prefix);
    assert.ok(conns.length > 0);
    const r = await cluster.waitClosed(conns, 5000);
    assert.ok(r.ok, `connections still open after close: ${r.open}`);
    assert.equal(t.inFlight, 0);
  }

  async function assertClosedError(p: Promise<unknown>): Promise<void> {
    await assert.rejects(p, (err: unknown) => {
      assert.ok(err instanceof KubeauthError, `got ${err}`);
      assert.equal(err.code, "CLOSED");
      return true;
    });
  }

  test(
    "a transport authenticates with its certificate and reuses its connection",
    {
      timeout: 60_000,
    },
    async () => {
      const t = transportFor(alice);
      const seen = new Set<number>();
      for (let i = 0; i < 50; i++) {
        const r = await echo(t, rid("reuse"));
        assert.equal(r.cn, "alice");
        assert.equal(r.user, "alice");
        seen.add(r.conn);
      }
      assert.ok(
        seen.size <= 2,
        `50 sequential requests used ${seen.size} connections`,
      );
      // The node:https pool (Node; Deno with tls-server-name or skip-verify)
      // uses exactly one.
      const httpsPool = adapter.name === "node" ||
        (adapter.name === "deno" &&
          (variant.extra.serverName !== undefined ||
            variant.extra.insecureSkipVerify === true));
      if (httpsPool) assert.equal(seen.size, 1);
      assert.equal(t.inFlight, 0);
      const conns = await cluster.connections();
      for (const c of conns.filter((c) => seen.has(c.id))) {
        assert.equal(c.cn, "alice");
      }
      await t.close();
      assert.equal(t.closed, true);
      await assertClosed(t, "reuse");
      await assertClosedError(t.fetch(`${cluster.url}/echo`, {}));
      // Idempotent, and destroy() after close() is fine.
      await t.close();
      await t.destroy();
    },
  );

  test("two transports with different certificates never share a connection", {
    timeout: 60_000,
  }, async () => {
    const a = transportFor(alice);
    const b = transportFor(bob);
    // Interleaved and concurrent.
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      work.push(echo(a, rid("mixA")).then((r) => assert.equal(r.cn, "alice")));
      work.push(echo(b, rid("mixB")).then((r) => assert.equal(r.cn, "bob")));
    }
    await Promise.all(work);
    const connsA = await connsOf("mixA");
    const connsB = await connsOf("mixB");
    assert.deepEqual(connsA.filter((c) => connsB.includes(c)), []);
    const reqs = await cluster.requests();
    for (const r of reqs) {
      if (r.id.startsWith("mixA-")) assert.equal(r.cn, "alice");
      if (r.id.startsWith("mixB-")) assert.equal(r.cn, "bob");
    }
    await a.close();
    await assertClosed(a, "mixA");
    // b is untouched by a's close.
    assert.equal((await echo(b, rid("mixB"))).cn, "bob");
    await b.close();
    await assertClosed(b, "mixB");
  });

  test("a new transport never resumes the TLS session of another identity", {
    timeout: 60_000,
  }, async () => {
    // A certificate no transport has used yet (Bun shares TLS sessions
    // between transports with byte-identical certificates: same identity).
    const carol = await issueCertificate(cluster.ca, {
      commonName: "carol",
      usage: "client",
    });
    const a = transportFor(alice);
    await echo(a, rid("sessA"));
    await echo(a, rid("sessA"));
    // Close alice's connections from the server side so that the next
    // connection of either transport needs a new handshake.
    await cluster.destroyConnections();
    const c = transportFor(carol);
    const rc = await echo(c, rid("sessC"));
    assert.equal(rc.cn, "carol");
    const ra = await echo(a, rid("sessA2"));
    assert.equal(ra.cn, "alice");
    const conns = await cluster.connections();
    const byId = new Map(conns.map((x) => [x.id, x]));
    assert.equal(byId.get(rc.conn)!.sessionReused, false);
    assert.equal(byId.get(rc.conn)!.cn, "carol");
    // Every request ran as the identity of the transport that sent it.
    for (const r of await cluster.requests()) {
      if (r.id.startsWith("sessA")) assert.equal(r.cn, "alice");
      if (r.id.startsWith("sessC")) assert.equal(r.cn, "carol");
    }
    await Promise.all([a.close(), c.close()]);
    await assertClosed(a, "sessA");
    await assertClosed(c, "sessC");
  });

  test(
    "close() lets a request in flight finish with its full body, then closes its socket",
    {
      timeout: 60_000,
    },
    async () => {
      const t = transportFor(alice);
      await echo(t, rid("drain")); // an idle pooled connection as well
      const id = rid("drain");
      const pending = t.fetch(`${cluster.url}/slow?ms=400`, {
        headers: { "x-request-id": id },
      });
      await arrived(id);
      assert.equal(t.inFlight, 1);
      let closeResolved = false;
      const closing = t.close().then(() => {
        closeResolved = true;
      });
      await assertClosedError(t.fetch(`${cluster.url}/echo`, {}));
      const res = await pending;
      assert.equal(res.status, 200);
      assert.equal(
        closeResolved,
        false,
        "close() resolved before the body ended",
      );
      const body = await res.json();
      assert.equal(body.ok, true);
      assert.equal(body.ms, 400);
      await closing;
      await assertClosed(t, "drain");
    },
  );

  test("close() waits for a streamed body to be read to its end", {
    timeout: 60_000,
  }, async () => {
    const t = transportFor(alice);
    const id = rid("stream");
    const res = await t.fetch(
      `${cluster.url}/api/v1/namespaces/default/pods?watch=true&intervalMs=20&count=5`,
      { headers: { "x-request-id": id } },
    );
    assert.equal(res.status, 200);
    assert.equal(t.inFlight, 1);
    let closeResolved = false;
    const closing = t.close().then(() => {
      closeResolved = true;
    });
    const lines: string[] = [];
    const decoder = new TextDecoder();
    for await (const chunk of res.body!) {
      lines.push(...decoder.decode(chunk).split("\n").filter((l) => l !== ""));
      assert.equal(closeResolved, false);
    }
    assert.equal(lines.length, 5);
    await closing;
    await assertClosed(t, "stream");
  });

  test(
    "destroy() aborts a watch in flight: its body errors and its socket closes",
    {
      timeout: 60_000,
    },
    async () => {
      const t = transportFor(alice);
      const id = rid("watch");
      const res = await t.fetch(
        `${cluster.url}/api/v1/namespaces/default/pods?watch=true&intervalMs=20`,
        { headers: { "x-request-id": id } },
      );
      assert.equal(res.status, 200);
      const reader = res.body!.getReader();
      // The watch streams: events arrive one by one, without the body ending.
      for (let i = 0; i < 3; i++) {
        const { done, value } = await reader.read();
        assert.equal(done, false);
        assert.ok(value!.byteLength > 0);
      }
      assert.equal(t.inFlight, 1);
      await t.destroy();
      assert.equal(t.inFlight, 0);
      await assert.rejects(async () => {
        while (!(await reader.read()).done);
      });
      await assertClosed(t, "watch");
      await assertClosedError(t.fetch(`${cluster.url}/echo`, {}));
    },
  );

  test("destroy() during close() releases the waiting close()", {
    timeout: 60_000,
  }, async () => {
    const t = transportFor(alice);
    const id = rid("stuck");
    const res = await t.fetch(
      `${cluster.url}/api/v1/namespaces/default/pods?watch=true&intervalMs=20`,
      { headers: { "x-request-id": id } },
    );
    assert.equal(res.status, 200);
    const closing = t.close();
    await t.destroy();
    await closing;
    await res.body?.cancel().catch(() => {});
    await assertClosed(t, "stuck");
  });

  test("inFlight counts requests until their body ends, however it is read", {
    timeout: 60_000,
  }, async () => {
    const t = transportFor(alice);
    const url = `${cluster.url}/echo`;
    const r1 = await t.fetch(url, {});
    assert.equal(t.inFlight, 1);
    await r1.text();
    assert.equal(t.inFlight, 0);
    const r2 = await t.fetch(url, {});
    await r2.arrayBuffer();
    assert.equal(t.inFlight, 0);
    const r3 = await t.fetch(url, {});
    const copy = r3.clone();
    assert.equal((await copy.json()).cn, "alice");
    assert.equal(t.inFlight, 0);
    assert.equal((await r3.json()).cn, "alice");
    const r4 = await t.fetch(url, {});
    await r4.body!.cancel();
    assert.equal(t.inFlight, 0);
    const r5 = await t.fetch(url, { method: "HEAD" });
    assert.equal(t.inFlight, 0);
    await r5.body?.cancel();
    // An HTTP error is a response, not a rejection.
    const r6 = await t.fetch(`${cluster.url}/no/such/path`, {});
    assert.equal(r6.status, 404);
    assert.ok(r6 instanceof Response);
    await r6.text();
    assert.equal(t.inFlight, 0);
    await t.close();
  });

  test("the caller's abort signal aborts the request and ends its flight", {
    timeout: 60_000,
  }, async () => {
    const t = transportFor(alice);
    const controller = new AbortController();
    const id = rid("abort");
    const pending = t.fetch(`${cluster.url}/slow?ms=5000`, {
      headers: { "x-request-id": id },
      signal: controller.signal,
    });
    await arrived(id);
    controller.abort();
    await assert.rejects(pending);
    assert.equal(t.inFlight, 0);
    await t.close();
    await assertClosed(t, "abort");
  });

  test(
    "a failed request rejects and ends its flight",
    { timeout: 60_000 },
    async () => {
      // Nothing trusts this server's CA: the handshake fails.
      const t = adapter.createTransport({
        ...variant.extra,
        ca: alice.certPem,
        insecureSkipVerify: false,
      });
      transports.push(t);
      await assert.rejects(t.fetch(`${cluster.url}/echo`, {}));
      assert.equal(t.inFlight, 0);
      await t.close();
    },
  );

  test("a transport with a proxy tunnels through it with its certificate", {
    timeout: 60_000,
  }, async () => {
    const proxy = await startConnectProxy();
    try {
      const t = adapter.createTransport({
        ca: cluster.caPem,
        cert: alice.certPem,
        key: alice.keyPem,
        proxy: proxy.url,
        ...variant.extra,
      });
      transports.push(t);
      for (let i = 0; i < 10; i++) {
        assert.equal((await echo(t, rid("proxy"))).cn, "alice");
      }
      // Connections are reused (a pool may open a second one at the start).
      const conns = await connsOf("proxy");
      assert.ok(conns.length <= 2, `${conns.length} connections`);
      const port = new URL(cluster.url).port;
      assert.equal(proxy.tunnels.length, conns.length);
      for (const tunnel of proxy.tunnels) {
        assert.equal(tunnel, `127.0.0.1:${port}`);
      }
      await t.close();
      await assertClosed(t, "proxy");
    } finally {
      await proxy.close();
    }
  });

  test(
    "rotation under load: every request runs as its generation, old connections all close",
    {
      timeout: 120_000,
    },
    async () => {
      // Generations alternate between two identities; 4 workers keep sending.
      const ids = [alice, bob];
      const names = ["alice", "bob"];
      let generation = 0;
      let current = transportFor(ids[0]);
      const retired: Promise<void>[] = [];
      let running = true;
      const worker = async (w: number) => {
        let n = 0;
        while (running) {
          const g = generation;
          const t = current;
          const id = `rot${g}-${w}-${n++}`;
          let res: Response;
          try {
            res = await t.fetch(`${cluster.url}/echo`, {
              headers: { "x-request-id": id },
            });
          } catch (err) {
            // Only a request that raced a retirement may be refused.
            assert.ok(err instanceof KubeauthError && err.code === "CLOSED");
            continue;
          }
          const body = await res.json();
          assert.equal(body.cn, names[g % 2], `request ${id}`);
        }
      };
      const workers = [0, 1, 2, 3].map(worker);
      const letSomeThrough = async () => {
        const before = (await cluster.requests()).length;
        for (
          let polls = 0;
          (await cluster.requests()).length < before + 20;
          polls++
        ) {
          assert.ok(polls < 100_000, "the workers stopped making requests");
        }
      };
      for (let i = 1; i <= 6; i++) {
        await letSomeThrough();
        const old = current;
        current = transportFor(ids[i % 2]);
        generation = i;
        retired.push(old.close());
      }
      await letSomeThrough();
      running = false;
      await Promise.all(workers);
      await Promise.all(retired);
      await current.close();
      const reqs = await cluster.requests();
      const connGen = new Map<number, number>();
      for (const r of reqs) {
        const m = /^rot(\d+)-/.exec(r.id);
        if (m === null) continue;
        const g = Number(m[1]);
        assert.equal(r.cn, names[g % 2]);
        // A connection belongs to exactly one generation.
        assert.equal(connGen.get(r.conn) ?? g, g, `connection ${r.conn}`);
        connGen.set(r.conn, g);
      }
      assert.equal(new Set(connGen.values()).size, 7);
      const closed = await cluster.waitClosed([...connGen.keys()], 5000);
      assert.ok(closed.ok, `still open: ${closed.open}`);
    },
  );
}
describe("server verification against a certificate naming only kube.test", () => {
  let cluster: TestCluster;
  let adapter: RuntimeAdapter;
  let alice: { certPem: string; keyPem: string };
  const opened: Transport[] = [];

  before(async () => {
    adapter = await getRuntimeAdapter();
    cluster = await startCluster({
      serverNames: { dnsNames: ["kube.test"], ipAddresses: [] },
    });
    alice = await issueCertificate(cluster.ca, {
      commonName: "alice",
      usage: "client",
    });
  });

  after(async () => {
    await Promise.all(opened.map((t) => t.destroy()));
    await cluster?.close();
  });

  /** The CN the server saw, or the rejection. */
  async function attempt(options: TransportOptions): Promise<string> {
    const t = adapter.createTransport({
      cert: alice.certPem,
      key: alice.keyPem,
      ...options,
    });
    opened.push(t);
    try {
      const res = await t.fetch(`${cluster.url}/echo`, {});
      return (await res.json()).cn;
    } catch (err) {
      return `rejected: ${err}`;
    } finally {
      await t.close();
    }
  }

  test("tls-server-name verifies the certificate against that name", {
    timeout: 60_000,
  }, async () => {
    const ca = cluster.caPem;
    assert.equal(await attempt({ ca, serverName: "kube.test" }), "alice");
    // Without it the URL's 127.0.0.1 is checked, which the certificate lacks.
    assert.match(await attempt({ ca }), /^rejected/);
    assert.match(
      await attempt({ ca, serverName: "other.test" }),
      /^rejected/,
    );
  });

  test("insecure-skip-tls-verify accepts a certificate of an unknown CA", {
    timeout: 60_000,
  }, async () => {
    assert.equal(await attempt({ insecureSkipVerify: true }), "alice");
    assert.equal(
      await attempt({ insecureSkipVerify: true, serverName: "other.test" }),
      "alice",
    );
    // The CA is unknown without the setting.
    assert.match(await attempt({}), /^rejected/);
  });
});

test("a plain-HTTP cluster with a proxy goes through the proxy", {
  timeout: 60_000,
}, async () => {
  const server = createHttpServer((req, res) => {
    res.end(`seen ${req.method} ${req.url}`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const proxy = await startConnectProxy();
  const adapter = await getRuntimeAdapter();
  const t = adapter.createTransport({ proxy: proxy.url });
  try {
    const res = await t.fetch(`http://127.0.0.1:${port}/version`, {});
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^seen GET .*\/version$/);
    // Every runtime reached the server only through the proxy.
    assert.ok(proxy.tunnels.length >= 1);
    for (const tunnel of proxy.tunnels) {
      assert.equal(tunnel, `127.0.0.1:${port}`);
    }
  } finally {
    await t.destroy();
    await proxy.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
