// Races between certificate rotation and requests.
//
// Part 1 — 5,000 rotations, in memory. createAuthedFetch with a credential
// source that rotates (a token `tok-<k>` and a client certificate from a pool
// of 20 pre-minted ones, with a fingerprint of its own, so every rotation is
// a new identity) and an adapter whose transports are in-memory fakes that
// answer after a seeded random delay. Rotations and requests interleave at
// random (seeded): requests are started before, during and after rotations,
// some are still in flight when their generation is retired. This covers
// authed_fetch's binding of credentials to a generation and the
// ConnectionRegistry's rotate/retire/drain, not the sockets. Checked: every
// rotation that a request saw got a NEW transport; every request that went
// out went on a transport not yet retired, bound to the same certificate as
// its token; no request failed; after close() every transport is closed.
//
// Part 2 — 60 rotations over real TLS to the fake API server, the same way:
// the server records, per request, the token's user and the certificate the
// connection presented, which must be the pair the client held together.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { setImmediate } from "node:timers";
import { createCa, issueCertificate } from "./support/pki.ts";
import { createAuthedFetch } from "../src/fetch/authed_fetch.ts";
import {
  type ClientCertificate,
  type Credentials,
  type CredentialSource,
  makeClientCertificate,
  makeCredentials,
} from "../src/credentials/credentials.ts";
import { KubeauthError } from "../src/errors.ts";
import { getRuntimeAdapter } from "../src/runtime/mod.ts";
import type {
  RuntimeAdapter,
  Transport,
  TransportOptions,
} from "../src/runtime/types.ts";
import { startCluster } from "./support/harness.ts";
import type { TestCluster } from "./support/harness.ts";

const POOL = 20;
const ROTATIONS = 5000;
const REAL_ROTATIONS = 60;

let pool: { certPem: string; keyPem: string }[] = [];
let cluster: TestCluster;
let real: RuntimeAdapter;

before(async () => {
  // The pool comes from a CA the server does not trust: the server then
  // records the presented CN but authenticates by token, so it can tell us both.
  const ca = await createCa({ commonName: "race-pool-ca" });
  pool = await Promise.all(
    Array.from(
      { length: POOL },
      (_, i) =>
        issueCertificate(ca, { commonName: `pool-${i}`, usage: "client" }),
    ),
  );
  const tokens: Record<string, string> = {};
  for (let k = 1; k <= REAL_ROTATIONS; k++) tokens[`tok-${k}`] = `user-${k}`;
  [cluster, real] = await Promise.all([
    startCluster({ tokens }),
    getRuntimeAdapter(),
  ]);
});

after(async () => {
  await cluster?.close();
});

/** Rotation k: token tok-k, pool certificate k % 20, fingerprint fp-k. */
function generationOf(k: number): Credentials {
  const p = pool[k % POOL];
  const cert: ClientCertificate = makeClientCertificate({
    certPem: p.certPem,
    keyPem: p.keyPem,
    fingerprint: `fp-${k}`,
    subject: `CN=pool-${k % POOL}`,
    notAfter: new Date(Date.now() + 3600_000),
  });
  return makeCredentials({ token: `tok-${k}`, clientCertificate: cert });
}

/** A source the test rotates; get() answers the current generation. */
class RotatingSource implements CredentialSource {
  readonly kind = "exec" as const;
  k = 1;
  current: Credentials = generationOf(1);
  get(signal?: AbortSignal): Promise<Credentials> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return Promise.resolve(this.current);
  }
  rotate(): void {
    this.k++;
    this.current = generationOf(this.k);
  }
  refreshAfterUnauthorized(): Promise<Credentials | null> {
    return Promise.resolve(null);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const poolIndexOf = (certPem: string | undefined) =>
  pool.findIndex((p) => p.certPem === certPem);

const tokenOf = (init: RequestInit): number => {
  const h = new Headers(init.headers);
  const m = /^Bearer tok-(\d+)$/.exec(h.get("authorization") ?? "");
  assert.ok(m, "a request without the rotating token");
  return Number(m[1]);
};

test(
  `${ROTATIONS} certificate rotations interleaved with requests (in memory): each a new transport, none used stale, no error`,
  {
    timeout: 120_000,
  },
  async () => {
    const rand = fc.sample(fc.nat({ max: 999 }), {
      seed: 0x72616365,
      numRuns: ROTATIONS * 4,
    });
    let r = 0;
    const next = () => rand[r++ % rand.length];

    interface Fake extends Transport {
      id: number;
      pool: number;
      closedAt: number | undefined;
    }
    const transports: Fake[] = [];
    const violations: string[] = [];
    let clock = 0; // a logical clock: increases at every transport event
    let sent = 0;
    let refused = 0;

    const fake = (options: TransportOptions): Fake => {
      let inFlight = 0;
      let closed = false;
      let drained: (() => void) | undefined;
      let closing: Promise<void> | undefined;
      const t: Fake = {
        id: transports.length + 1,
        pool: poolIndexOf(options.cert),
        closedAt: undefined,
        get inFlight() {
          return inFlight;
        },
        get closed() {
          return closed;
        },
        fetch(_url: string, init: RequestInit): Promise<Response> {
          if (closed) {
            refused++;
            return Promise.reject(
              new KubeauthError("CLOSED", "transport closed"),
            );
          }
          clock++;
          sent++;
          const k = tokenOf(init);
          if (k % POOL !== t.pool) {
            violations.push(
              `token tok-${k} went out on transport ${t.id} holding pool certificate ${t.pool}`,
            );
          }
          inFlight++;
          const delay = next() % 3;
          const done = () => {
            inFlight--;
            if (inFlight === 0) drained?.();
          };
          return new Promise((resolve) => {
            const answer = () => {
              done();
              resolve(new Response(`ok ${k}`, { status: 200 }));
            };
            if (delay === 0) queueMicrotask(answer);
            else setTimeout(answer, delay - 1);
          });
        },
        close(): Promise<void> {
          if (!closed) {
            closed = true;
            t.closedAt = ++clock;
          }
          closing ??= inFlight === 0
            ? Promise.resolve()
            : new Promise<void>((resolve) => (drained = resolve));
          return closing;
        },
        destroy(): Promise<void> {
          if (!closed) {
            closed = true;
            t.closedAt = ++clock;
          }
          drained?.();
          return Promise.resolve();
        },
      };
      transports.push(t);
      return t;
    };

    const source = new RotatingSource();
    const adapter: RuntimeAdapter = {
      ...real,
      createTransport: (options) => fake(options),
    };
    const retired: number[] = [];
    const kube = await createAuthedFetch({
      kubeconfig: {
        apiVersion: "v1",
        kind: "Config",
        "current-context": "c",
        clusters: [{ name: "c", cluster: { server: "https://race.invalid" } }],
        users: [{ name: "u", user: {} }],
        contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
      },
      adapter,
      credentialSource: source,
      onEvent: (e) => {
        if (e.type === "transport-retired") retired.push(e.generation);
      },
    });
    // createAuthedFetch made (and closed) one probe transport.
    const probes = transports.length;
    const seenTokens = new Set<number>();
    const errors: string[] = [];
    let pending: Promise<void>[] = [];
    const request = (i: number) => {
      const p = (i % 2 === 0 ? kube("/version") : kube("/version", {
        headers: { "x-request": String(i) },
      })).then(async (res) => {
        if (res.status !== 200) errors.push(`status ${res.status}`);
        const m = /^ok (\d+)$/.exec(await res.text());
        if (m) seenTokens.add(Number(m[1]));
      }, (err) => {
        errors.push(String(err));
      });
      pending.push(p);
    };
    let requests = 0;
    for (let k = 1; k <= ROTATIONS; k++) {
      // 0–3 requests, sometimes a few microtask turns (requests half-way
      // between picking a transport and sending), the rotation, 0–2 more
      // requests, then the next task. One rotation per task at most, as with
      // a real source (a plugin run ends in an I/O callback).
      for (let n = next() % 4; n > 0; n--) request(requests++);
      for (let n = next() % 4; n > 0; n--) await Promise.resolve();
      source.rotate();
      for (let n = next() % 3; n > 0; n--) request(requests++);
      if (next() % 10 === 0) await new Promise((res) => setTimeout(res, 1));
      else await new Promise((res) => setImmediate(res));
      if (pending.length > 200) {
        await Promise.all(pending);
        pending = [];
      }
    }
    request(requests++);
    await Promise.all(pending);
    await kube.close();

    assert.deepEqual(
      errors.slice(0, 5),
      [],
      `${errors.length} of ${requests} requests failed`,
    );
    assert.deepEqual(violations, [], violations.slice(0, 5).join("\n"));
    assert.equal(sent, requests, "every request was sent exactly once");
    // Every identity a request saw had its own transport (no reuse across rotations).
    const made = transports.length - probes;
    assert.ok(
      made >= seenTokens.size,
      `${made} transports for ${seenTokens.size} identities used`,
    );
    assert.ok(
      seenTokens.size >= ROTATIONS * 0.5,
      `only ${seenTokens.size} rotations were used by a request`,
    );
    assert.equal(
      retired.length,
      made - 1,
      "each transport but the last retired",
    );
    assert.ok(transports.every((t) => t.closed), "a transport left open");
    // Refused sends (a transport retired between pick and send) were re-sent
    // on the current one: they count once in `sent`.
    assert.ok(refused >= 0);
  },
);

test(
  `${REAL_ROTATIONS} rotations over real TLS: the server sees each token with its own certificate`,
  {
    timeout: 60_000,
  },
  async () => {
    const source = new RotatingSource();
    const kube = await createAuthedFetch({
      kubeconfig: {
        apiVersion: "v1",
        kind: "Config",
        "current-context": "c",
        clusters: [{
          name: "c",
          cluster: {
            server: cluster.url,
            "certificate-authority-data": btoa(cluster.caPem),
          },
        }],
        users: [{ name: "u", user: {} }],
        contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
      },
      credentialSource: source,
      drainTimeoutMs: 5000,
    });
    const rand = fc.sample(fc.nat({ max: 99 }), { seed: 7, numRuns: 1000 });
    let r = 0;
    const errors: string[] = [];
    const pending: Promise<void>[] = [];
    let id = 0;
    const request = () => {
      const rid = `race-${++id}`;
      pending.push(
        kube("/version", { headers: { "x-request-id": rid } }).then(
          async (res) => {
            if (res.status !== 200) errors.push(`${rid}: ${res.status}`);
            await res.body?.cancel();
          },
          (err) => {
            errors.push(`${rid}: ${err}`);
          },
        ),
      );
    };
    try {
      for (let k = 1; k < REAL_ROTATIONS; k++) {
        for (let n = rand[r++] % 3; n > 0; n--) request();
        source.rotate();
        for (let n = rand[r++] % 2; n > 0; n--) request();
        if (rand[r++] % 3 === 0) {
          await new Promise((res) => setTimeout(res, rand[r++] % 5));
        }
      }
      request();
      await Promise.all(pending);
    } finally {
      await kube.close();
    }
    assert.deepEqual(errors, []);
    const conns = new Map(
      (await cluster.connections()).map((c) => [c.id, c]),
    );
    const records = (await cluster.requests()).filter((q) =>
      q.id.startsWith("race-")
    );
    assert.equal(records.length, id, "every request reached the server once");
    const mismatches: string[] = [];
    for (const q of records) {
      const k = Number(/^user-(\d+)$/.exec(q.user ?? "")?.[1]);
      const presented = conns.get(q.conn)?.presentedCn;
      if (!(k > 0) || presented !== `pool-${k % POOL}`) {
        mismatches.push(
          `${q.id}: user ${q.user} on a connection presenting ${presented}`,
        );
      }
    }
    assert.deepEqual(mismatches, [], mismatches.slice(0, 5).join("\n"));
    // Several rotations were used over separate connections.
    const used = new Set(records.map((q) => q.user));
    assert.ok(used.size >= REAL_ROTATIONS / 3, `${used.size} identities used`);
    const waited = await cluster.waitClosed([...conns.keys()], 5000);
    assert.ok(waited.ok, `connections still open: ${waited.open}`);
  },
);
