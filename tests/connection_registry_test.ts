import { test } from "node:test";
import assert from "node:assert/strict";
import { ConnectionRegistry } from "../src/fetch/connection_registry.ts";
import type {
  RegistryClock,
  TransportEvent,
} from "../src/fetch/connection_registry.ts";
import { makeClientCertificate } from "../src/credentials/credentials.ts";
import type { ClientCertificate } from "../src/credentials/credentials.ts";
import { KubeauthError } from "../src/errors.ts";
import type { Transport, TransportOptions } from "../src/runtime/types.ts";

/** A transport that records calls; close() waits for `inFlight` to reach 0. */
interface FakeTransport extends Transport {
  options: TransportOptions;
  closeCalls: number;
  destroyCalls: number;
  inFlight: number;
  finishAll(): void;
}

function fakeTransport(options: TransportOptions): FakeTransport {
  let closed = false;
  let drained: (() => void) | undefined;
  let closing: Promise<void> | undefined;
  const t: FakeTransport = {
    options,
    closeCalls: 0,
    destroyCalls: 0,
    inFlight: 0,
    get closed() {
      return closed;
    },
    fetch() {
      return Promise.reject(new Error("not used"));
    },
    close() {
      t.closeCalls++;
      closed = true;
      closing ??= t.inFlight === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => (drained = resolve));
      return closing;
    },
    destroy() {
      t.destroyCalls++;
      closed = true;
      t.inFlight = 0;
      drained?.();
      return Promise.resolve();
    },
    finishAll() {
      t.inFlight = 0;
      drained?.();
    },
  };
  return t;
}

let serial = 0;
function cert(cn: string): ClientCertificate {
  serial++;
  return makeClientCertificate({
    certPem: `CERT-${cn}-${serial}`,
    keyPem: `KEY-${cn}-${serial}`,
    fingerprint: `fp-${cn}-${serial}`,
    subject: `CN=${cn}`,
    notAfter: new Date(Date.now() + 3600_000),
  });
}

/** A manual clock: timers fire only when the test advances time. */
class FakeClock implements RegistryClock {
  now = 0;
  readonly #timers = new Map<number, { at: number; callback: () => void }>();
  #nextHandle = 1;

  setTimeout(callback: () => void, ms: number): unknown {
    const handle = this.#nextHandle++;
    this.#timers.set(handle, { at: this.now + ms, callback });
    return handle;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Timers scheduled and not yet fired or cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing due timers in deadline order. */
  advance(ms: number): void {
    this.now += ms;
    for (;;) {
      let due: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.#timers) {
        if (
          entry[1].at <= this.now &&
          (due === undefined || entry[1].at < due[1].at)
        ) {
          due = entry;
        }
      }
      if (due === undefined) return;
      this.#timers.delete(due[0]);
      due[1].callback();
    }
  }
}

function setup(drainTimeoutMs = 30_000) {
  const clock = new FakeClock();
  const created: FakeTransport[] = [];
  const events: TransportEvent[] = [];
  const waiters: Array<[(e: TransportEvent) => boolean, () => void]> = [];
  const registry = new ConnectionRegistry({
    createTransport(options) {
      const t = fakeTransport(options);
      created.push(t);
      return t;
    },
    tls: { ca: "CA-PEM", serverName: "kube" },
    drainTimeoutMs,
    clock,
    onEvent(e) {
      events.push(e);
      for (const w of [...waiters]) {
        if (w[0](e)) {
          waiters.splice(waiters.indexOf(w), 1);
          w[1]();
        }
      }
    },
  });
  // Drain deadlines run on the fake clock; the events they cause arrive
  // through promise callbacks, which this waits for.
  const waitFor = (pred: (e: TransportEvent) => boolean) =>
    events.some(pred)
      ? Promise.resolve()
      : new Promise<void>((resolve) => waiters.push([pred, resolve]));
  return { registry, created, events, waitFor, clock };
}

test("the same identity keeps its transport; the cluster TLS settings are merged with the identity", async () => {
  const { registry, created, events } = setup();
  const a = cert("a");
  const g1 = registry.select(a)!;
  assert.equal(registry.select(a), g1);
  // Token-only rotation: new credentials, same certificate object or an equal one.
  const same = makeClientCertificate({
    certPem: a.certPem,
    keyPem: a.keyPem,
    fingerprint: a.fingerprint,
    subject: a.subject,
    notAfter: a.notAfter,
  });
  assert.equal(registry.select(same), g1);
  assert.equal(created.length, 1);
  assert.deepEqual(created[0].options, {
    ca: "CA-PEM",
    serverName: "kube",
    cert: a.certPem,
    key: a.keyPem,
  });
  assert.deepEqual(events, [
    { type: "transport-created", generation: 1, subject: "CN=a" },
  ]);
  // No certificate: the cluster settings alone, no subject.
  const { registry: r2, created: c2, events: e2 } = setup();
  const g = r2.select(undefined)!;
  assert.equal(g.fingerprint, "");
  assert.deepEqual(c2[0].options, { ca: "CA-PEM", serverName: "kube" });
  assert.deepEqual(e2, [{ type: "transport-created", generation: 1 }]);
  await registry.close();
  await r2.close();
});

test("a new certificate makes a new current transport and retires the old one gracefully", async () => {
  const { registry, created, events, waitFor } = setup();
  const g1 = registry.select(cert("a"))!;
  created[0].inFlight = 2; // e.g. a watch and a slow request
  const g2 = registry.select(cert("b"))!;
  assert.notEqual(g2, g1);
  assert.equal(registry.current, g2);
  assert.equal(g1.retired, true);
  assert.equal(g2.retired, false);
  assert.equal(created[0].closeCalls, 1, "graceful close at once");
  assert.equal(
    created[0].destroyCalls,
    0,
    "in-flight requests are not aborted",
  );
  assert.equal(registry.draining, 1);
  assert.deepEqual(events.slice(1), [
    { type: "transport-created", generation: 2, subject: "CN=b" },
    { type: "transport-retired", generation: 1, inFlight: 2 },
  ]);
  created[0].finishAll();
  await waitFor((e) => e.type === "transport-closed");
  assert.deepEqual(events.at(-1), {
    type: "transport-closed",
    generation: 1,
    forced: false,
  });
  assert.equal(registry.draining, 0);
  assert.equal(created[0].destroyCalls, 0);
  await registry.close();
});

test("certificate to no certificate and back counts as rotation", async () => {
  const { registry, created } = setup();
  registry.select(cert("a"));
  const anon = registry.select(undefined)!;
  assert.equal(anon.id, 2);
  const b = registry.select(cert("b"))!;
  assert.equal(b.id, 3);
  assert.equal(created.filter((t) => t.closed).length, 2);
  await registry.close();
});

test("credentials of a retired generation are reported stale, adopt() forces them", async () => {
  const { registry, created } = setup();
  const a = cert("a");
  const g1 = registry.select(a)!;
  const g2 = registry.select(cert("b"))!;
  assert.equal(registry.select(a), undefined, "stale: never back to A");
  assert.equal(registry.current, g2);
  assert.equal(created.length, 2);
  const g3 = registry.adopt(a);
  assert.notEqual(g3, g1, "a new transport, never the retired one");
  assert.equal(g3.fingerprint, a.fingerprint);
  assert.equal(registry.current, g3);
  assert.equal(registry.select(a), g3);
  assert.equal(created.length, 3);
  await registry.close();
});

test("a retired transport still busy at the drain deadline is destroyed then, not earlier", async () => {
  const { registry, created, events, waitFor, clock } = setup(150);
  registry.select(cert("a"));
  created[0].inFlight = 1; // a watch that never ends
  registry.select(cert("b"));
  assert.equal(created[0].destroyCalls, 0);
  clock.advance(149);
  assert.equal(created[0].destroyCalls, 0, "not before the deadline");
  clock.advance(1);
  assert.equal(created[0].destroyCalls, 1, "at the deadline");
  await waitFor((e) => e.type === "transport-closed");
  assert.equal(created[0].destroyCalls, 1);
  assert.deepEqual(events.at(-1), {
    type: "transport-closed",
    generation: 1,
    forced: true,
  });
  assert.equal(registry.draining, 0);
  await registry.close();
});

test("close() destroys every transport, clears timers, and later selects throw CLOSED", async () => {
  const { registry, created, events, clock } = setup(60_000);
  registry.select(cert("a"));
  created[0].inFlight = 1;
  registry.select(cert("b"));
  created[1].inFlight = 1;
  await registry.close();
  assert.equal(registry.closed, true);
  assert.equal(created[0].destroyCalls, 1);
  assert.equal(created[1].destroyCalls, 1);
  assert.equal(registry.current, undefined);
  assert.equal(registry.draining, 0);
  const closedEvents = events.filter((e) => e.type === "transport-closed");
  assert.deepEqual(closedEvents.map((e) => e.generation).sort(), [1, 2]);
  assert.throws(
    () => registry.select(cert("c")),
    (err) => err instanceof KubeauthError && err.code === "CLOSED",
  );
  assert.throws(
    () => registry.adopt(undefined),
    (err) => err instanceof KubeauthError && err.code === "CLOSED",
  );
  await registry.close(); // idempotent
  assert.equal(clock.pending, 0, "the 60 s drain timer is cleared");
});

test("a transport that cannot be created leaves the current one in place", async () => {
  let fail = false;
  const registry = new ConnectionRegistry({
    createTransport(options) {
      if (fail) {
        throw new KubeauthError("UNSUPPORTED", "no proxy support here");
      }
      return fakeTransport(options);
    },
    tls: {},
  });
  const g1 = registry.select(cert("a"))!;
  fail = true;
  assert.throws(
    () => registry.select(cert("b")),
    (err) => err instanceof KubeauthError && err.code === "UNSUPPORTED",
  );
  assert.equal(registry.current, g1);
  assert.equal(g1.retired, false);
  await registry.close();
});

test("a throwing event listener does not break rotation", async () => {
  const created: FakeTransport[] = [];
  const registry = new ConnectionRegistry({
    createTransport(options) {
      const t = fakeTransport(options);
      created.push(t);
      return t;
    },
    tls: {},
    onEvent() {
      throw new Error("listener bug");
    },
  });
  registry.select(cert("a"));
  const g2 = registry.select(cert("b"))!;
  assert.equal(registry.current, g2);
  assert.equal(created[0].closeCalls, 1);
  await registry.close();
});

test("many rotations: exactly one current transport, every other one closed", async () => {
  const { registry, created, events, waitFor, clock } = setup(50);
  for (let i = 0; i < 200; i++) {
    registry.select(cert(`c${i}`));
    if (i % 3 === 0) created[i].inFlight = 1; // some stay busy until the deadline
  }
  clock.advance(50);
  await waitFor(() =>
    events.filter((e) => e.type === "transport-closed").length === 199
  );
  const open = created.filter((t) => !t.closed);
  assert.equal(open.length, 1);
  assert.equal(open[0], created[199]);
  assert.equal(registry.draining, 0);
  await registry.close();
});

test("drain timers are unref'd: a pending deadline never keeps the process alive", async () => {
  let unrefs = 0;
  const registry = new ConnectionRegistry({
    createTransport: fakeTransport,
    tls: {},
    drainTimeoutMs: 1000,
    clock: {
      setTimeout: () => ({ unref: () => void unrefs++ }),
      clearTimeout: () => {},
    },
  });
  registry.select(cert("a"));
  registry.select(cert("b"));
  assert.equal(unrefs, 1);
  await registry.close();
});
