/**
 * Helpers shared by the stream tests (exec, attach, port-forward through
 * kubeauth's own API, client-node, cloudydeno and the CLI): a real local TCP
 * echo server behind port-forward, a port nothing listens on, byte-exact
 * round trips, and the checks that nothing is left open on the test cluster.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import type { AddressInfo, Socket } from "node:net";
import { pollUntil } from "./authed_fetch.ts";
import { assertAllGone } from "./process.ts";
import type { StreamRecord, TestCluster } from "./harness.ts";

/** A TCP server on 127.0.0.1 that echoes what it receives. */
export interface EchoServer {
  /** Its port. */
  port: number;
  /** Destroys the connections still open, then closes the server. */
  close(): Promise<void>;
}

/** Starts a real TCP echo server for port-forward to reach. */
export async function startEchoServer(): Promise<EchoServer> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** A port on 127.0.0.1 that was just free: connecting to it is refused. */
export async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** `size` random bytes. */
export function randomBytes(size: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) {
    crypto.getRandomValues(data.subarray(i, Math.min(size, i + 65536)));
  }
  return data;
}

/**
 * Writes `data` to `writable` in 64 KiB chunks (leaving it open) while
 * reading `reader` until as many bytes came back or it ended; resolves with
 * the bytes read.
 */
export async function echoThrough(
  writable: WritableStream<Uint8Array>,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  data: Uint8Array,
): Promise<Uint8Array> {
  const size = data.length;
  const writing = (async () => {
    const w = writable.getWriter();
    for (let i = 0; i < size; i += 65536) {
      await w.write(data.subarray(i, Math.min(size, i + 65536)));
    }
  })();
  const got = new Uint8Array(size);
  let n = 0;
  while (n < size) {
    const { value, done } = await reader.read();
    if (done) break;
    got.set(value, n);
    n += value.length;
  }
  await writing;
  return got.subarray(0, n);
}

/**
 * Waits (bounded) until the server has seen every session matching `match`
 * close; asserts there is at least one; resolves with them.
 */
export function closedOnServer(
  cluster: TestCluster,
  match: (s: StreamRecord) => boolean,
): Promise<StreamRecord[]> {
  return pollUntil("the server to see the session close", async () => {
    const s = (await cluster.streams()).sessions.filter(match);
    return s.length > 0 && s.every((r) => r.closed) ? s : undefined;
  });
}

/**
 * Waits (bounded) until the server has seen the process of the session
 * with this pid end; resolves with how it ended.
 */
export function exitOnServer(
  cluster: TestCluster,
  pid: number,
): Promise<NonNullable<StreamRecord["exit"]>> {
  return pollUntil(`the remote process ${pid} to end`, async () => {
    const rec = (await cluster.streams()).sessions.find((r) => r.pid === pid);
    return rec?.exit ?? undefined;
  });
}

/**
 * Asserts that the server sees no stream session open, no remote process
 * running and no connection open (waiting, bounded, for each).
 */
export async function assertStreamsReleased(
  cluster: TestCluster,
): Promise<void> {
  let sessions: StreamRecord[] = [];
  await pollUntil("every stream session to close", async () => {
    sessions = (await cluster.streams()).sessions;
    return sessions.every((s) => s.closed) ? true : undefined;
  }).catch(() => {});
  assert.deepEqual(sessions.filter((s) => !s.closed).map((s) => s.kind), []);
  await assertAllGone(
    sessions.flatMap((s) => s.pid === undefined ? [] : [s.pid]),
    "remote command processes",
  );
  let open = -1;
  await pollUntil("every connection to close", async () => {
    open = (await cluster.stats()).connectionsOpen;
    return open === 0 ? true : undefined;
  }).catch(() => {});
  assert.equal(open, 0, "connections still open");
}

/**
 * The local port a `port-forward` child reports on stdout (`Forwarding from
 * 127.0.0.1:P -> R`); `out()` is what it has printed so far (collected by a
 * listener added before this one). Rejects if it exits first.
 */
export function forwardingPort(
  child: ChildProcess,
  out: () => string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = /Forwarding from 127\.0\.0\.1:(\d+) -> /.exec(out());
      if (!m) return;
      done();
      resolve(Number(m[1]));
    };
    const exited = () => {
      done();
      reject(new Error(`port-forward exited before forwarding: ${out()}`));
    };
    const done = () => {
      child.stdout!.off("data", check);
      child.off("close", exited);
    };
    child.stdout!.on("data", check);
    child.on("close", exited);
    check();
  });
}
