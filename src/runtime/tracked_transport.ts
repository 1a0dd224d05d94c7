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
import { KubeauthError } from "../errors.ts";
import type { Transport } from "./types.ts";

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

/** How many unsettled flights a transport holds before it sweeps them. */
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
      return result;
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
        controller.error(err);
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

function closedError(): KubeauthError {
  return new KubeauthError(
    "CLOSED",
    "the transport is closed: it was retired (certificate rotation) or its client was closed; send the request again through the client",
  );
}

/**
 * Wraps a runtime's native pool into a {@linkcode Transport} with the
 * contract's close/destroy/in-flight semantics.
 *
 * @example Usage
 * ```ts ignore
 * import { createTrackedTransport } from "./tracked_transport.ts";
 * const transport = createTrackedTransport({
 *   fetch: (url, init, signal) =>
 *     fetch(url, signal === undefined ? init : { ...init, signal }),
 *   close: () => Promise.resolve(),
 *   closeDrained: () => Promise.resolve(),
 *   destroy: () => Promise.resolve(),
 *   abort: "shared",
 * });
 * await transport.close();
 * ```
 *
 * @param pool The native pool.
 * @returns The transport.
 */
export function createTrackedTransport(pool: NativePool): Transport {
  /** Requests started whose body has not ended (reset by destroy()). */
  let inFlight = 0;
  /**
   * Flights whose response was handed out and whose body has not ended,
   * with the response held (`flight.res`). Most bodies end soon, and then
   * the flight just leaves the set; the rest are settled in batches by
   * {@linkcode sweep}, which lets the garbage collector watch them. This
   * keeps a FinalizationRegistry entry and a header lookup off the common
   * path (each cost ~1 µs per request).
   */
  const unsettled = new Set<Flight>();
  /** Flights with a controller of their own, which destroy() aborts. */
  const ownSignals = new Set<Flight>();
  const mode = pool.abort;
  /** "shared" mode: aborts every request without a signal of its own. */
  const shared = mode === "shared" ? new AbortController() : undefined;
  const sharedSignal = shared?.signal;
  let closed = false;
  let closing: Promise<void> | undefined;
  let destroying: Promise<void> | undefined;
  let drained: (() => void) | undefined;

  function finishFlight(this: Flight): void {
    if (this.done) return;
    this.done = true;
    if (this.res !== undefined) {
      this.res = undefined;
      unsettled.delete(this);
    }
    // At once: an entry the registry still holds costs the garbage
    // collector (~4 µs per request measured on Node 20).
    if (this.watched) collected.unregister(this);
    if (this.controller !== undefined) {
      ownSignals.delete(this);
      if (this.onUserAbort !== undefined) {
        this.userSignal?.removeEventListener("abort", this.onUserAbort);
      }
    }
    // After destroy() the count is already 0.
    if (destroying === undefined && --inFlight === 0 && drained !== undefined) {
      const resolve = drained;
      drained = undefined;
      resolve();
    }
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
  function sweep(): void {
    if (unsettled.size === 0) return;
    const flights = [...unsettled];
    unsettled.clear();
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

  function track(
    res: Response,
    flight: Flight,
    method: string | undefined,
  ): Response {
    if (
      destroying !== undefined ||
      (method !== undefined && method.toUpperCase() === "HEAD")
    ) {
      flight.finish();
      return res;
    }
    const tracked = res as TrackedResponse;
    tracked[FLIGHT] = flight;
    flight.refs = 1;
    Object.setPrototypeOf(tracked, trackedPrototypeOf(res));
    if (unsettled.size >= SWEEP_AT) sweep();
    flight.res = res;
    unsettled.add(flight);
    return tracked;
  }

  let onDestroy: (() => void) | undefined;
  const destroyed = new Promise<void>((resolve) => {
    onDestroy = resolve;
  });

  async function doClose(): Promise<void> {
    sweep();
    // A destroy() meanwhile ends the wait (some pools never settle a close
    // that a destroy overtook).
    await Promise.race([pool.close().catch(() => {}), destroyed]);
    if (inFlight > 0 && destroying === undefined) {
      await new Promise<void>((resolve) => {
        drained = resolve;
      });
    }
    if (destroying !== undefined) return destroying;
    await pool.closeDrained();
  }

  /**
   * A signal of its own for a request, which destroy() aborts; it follows
   * the caller's signal `user`, if any.
   */
  function ownSignal(
    flight: Flight,
    user: AbortSignal | null | undefined,
  ): AbortSignal {
    const controller = new AbortController();
    flight.controller = controller;
    ownSignals.add(flight);
    if (user == null) return controller.signal;
    if (user.aborted) controller.abort(user.reason);
    else {
      flight.userSignal = user;
      flight.onUserAbort = () => controller.abort(user.reason);
      user.addEventListener("abort", flight.onUserAbort, { once: true });
    }
    return controller.signal;
  }

  return {
    fetch(url: string, init: RequestInit): Promise<Response> {
      if (closed) return Promise.reject(closedError());
      const flight: Flight = {
        done: false,
        refs: 0,
        res: undefined,
        watched: false,
        controller: undefined,
        userSignal: undefined,
        onUserAbort: undefined,
        onEnd: undefined,
        finish: finishFlight,
      };
      inFlight++;
      const method = init.method;
      let pending: Promise<Response>;
      try {
        const user = init.signal;
        pending = pool.fetch(
          url,
          init,
          user == null && mode !== "per-request"
            ? sharedSignal // undefined in "pool" mode
            : ownSignal(flight, user),
        );
      } catch (err) {
        flight.finish();
        return Promise.reject(err);
      }
      return pending.then(
        (res) => track(res, flight, method),
        (err) => {
          flight.finish();
          throw destroying !== undefined ? closedError() : err;
        },
      );
    },
    close(): Promise<void> {
      closed = true;
      closing ??= doClose();
      return closing;
    },
    destroy(): Promise<void> {
      closed = true;
      if (destroying === undefined) {
        const reason = closedError();
        inFlight = 0;
        for (const flight of unsettled) flight.res = undefined;
        unsettled.clear();
        destroying = pool.destroy();
        shared?.abort(reason);
        for (const flight of [...ownSignals]) {
          flight.controller!.abort(reason);
          flight.finish();
        }
        onDestroy?.();
        // A close() waiting for the drain is released too.
        if (drained !== undefined) {
          const resolve = drained;
          drained = undefined;
          resolve();
        }
      }
      return destroying;
    },
    get inFlight(): number {
      sweep();
      return inFlight;
    },
    get closed(): boolean {
      return closed;
    },
  };
}
