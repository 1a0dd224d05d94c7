/**
 * The portable half of every {@linkcode Transport}: refusing requests once
 * closed, counting requests until their response body has ended, aborting
 * them on `destroy()`, and closing the native pool again once it has drained.
 * Each runtime adapter supplies only a {@linkcode NativePool}.
 *
 * A request is in flight from `fetch()` until its response body has been
 * read to the end, cancelled, or has failed (`text()`, `json()`… and the
 * `body` stream all count). Responses without a body (HEAD, 204, 304,
 * `content-length: 0`) count as ended as soon as anyone looks (`inFlight`,
 * `close()`). A response dropped unread stays in flight until the garbage
 * collector takes it, so `close()` may wait for it: whoever closes should
 * `destroy()` after a deadline.
 *
 * Per request this costs one prototype switch on the response, one entry
 * in a small set while its body is unread, and one promise reaction on the
 * body consumer; the body stream is wrapped only when `body` itself is
 * read, and the garbage collector watches a response only when several
 * are left unread at once or someone looks. How destroy() reaches the
 * requests in flight (the pool itself, one shared signal, or a signal per
 * request) is each adapter's choice: see {@linkcode NativePool.abort}.
 *
 * @module
 */
import { closedError, type KubeauthError } from "../errors.ts";
import type { Transport } from "./types.ts";
import { toTransportError } from "./transport_error.ts";

/** The runtime-native connection pool behind one transport. */
export interface NativePool {
  /**
   * Sends one request on the pool's connections. When `signal` is given it
   * replaces `init.signal` (it follows the caller's signal, if any); when
   * it is `undefined`, `init` is sent as it is.
   */
  fetch(
    url: string,
    init: RequestInit,
    signal: AbortSignal | undefined,
  ): Promise<Response>;
  /**
   * Called once, when the transport closes: closes idle connections and
   * makes busy ones close once their request ends (as far as the runtime
   * can). May resolve before the requests in flight have ended.
   */
  close(): Promise<void>;
  /**
   * Called after {@linkcode NativePool.close} once no request is in flight:
   * closes whatever the first close left open. Resolves when it is closed.
   */
  closeDrained(): Promise<void>;
  /** Closes every connection now. */
  destroy(): Promise<void>;
  /**
   * How destroy() aborts the requests in flight (and their response
   * bodies):
   * - `"pool"`: {@linkcode NativePool.destroy} itself does, even after
   *   {@linkcode NativePool.close}; requests carry no signal of ours.
   * - `"shared"`: requests carry one signal of the transport's, which
   *   destroy() aborts.
   * - `"per-request"`: each request carries a signal of its own (where
   *   following one long-lived signal costs the runtime more than a fresh
   *   controller per request).
   *
   * Whatever the mode, a request with the caller's signal gets a signal of
   * its own that follows the caller's.
   */
  abort: "pool" | "shared" | "per-request";
}

const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);
const CONSUMERS = [
  "arrayBuffer",
  "blob",
  "bytes",
  "formData",
  "json",
  "text",
] as const;

/** One request, from `fetch()` until its response body has ended. */
interface Flight {
  done: boolean;
  /**
   * Live holders of the body: the response (and its clones) and consumers
   * in progress. When the garbage collector takes the last one, the body
   * can no longer be read, so the flight ends.
   */
  refs: number;
  /**
   * The response, held while the flight is in its transport's `unsettled`
   * set (see createTrackedTransport); `undefined` once it is not.
   */
  res: Response | undefined;
  /** A holder of the body was registered in {@linkcode collected}. */
  watched: boolean;
  /**
   * Its own controller (a caller's signal, or the "per-request" mode), else
   * `undefined`.
   */
  controller: AbortController | undefined;
  userSignal: AbortSignal | undefined;
  onUserAbort: (() => void) | undefined;
  /** `finish` bound to this flight, for promise callbacks (made on demand). */
  onEnd: (() => void) | undefined;
  /** The transport that counts this flight. */
  owner: { end(flight: Flight): void };
  /** The request's URL and the caller's signal, for transport errors. */
  url: string;
  callerSignal: AbortSignal | null | undefined;
  finish(): void;
}

/** The flight's `finish`, bound (one closure per consumer call at most). */
function endOf(flight: Flight): () => void {
  return flight.onEnd ??= () => flight.finish();
}
/**
 * Ends the flight of a response that was dropped without its body being
 * read (or cancelled): nobody can read it any more, and a pending close()
 * must not wait for it forever. Every registration uses the flight as its
 * unregister token; the flight's end unregisters them all.
 */
const collected = new FinalizationRegistry<Flight>((flight) => {
  if (--flight.refs === 0) flight.finish();
});

/** Lets the garbage collector end the flight once `holder` is gone. */
function watch(holder: object, flight: Flight): void {
  flight.watched = true;
  collected.register(holder, flight, flight);
}

const FLIGHT: unique symbol = Symbol("kubeauth.flight");
const WRAPPED_BODY: unique symbol = Symbol("kubeauth.body");

interface TrackedResponse extends Response {
  [FLIGHT]: Flight;
  [WRAPPED_BODY]?: ReadableStream<Uint8Array> | null;
}

const trackedPrototypes = new WeakMap<object, object>();
let lastBase: object | undefined;
let lastTracked: object | undefined;

/** {@linkcode getTrackedPrototype} for this response's prototype, cached. */
function trackedPrototypeOf(res: Response): object {
  const base = Object.getPrototypeOf(res) as object;
  if (base !== lastBase) {
    lastTracked = getTrackedPrototype(base);
    lastBase = base;
  }
  return lastTracked as object;
}

/**
 * How many unsettled flights a transport holds before it sweeps them.
 * Measured: settling each response as it arrives (a registration per
 * response) lowered bench row 1 by about 5% on Deno, Bun and Node.
 */
const SWEEP_AT = 8;

/**
 * A prototype inserted between a response and `Response.prototype`: the
 * body consumers report the end of the body to the response's flight. This
 * costs one prototype switch per response instead of a wrapped stream; the
 * body stream is wrapped only when `body` itself is read.
 */
function getTrackedPrototype(base: object): object {
  const cached = trackedPrototypes.get(base);
  if (cached !== undefined) return cached;
  const proto = Object.create(base) as Record<string, unknown>;
  const baseRecord = base as Record<string, unknown>;
  for (const name of CONSUMERS) {
    const original = baseRecord[name];
    if (typeof original !== "function") continue;
    proto[name] = function (this: TrackedResponse): Promise<unknown> {
      const flight = this[FLIGHT];
      flight.refs++; // the response may be dropped while this reads on
      let result: Promise<unknown>;
      try {
        result = (original as () => Promise<unknown>).call(this);
      } catch (err) {
        flight.finish();
        throw err;
      }
      // The caller gets the runtime's own promise (no extra tick); this
      // side chain, registered first, ends the flight before the caller
      // resumes.
      const end = endOf(flight);
      result.then(end, end);
      // A body cut off mid-response: the same typed error on every runtime.
      return result.catch((err) => {
        throw toTransportError(err, flight.url, "body", flight.callerSignal);
      });
    };
  }
  const bodyGetter = findGetter(base, "body");
  if (bodyGetter !== undefined) {
    Object.defineProperty(proto, "body", {
      configurable: true,
      enumerable: true,
      get(this: TrackedResponse): ReadableStream<Uint8Array> | null {
        let wrapped = this[WRAPPED_BODY];
        if (wrapped === undefined) {
          const body = bodyGetter.call(this) as
            | ReadableStream<Uint8Array>
            | null;
          const flight = this[FLIGHT];
          if (body === null) {
            wrapped = null;
            flight.finish();
          } else {
            // The stream may outlive the response.
            wrapped = wrapBody(body, flight);
            flight.refs++;
            watch(wrapped, flight);
          }
          this[WRAPPED_BODY] = wrapped;
        }
        return wrapped;
      },
    });
  }
  const clone = baseRecord.clone;
  if (typeof clone === "function") {
    proto.clone = function (this: TrackedResponse): Response {
      // Reading either copy to its end means the runtime has received the
      // whole body, so both copies share the flight.
      const copy = (clone as () => TrackedResponse).call(this);
      const flight = this[FLIGHT];
      copy[FLIGHT] = flight;
      Object.setPrototypeOf(copy, proto);
      flight.refs++;
      watch(copy, flight);
      return copy;
    };
  }
  trackedPrototypes.set(base, proto);
  return proto;
}

function findGetter(
  proto: object | null,
  name: string,
): ((this: unknown) => unknown) | undefined {
  for (let p = proto; p !== null; p = Object.getPrototypeOf(p)) {
    const d = Object.getOwnPropertyDescriptor(p, name);
    if (d !== undefined) return d.get;
  }
  return undefined;
}

/** A pass-through stream that ends the flight when the body ends. */
function wrapBody(
  body: ReadableStream<Uint8Array>,
  flight: Flight,
): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      reader ??= body.getReader();
      try {
        const { done, value } = await reader.read();
        if (done) {
          flight.finish();
          controller.close();
        } else {
          controller.enqueue(value);
        }
      } catch (err) {
        flight.finish();
        controller.error(
          toTransportError(err, flight.url, "body", flight.callerSignal),
        );
      }
    },
    async cancel(reason) {
      try {
        await (reader ?? body).cancel(reason);
      } finally {
        flight.finish();
      }
    },
  }, { highWaterMark: 0 });
}

const TRANSPORT_CLOSED =
  "the transport is closed: it was retired (certificate rotation) or its client was closed; send the request again through the client";

function transportClosedError(): KubeauthError {
  return closedError(undefined, TRANSPORT_CLOSED);
}

/**
 * Wraps a runtime's native pool into a {@linkcode Transport} with the
 * contract's close/destroy/in-flight semantics.
 *
 * @example Usage
 * ```ts
 * import { createTrackedTransport } from "./tracked_transport.ts";
 * const transport = createTrackedTransport({
 *   // A pool that answers every request itself, with no network.
 *   fetch: () => Promise.resolve(new Response("ok")),
 *   close: () => Promise.resolve(),
 *   closeDrained: () => Promise.resolve(),
 *   destroy: () => Promise.resolve(),
 *   abort: "shared",
 * });
 * const inFlight = (): number => transport.inFlight;
 * const res = await transport.fetch("https://example.invalid/", {});
 * if (inFlight() !== 1) throw new Error("the body is unread");
 * if (await res.text() !== "ok") throw new Error("unexpected body");
 * if (inFlight() !== 0) throw new Error("the body has ended");
 * await transport.close();
 * const late = await transport.fetch("https://example.invalid/", {})
 *   .catch((e) => e);
 * if (late.code !== "CLOSED") throw new Error("a closed transport must refuse");
 * ```
 *
 * @param pool The native pool.
 * @returns The transport.
 */
export function createTrackedTransport(pool: NativePool): Transport {
  return new TrackedTransport(pool);
}

/** Ends a flight: the {@linkcode Flight.finish} of every flight. */
function finishFlight(this: Flight): void {
  if (this.done) return;
  this.done = true;
  this.owner.end(this);
}

/** The transport createTrackedTransport() returns: one method per step. */
class TrackedTransport implements Transport {
  readonly #pool: NativePool;
  /** Requests started whose body has not ended (reset by destroy()). */
  #inFlight = 0;
  /**
   * Flights whose response was handed out and whose body has not ended,
   * not yet settled by the sweep (see `#sweep`), which lets the
   * garbage collector watch them. This keeps a FinalizationRegistry entry
   * and a header lookup off the common path (each cost ~1 µs per request).
   */
  readonly #unsettled = new Set<Flight>();
  /** Flights with a controller of their own, which destroy() aborts. */
  readonly #ownSignals = new Set<Flight>();
  readonly #mode: NativePool["abort"];
  /** "shared" mode: aborts every request without a signal of its own. */
  readonly #shared: AbortController | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #destroying: Promise<void> | undefined;
  #drained: (() => void) | undefined;
  #onDestroy: (() => void) | undefined;
  readonly #destroyed: Promise<void>;

  constructor(pool: NativePool) {
    this.#pool = pool;
    this.#mode = pool.abort;
    this.#shared = pool.abort === "shared" ? new AbortController() : undefined;
    this.#destroyed = new Promise<void>((resolve) => {
      this.#onDestroy = resolve;
    });
  }

  fetch(url: string, init: RequestInit): Promise<Response> {
    if (this.#closed) return Promise.reject(transportClosedError());
    const flight: Flight = {
      done: false,
      refs: 0,
      res: undefined,
      watched: false,
      controller: undefined,
      userSignal: undefined,
      onUserAbort: undefined,
      onEnd: undefined,
      owner: this,
      finish: finishFlight,
      url,
      callerSignal: init.signal,
    };
    this.#inFlight++;
    const method = init.method;
    let pending: Promise<Response>;
    try {
      const user = init.signal;
      pending = this.#pool.fetch(
        url,
        init,
        user == null && this.#mode !== "per-request"
          ? this.#shared?.signal // undefined in "pool" mode
          : this.#ownSignal(flight, user),
      );
    } catch (err) {
      flight.finish();
      return Promise.reject(err);
    }
    return pending.then(
      (res) => this.#track(res, flight, method),
      (err) => {
        flight.finish();
        throw this.#destroying !== undefined
          ? transportClosedError()
          : toTransportError(err, url, "request", init.signal);
      },
    );
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= this.#closeWhenDrained();
    return this.#closing;
  }

  destroy(): Promise<void> {
    this.#closed = true;
    if (this.#destroying === undefined) {
      const reason = transportClosedError();
      this.#inFlight = 0;
      for (const flight of this.#unsettled) flight.res = undefined;
      this.#unsettled.clear();
      this.#destroying = this.#pool.destroy();
      this.#shared?.abort(reason);
      for (const flight of [...this.#ownSignals]) {
        flight.controller!.abort(reason);
        flight.finish();
      }
      this.#onDestroy?.();
      // A close() waiting for the drain is released too.
      this.#releaseDrained();
    }
    return this.#destroying;
  }

  get inFlight(): number {
    this.#sweep();
    return this.#inFlight;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The end of a flight (called once per flight, by its `finish`). */
  end(flight: Flight): void {
    if (flight.res !== undefined) {
      flight.res = undefined;
      this.#unsettled.delete(flight);
    }
    // At once: an entry the registry still holds costs the garbage
    // collector (~4 µs per request measured on Node 20).
    if (flight.watched) collected.unregister(flight);
    if (flight.controller !== undefined) {
      this.#ownSignals.delete(flight);
      if (flight.onUserAbort !== undefined) {
        flight.userSignal?.removeEventListener("abort", flight.onUserAbort);
      }
    }
    // After destroy() the count is already 0.
    if (this.#destroying === undefined && --this.#inFlight === 0) {
      this.#releaseDrained();
    }
  }

  #releaseDrained(): void {
    const resolve = this.#drained;
    if (resolve === undefined) return;
    this.#drained = undefined;
    resolve();
  }

  /**
   * Settles the unsettled flights: a response without a body (a null-body
   * status, `content-length: 0`) has ended; any other is left to its
   * reader or, once dropped, to the garbage collector. Runs when the set
   * grows past a few entries (so at most that many dropped responses are
   * held a little longer), and before `inFlight` is read or the transport
   * closes, so what can be observed is the same as if bodiless responses
   * ended at once.
   */
  #sweep(): void {
    if (this.#unsettled.size === 0) return;
    const flights = [...this.#unsettled];
    this.#unsettled.clear();
    for (const flight of flights) {
      const res = flight.res as Response;
      flight.res = undefined;
      if (
        NULL_BODY_STATUS.has(res.status) ||
        res.headers.get("content-length") === "0"
      ) flight.finish();
      else watch(res, flight);
    }
  }

  #track(res: Response, flight: Flight, method: string | undefined): Response {
    if (
      this.#destroying !== undefined ||
      (method !== undefined && method.toUpperCase() === "HEAD")
    ) {
      flight.finish();
      return res;
    }
    const tracked = res as TrackedResponse;
    tracked[FLIGHT] = flight;
    flight.refs = 1;
    Object.setPrototypeOf(tracked, trackedPrototypeOf(res));
    if (this.#unsettled.size >= SWEEP_AT) this.#sweep();
    flight.res = res;
    this.#unsettled.add(flight);
    return tracked;
  }

  async #closeWhenDrained(): Promise<void> {
    this.#sweep();
    // A destroy() meanwhile ends the wait (some pools never settle a close
    // that a destroy overtook).
    await Promise.race([
      this.#pool.close().catch(() => {}),
      this.#destroyed,
    ]);
    if (this.#inFlight > 0 && this.#destroying === undefined) {
      await new Promise<void>((resolve) => {
        this.#drained = resolve;
      });
    }
    if (this.#destroying !== undefined) return this.#destroying;
    await this.#pool.closeDrained();
  }

  /**
   * A signal of its own for a request, which destroy() aborts; it follows
   * the caller's signal `user`, if any.
   */
  #ownSignal(
    flight: Flight,
    user: AbortSignal | null | undefined,
  ): AbortSignal {
    const controller = new AbortController();
    flight.controller = controller;
    this.#ownSignals.add(flight);
    if (user == null) return controller.signal;
    if (user.aborted) controller.abort(user.reason);
    else {
      flight.userSignal = user;
      flight.onUserAbort = () => controller.abort(user.reason);
      user.addEventListener("abort", flight.onUserAbort, { once: true });
    }
    return controller.signal;
  }
}
