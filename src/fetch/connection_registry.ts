/**
 * The rotating connection registry: one {@linkcode Transport} (a connection
 * pool) per client-certificate identity, the way client-go's
 * `util/connrotation` closes every connection when an exec plugin hands out
 * a new certificate.
 *
 * A *generation* is one transport bound to one identity (the certificate
 * fingerprint, or none). When a request brings credentials with another
 * identity, a new generation becomes current for every request that starts
 * afterwards and the old one is retired: it refuses new requests at once,
 * lets the requests in flight finish (streaming bodies included), and is
 * force-closed at the drain deadline, so a watch opened with the old
 * certificate cannot outlive it by more than `drainTimeoutMs`. Token-only
 * rotation keeps the generation.
 *
 * @module
 */
import { closedError } from "../errors.ts";
import type { ClientCertificate } from "../credentials/credentials.ts";
import type { Transport, TransportOptions } from "../runtime/types.ts";

/**
 * What the registry reports about its transports.
 * - `transport-created`: a generation became current (`subject` is the
 *   client certificate's subject, absent without a certificate);
 * - `transport-retired`: a newer identity replaced it; `inFlight` requests
 *   are left to finish;
 * - `transport-closed`: all its connections are closed; `forced` is true
 *   when requests still in flight were aborted (drain deadline, or
 *   {@linkcode ConnectionRegistry.close}).
 *
 * @example Usage
 * ```ts
 * import type { TransportEvent } from "@kubeauth/fetch";
 * const log = (e: TransportEvent) => console.log(e.type, e.generation);
 * log({ type: "transport-created", generation: 1 });
 * ```
 */
export type TransportEvent =
  | { type: "transport-created"; generation: number; subject?: string }
  | { type: "transport-retired"; generation: number; inFlight: number }
  | { type: "transport-closed"; generation: number; forced: boolean };

/** One transport bound to one client identity. */
export interface Generation {
  /** 1, 2, 3… in creation order, per registry. */
  readonly id: number;
  /** The client certificate's fingerprint, `""` without a certificate. */
  readonly fingerprint: string;
  /** The transport; never used for a request once {@linkcode Generation.retired}. */
  readonly transport: Transport;
  /** True once a newer identity replaced this one (or the registry closed). */
  readonly retired: boolean;
  /** True once its transport was force-closed (in-flight requests aborted). */
  readonly destroyed: boolean;
}

/**
 * The timer functions the registry schedules drain deadlines with (tests
 * inject a fake clock).
 *
 * @example Usage
 * ```ts
 * import type { RegistryClock } from "./connection_registry.ts";
 * const clock: RegistryClock = { setTimeout, clearTimeout };
 * clock.clearTimeout(clock.setTimeout(() => {}, 10));
 * ```
 */
export interface RegistryClock {
  /** Runs `callback` after `ms` milliseconds; returns a handle. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a handle returned by `setTimeout`. */
  clearTimeout(handle: unknown): void;
}

/** Options of {@linkcode ConnectionRegistry}. */
export interface ConnectionRegistryOptions {
  /**
   * Creates one transport (normally `adapter.createTransport`). Called with
   * `tls` plus the identity's `cert` and `key`.
   */
  createTransport(options: TransportOptions): Transport;
  /** The cluster's TLS settings (CA, server name, proxy…), fixed for the registry. */
  tls: TransportOptions;
  /**
   * How long a retired generation may keep requests in flight before it is
   * force-closed. `Infinity` waits forever.
   *
   * @default {30000}
   */
  drainTimeoutMs?: number;
  /** Receives {@linkcode TransportEvent}s. Exceptions it throws are ignored. */
  onEvent?: (event: TransportEvent) => void;
  /**
   * The clock for drain deadlines. Its timers are unref'd when they have an
   * `unref()` (Node, Bun), so a pending deadline never keeps a process alive.
   *
   * @default {the global setTimeout and clearTimeout}
   */
  clock?: RegistryClock;
}

/** How many retired fingerprints are remembered to detect stale credentials. */
const RETIRED_MEMORY = 64;
/** setTimeout's largest delay; longer deadlines mean "no deadline". */
const MAX_TIMER_MS = 2_147_483_647;

class Gen implements Generation {
  retired = false;
  destroyed = false;
  /** Destroyed with requests still in flight. */
  forced = false;
  timer: unknown = undefined;
  closedEmitted = false;
  readonly id: number;
  readonly fingerprint: string;
  readonly transport: Transport;
  constructor(id: number, fingerprint: string, transport: Transport) {
    this.id = id;
    this.fingerprint = fingerprint;
    this.transport = transport;
  }
}

/**
 * Keeps one transport per client-certificate identity and retires the old
 * one when the identity changes.
 *
 * Callers obtain credentials first, then call {@linkcode ConnectionRegistry.select}
 * and send on the returned transport synchronously, so a request never goes
 * out on a retired transport.
 *
 * @example Usage
 * ```ts
 * import { ConnectionRegistry } from "./connection_registry.ts";
 * import type { Transport } from "../runtime/types.ts";
 * // A fake transport factory: no network needed.
 * const fakeTransport = (): Transport => ({
 *   inFlight: 0,
 *   closed: false,
 *   fetch: () => Promise.resolve(new Response("ok")),
 *   close: () => Promise.resolve(),
 *   destroy: () => Promise.resolve(),
 * });
 * const registry = new ConnectionRegistry({
 *   createTransport: fakeTransport,
 *   tls: {},
 *   drainTimeoutMs: 30_000,
 * });
 * const gen = registry.select(undefined); // credentials without a certificate
 * if (gen === undefined || gen.id !== 1) throw new Error("expected generation 1");
 * const res = await gen.transport.fetch("https://cluster.test/version", {});
 * if ((await res.text()) !== "ok") throw new Error("unexpected body");
 * await registry.close();
 * if (!gen.retired) throw new Error("close retires every generation");
 * ```
 */
export class ConnectionRegistry {
  readonly #createTransport: (options: TransportOptions) => Transport;
  readonly #tls: TransportOptions;
  readonly #drainTimeoutMs: number;
  readonly #onEvent: ((event: TransportEvent) => void) | undefined;
  readonly #clock: RegistryClock;
  #current: Gen | undefined;
  readonly #draining = new Set<Gen>();
  readonly #retired = new Set<string>();
  #nextId = 1;
  #closing: Promise<void> | undefined;

  /**
   * Creates an empty registry; the first transport is created by the first
   * {@linkcode ConnectionRegistry.select}.
   *
   * @param options The transport factory, cluster TLS settings, drain deadline and event hook.
   */
  constructor(options: ConnectionRegistryOptions) {
    this.#createTransport = options.createTransport;
    this.#tls = options.tls;
    this.#drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
    this.#onEvent = options.onEvent;
    this.#clock = options.clock ?? { setTimeout, clearTimeout };
  }

  /** The current generation, if a request created one. */
  get current(): Generation | undefined {
    return this.#current;
  }

  /** Retired generations whose connections are not closed yet. */
  get draining(): number {
    return this.#draining.size;
  }

  /** True once {@linkcode ConnectionRegistry.close} was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * The generation to send a request with these credentials on: the
   * current one when the identity matches, a new current one (retiring the
   * old) for an identity never seen, and `undefined` for the identity of a
   * retired generation — the caller holds stale credentials and should get
   * fresh ones (then {@linkcode ConnectionRegistry.adopt} them if the source
   * insists they are current).
   *
   * @param cert The client certificate of the request's credentials, if any.
   * @returns The generation, or `undefined` for stale credentials.
   * @throws {KubeauthError} `CLOSED` after {@linkcode ConnectionRegistry.close};
   *   whatever `createTransport` throws (e.g. `UNSUPPORTED`).
   */
  select(cert: ClientCertificate | undefined): Generation | undefined {
    const fingerprint = cert === undefined ? "" : cert.fingerprint;
    const current = this.#current;
    if (current !== undefined && current.fingerprint === fingerprint) {
      return current;
    }
    if (this.#closing !== undefined) throw closedError();
    if (this.#retired.has(fingerprint)) return undefined;
    return this.#rotate(cert, fingerprint);
  }

  /**
   * Like {@linkcode ConnectionRegistry.select}, but makes the identity
   * current even when it was retired before (a credential source that really
   * went back to an earlier certificate).
   *
   * @param cert The client certificate, if any.
   * @returns The current generation for this identity.
   * @throws {KubeauthError} `CLOSED` after {@linkcode ConnectionRegistry.close}.
   */
  adopt(cert: ClientCertificate | undefined): Generation {
    const fingerprint = cert === undefined ? "" : cert.fingerprint;
    const current = this.#current;
    if (current !== undefined && current.fingerprint === fingerprint) {
      return current;
    }
    if (this.#closing !== undefined) throw closedError();
    return this.#rotate(cert, fingerprint);
  }

  /**
   * Force-closes every transport (requests in flight are aborted) and
   * clears every timer. Later {@linkcode ConnectionRegistry.select} calls
   * throw `CLOSED`. Idempotent.
   *
   * @returns Resolves when every transport is closed.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      const all = [...this.#draining];
      if (this.#current !== undefined) all.push(this.#current);
      this.#current = undefined;
      for (const gen of all) gen.retired = true;
      this.#closing = Promise.all(all.map((gen) => this.#destroy(gen))).then(
        () => {},
      );
    }
    return this.#closing;
  }

  #rotate(cert: ClientCertificate | undefined, fingerprint: string): Gen {
    const options: TransportOptions = cert === undefined
      ? this.#tls
      : { ...this.#tls, cert: cert.certPem, key: cert.keyPem };
    const gen = new Gen(
      this.#nextId,
      fingerprint,
      this.#createTransport(options),
    );
    this.#nextId++;
    const old = this.#current;
    this.#current = gen;
    this.#retired.delete(fingerprint);
    this.#emit(
      cert === undefined ? { type: "transport-created", generation: gen.id } : {
        type: "transport-created",
        generation: gen.id,
        subject: cert.subject,
      },
    );
    if (old !== undefined) this.#retire(old);
    return gen;
  }

  #retire(gen: Gen): void {
    gen.retired = true;
    this.#retired.add(gen.fingerprint);
    if (this.#retired.size > RETIRED_MEMORY) {
      this.#retired.delete(this.#retired.values().next().value as string);
    }
    this.#draining.add(gen);
    this.#emit({
      type: "transport-retired",
      generation: gen.id,
      inFlight: gen.transport.inFlight,
    });
    const ms = this.#drainTimeoutMs;
    if (ms < MAX_TIMER_MS) {
      gen.timer = this.#clock.setTimeout(() => {
        gen.timer = undefined;
        void this.#destroy(gen);
      }, Math.max(0, ms));
      unrefTimer(gen.timer);
    }
    const closed = () => this.#closed(gen);
    gen.transport.close().then(closed, closed);
  }

  #destroy(gen: Gen): Promise<void> {
    if (gen.timer !== undefined) {
      this.#clock.clearTimeout(gen.timer);
      gen.timer = undefined;
    }
    if (gen.destroyed || gen.closedEmitted) return gen.transport.destroy();
    gen.destroyed = true;
    gen.forced = gen.transport.inFlight > 0;
    const closed = () => this.#closed(gen);
    return gen.transport.destroy().then(closed, closed);
  }

  #closed(gen: Gen): void {
    if (gen.timer !== undefined) {
      this.#clock.clearTimeout(gen.timer);
      gen.timer = undefined;
    }
    this.#draining.delete(gen);
    if (gen.closedEmitted) return;
    gen.closedEmitted = true;
    this.#emit({
      type: "transport-closed",
      generation: gen.id,
      forced: gen.forced,
    });
  }

  #emit(event: TransportEvent): void {
    if (this.#onEvent === undefined) return;
    try {
      this.#onEvent(event);
    } catch {
      // A faulty listener must not break requests.
    }
  }
}

/** Lets the process exit while only a drain deadline is pending (Node, Bun). */
function unrefTimer(timer: unknown): void {
  if (typeof timer === "object" && timer !== null) {
    (timer as { unref?: () => void }).unref?.();
  }
}
