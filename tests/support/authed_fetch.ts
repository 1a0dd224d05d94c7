/**
 * Helpers shared by the authed_fetch tests: a credential source the test
 * rotates by hand, client certificates from the test cluster's CA, a
 * kubeconfig object for a cluster, a kube on the demo exec plugin, an event
 * recorder and a bounded poll.
 *
 * @module
 */
import { issueCertificate } from "./pki.ts";
import { demoPluginExec, makeTempDir, writeKubeconfig } from "./harness.ts";
import { createAuthedFetch } from "../../src/fetch/authed_fetch.ts";
import type {
  AuthedFetch,
  AuthedFetchOptions,
} from "../../src/fetch/authed_fetch.ts";
import {
  makeClientCertificate,
  makeCredentials,
} from "../../src/credentials/credentials.ts";
import type {
  ClientCertificate,
  CredentialFields,
  Credentials,
  CredentialSource,
  UnauthorizedResponse,
} from "../../src/credentials/credentials.ts";
import type { TestCluster } from "./harness.ts";

/** A client certificate for CN `cn`, issued by the cluster's CA. */
export async function clientCert(
  cluster: TestCluster,
  cn: string,
  validSeconds = 3600,
): Promise<ClientCertificate> {
  const pair = await issueCertificate(cluster.ca, {
    commonName: cn,
    usage: "client",
    validSeconds,
  });
  return makeClientCertificate({
    certPem: pair.certPem,
    keyPem: pair.keyPem,
    fingerprint: pair.serial,
    subject: `CN=${cn}`,
    notAfter: new Date(Date.now() + validSeconds * 1000),
  });
}

/** A kubeconfig object with one context for `cluster` and the given user. */
export function kubeconfigFor(
  cluster: TestCluster,
  user: Record<string, unknown> = {},
  clusterExtra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Config",
    "current-context": "test",
    clusters: [{
      name: "test",
      cluster: {
        server: cluster.url,
        "certificate-authority-data": btoa(cluster.caPem),
        ...clusterExtra,
      },
    }],
    users: [{ name: "tester", user }],
    contexts: [{ name: "test", context: { cluster: "test", user: "tester" } }],
  };
}

/** Options of {@linkcode demoPluginKube}. */
export interface DemoPluginKubeOptions
  extends Omit<AuthedFetchOptions, "kubeconfig"> {
  /** Further demo plugin flags (see tests/support/plugin.ts). */
  extraArgs?: string[];
  /** Lifetime of each minted certificate (the plugin's default otherwise). */
  ttlSeconds?: number;
}

/**
 * A kube whose kubeconfig file (in a fresh state dir) runs the demo exec
 * plugin in client-certificate mode against `cluster`; the other options go
 * to createAuthedFetch. `close()` closes the kube and removes the state dir.
 */
export async function demoPluginKube(
  cluster: TestCluster,
  { extraArgs, ttlSeconds, ...options }: DemoPluginKubeOptions = {},
): Promise<{ kube: AuthedFetch; stateDir: string; close(): Promise<void> }> {
  const state = await makeTempDir();
  const path = await writeKubeconfig(
    state.path,
    kubeconfigFor(cluster, {
      exec: demoPluginExec({
        stateDir: state.path,
        caDir: cluster.dir,
        mode: "cert",
        extraArgs,
        ttlSeconds,
      }),
    }),
  );
  const kube = await createAuthedFetch({ ...options, kubeconfig: path });
  return {
    kube,
    stateDir: state.path,
    async close() {
      await kube.close();
      await state.remove();
    },
  };
}

/**
 * A credential source the test drives: `rotate()` switches the current
 * credentials; `hold()` makes `get()` wait (a slow plugin) until `release()`;
 * a 401 on the current credentials mints new ones with `onRefresh` (single
 * flight, like the exec authenticator).
 */
export class TestSource implements CredentialSource {
  readonly kind = "exec" as const;
  current: Credentials;
  gets = 0;
  refreshes = 0;
  unauthorized = 0;
  closed = false;
  onRefresh: (() => Promise<Credentials>) | undefined;
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;
  #refreshing: Promise<Credentials> | undefined;

  constructor(initial: CredentialFields) {
    this.current = makeCredentials(initial);
  }

  rotate(fields: CredentialFields): Credentials {
    this.current = makeCredentials(fields);
    return this.current;
  }

  hold(): void {
    this.#gate ??= new Promise<void>((resolve) => (this.#open = resolve));
  }

  release(): void {
    this.#open?.();
    this.#gate = undefined;
    this.#open = undefined;
  }

  async get(signal?: AbortSignal): Promise<Credentials> {
    this.gets++;
    if (signal?.aborted) throw signal.reason;
    const gate = this.#gate;
    if (gate !== undefined) await abortable(gate, signal);
    return this.current;
  }

  async refreshAfterUnauthorized(
    used: Credentials,
    _response: UnauthorizedResponse,
    signal?: AbortSignal,
  ): Promise<Credentials | null> {
    this.unauthorized++;
    if (used !== this.current) return this.current;
    if (this.onRefresh === undefined) return null;
    this.#refreshing ??= (async () => {
      this.refreshes++;
      try {
        this.current = await this.onRefresh!();
        return this.current;
      } finally {
        this.#refreshing = undefined;
      }
    })();
    const next = await abortable(this.#refreshing, signal);
    return next === used ? null : next;
  }

  close(): Promise<void> {
    this.closed = true;
    this.release();
    return Promise.resolve();
  }
}

/** `promise`, or the abort reason as soon as `signal` aborts (promise goes on). */
function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() =>
      signal.removeEventListener("abort", onAbort)
    );
  });
}

/** Records events; `waitFor` resolves when one matches (rejects after a deadline). */
export class EventLog<E> {
  readonly events: E[] = [];
  #waiters: Array<{ pred: (e: E) => boolean; resolve: (e: E) => void }> = [];

  readonly push = (e: E): void => {
    this.events.push(e);
    for (const w of [...this.#waiters]) {
      if (w.pred(e)) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve(e);
      }
    }
  };

  waitFor(pred: (e: E) => boolean, timeoutMs = 10_000): Promise<E> {
    const seen = this.events.find(pred);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise<E>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`event not seen within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = {
        pred,
        resolve: (e: E) => {
          clearTimeout(timer);
          resolve(e);
        },
      };
      this.#waiters.push(waiter);
    });
  }
}

/**
 * Polls `check` (external state, e.g. the server's request log) until it
 * returns a value other than undefined, at most `timeoutMs`.
 */
export async function pollUntil<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Waits until the server has received the request with this x-request-id. */
export function serverSaw(cluster: TestCluster, id: string): Promise<true> {
  return pollUntil(`request ${id} at the server`, async () => {
    const records = await cluster.requests();
    return records.some((r) => r.id === id) ? true : undefined;
  });
}

/** Reads newline-delimited JSON objects from a body stream. */
export class LineReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #decoder = new TextDecoder();
  #buffer = "";

  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.getReader();
  }

  /** The next line, or null at the end of the stream. Rejects if the stream fails. */
  async next(): Promise<string | null> {
    for (;;) {
      const nl = this.#buffer.indexOf("\n");
      if (nl >= 0) {
        const line = this.#buffer.slice(0, nl);
        this.#buffer = this.#buffer.slice(nl + 1);
        return line;
      }
      const { done, value } = await this.#reader.read();
      if (done) return null;
      this.#buffer += this.#decoder.decode(value, { stream: true });
    }
  }

  cancel(): Promise<void> {
    return this.#reader.cancel().catch(() => {});
  }
}
