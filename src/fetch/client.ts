/**
 * The request pipeline behind {@linkcode AuthedFetch}: pick credentials and
 * the transport generation for them, send, pick again when a certificate
 * rotation retired the generation in between, handle a 401 (refresh, retry
 * once), follow same-origin redirects, close.
 *
 * @module
 */
import type { ConnectionRegistry, Generation } from "./connection_registry.ts";
import {
  authorizationOf,
  isRedirect,
  plainGet,
  prepareRequest,
  redirected,
  resolveUrl,
  withHeader,
} from "./request.ts";
import type { ClusterTarget, HeaderBag, PreparedRequest } from "./request.ts";
import type {
  Credentials,
  CredentialSource,
} from "../credentials/credentials.ts";
import { makeCredentials } from "../credentials/credentials.ts";
import { closedError, KubeauthError } from "../errors.ts";
import { hostPortOf } from "../runtime/transport_error.ts";
import {
  connectSocket,
  HandshakeFailure,
  refusal,
  toWebSocketUrl,
} from "./web_socket.ts";
import type { SocketOpener, WebSocketRequestOptions } from "./web_socket.ts";

/** Options of {@linkcode ClusterClient}. */
export interface ClusterClientOptions {
  /** Where requests may go. */
  target: ClusterTarget;
  /** The credential source. */
  source: CredentialSource;
  /** Whether {@linkcode ClusterClient.close} closes the source. */
  ownsSource: boolean;
  /** The transports, one per client-certificate identity. */
  registry: ConnectionRegistry;
  /** Send a request answered 401 once more with refreshed credentials. */
  retryOnUnauthorized: boolean;
  /** How many same-origin redirects one request may follow. */
  maxRedirects: number;
  /** The deadline for the response headers (`REQUEST_TIMEOUT`), if any. */
  requestTimeoutMs?: number;
}

/** Credentials paired with the generation they go out on, headers cached. */
interface Pairing {
  readonly creds: Credentials;
  readonly generation: Generation;
  /** The Authorization value, `""` when the credentials have none. */
  readonly authorization: string;
  /** The whole init of a plain GET; its headers are ours for any request. */
  readonly plainInit: { headers?: Record<string, string>; redirect: "manual" };
}

/** The pairing a request is on; replaced when it has to pick again. */
type InFlight = { pairing: Pairing };

/**
 * How often one request may pick again because a rotation overtook it (each
 * pick waits for the source, so a burst of rotations settles well within this).
 */
const MAX_REPICKS = 8;
const NO_CREDENTIALS: Credentials = makeCredentials({});

/**
 * One cluster client: what {@linkcode createAuthedFetch} wraps in a callable.
 *
 * @example Usage
 * ```ts
 * import { ClusterClient } from "./client.ts";
 * import { ConnectionRegistry } from "./connection_registry.ts";
 * import { clusterTarget } from "./request.ts";
 * import { makeCredentials } from "../credentials/credentials.ts";
 * let seen = "";
 * const registry = new ConnectionRegistry({
 *   tls: {},
 *   createTransport: () => ({
 *     inFlight: 0,
 *     closed: false,
 *     fetch: (url, init) => {
 *       seen = url + " " + new Headers(init.headers).get("authorization");
 *       return Promise.resolve(new Response("ok"));
 *     },
 *     close: () => Promise.resolve(),
 *     destroy: () => Promise.resolve(),
 *   }),
 * });
 * const creds = makeCredentials({ token: "t" });
 * const client = new ClusterClient({
 *   target: clusterTarget(new URL("https://k8s.test"), "dev", false),
 *   source: {
 *     kind: "token",
 *     get: () => Promise.resolve(creds),
 *     refreshAfterUnauthorized: () => Promise.resolve(null),
 *     close: () => Promise.resolve(),
 *   },
 *   ownsSource: true,
 *   registry,
 *   retryOnUnauthorized: true,
 *   maxRedirects: 10,
 * });
 * await client.fetch("/version");
 * if (seen !== "https://k8s.test/version Bearer t") throw new Error(seen);
 * await client.close();
 * ```
 */
export class ClusterClient {
  readonly #options: ClusterClientOptions;
  /** The last pairing made for the source's credentials. */
  #pairing: Pairing | undefined;
  /** The pairing for requests carrying the caller's Authorization. */
  #passthrough: Pairing | undefined;
  #closing: Promise<void> | undefined;

  /**
   * Creates a client; nothing is fetched or connected yet.
   *
   * @param options Target, credential source, registry and retry settings.
   */
  constructor(options: ClusterClientOptions) {
    this.#options = options;
  }

  /**
   * Sends a request (see {@linkcode AuthedFetch} for the rules).
   *
   * @param input A path, a URL of the cluster's origin, or a Request.
   * @param init As for `fetch`.
   * @returns The response.
   */
  fetch(
    input: string | URL | Request,
    init?: RequestInit,
  ): Promise<Response> {
    const ms = this.#options.requestTimeoutMs;
    if (ms === undefined || !(ms > 0) || ms === Infinity) {
      return this.#fetch(input, init);
    }
    return this.#fetchWithin(input, init, ms);
  }

  /** {@linkcode ClusterClient.fetch} with a deadline for the headers. */
  async #fetchWithin(
    input: string | URL | Request,
    init: RequestInit | undefined,
    ms: number,
  ): Promise<Response> {
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), ms);
    const caller = init?.signal ??
      (input instanceof Request ? input.signal : undefined);
    const signal = caller == null
      ? deadline.signal
      : AbortSignal.any([caller, deadline.signal]);
    try {
      return await this.#fetch(input, { ...init, signal });
    } catch (err) {
      if (!deadline.signal.aborted || caller?.aborted) throw err;
      const url = input instanceof Request ? input.url : String(input);
      const where = hostPortOf(new URL(url, this.#options.target.base).href);
      throw new KubeauthError(
        "REQUEST_TIMEOUT",
        `the request to ${where} got no answer within ${
          ms / 1000
        } s (the requestTimeoutMs option); check that the API server is healthy and any proxy in the way (proxy-url, HTTPS_PROXY), or raise requestTimeoutMs`,
        { cause: err },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  async #fetch(
    input: string | URL | Request,
    init?: RequestInit,
  ): Promise<Response> {
    if (this.#closing !== undefined) throw closedError();
    const p = init === undefined && typeof input === "string"
      ? plainGet(resolveUrl(this.#options.target, input))
      : prepareRequest(this.#options.target, input, init);
    if (p.signal?.aborted) throw p.signal.reason;
    const inFlight = { pairing: await this.#pick(p) };
    const res = await this.#send(p, inFlight);
    if (res.status !== 401 && !isRedirect(res.status)) return res;
    return this.#answer(p, inFlight, res);
  }

  /**
   * Opens a WebSocket to the cluster (see {@linkcode AuthedFetch}'s
   * `webSocket` for the rules). A failed upgrade is explained by the same
   * URL as a plain GET with the same credentials: a 401 refreshes the
   * credentials and tries once more; another status becomes a
   * `WebSocketRefusedError` with the server's Status message.
   *
   * @param input A path or a URL of the cluster's origin.
   * @param options Subprotocols and an abort signal.
   * @returns The open socket.
   */
  async webSocket(
    input: string | URL,
    options: WebSocketRequestOptions = {},
  ): Promise<WebSocket> {
    if (this.#closing !== undefined) throw closedError();
    const url = resolveUrl(this.#options.target, input);
    const signal = options.signal;
    signal?.throwIfAborted();
    const probe: PreparedRequest = { ...plainGet(url), signal };
    let pairing = await this.#pick(probe);
    for (let attempt = 0;; attempt++) {
      try {
        return await connectSocket(
          pairing.generation.transport as unknown as SocketOpener,
          toWebSocketUrl(url),
          pairing.authorization,
          options.protocols,
          signal,
        );
      } catch (err) {
        if (this.#closing !== undefined) throw closedError(err);
        if (!(err instanceof HandshakeFailure)) throw err;
        const res = await sendOn(probe, pairing);
        if (res.status === 401 && attempt === 0) {
          const next = await this.#refresh(pairing.creds, res, signal);
          if (next !== null) {
            await discard(res);
            pairing = await this.#pairingFor(next, signal);
            continue;
          }
        }
        throw await refusal(res, err.message);
      }
    }
  }

  /**
   * Closes the transports and, if owned, the credential source. Idempotent.
   *
   * @returns Resolves when everything is closed.
   */
  close(): Promise<void> {
    this.#closing ??= Promise.allSettled([
      this.#options.registry.close(),
      this.#options.ownsSource ? this.#options.source.close() : undefined,
    ]).then(() => {});
    return this.#closing;
  }

  /** Current credentials (none for caller Authorization) and their generation. */
  async #pick(p: PreparedRequest): Promise<Pairing> {
    if (p.callerAuth) return this.#passthroughPairing();
    let creds: Credentials;
    try {
      creds = await this.#options.source.get(p.signal ?? undefined);
    } catch (err) {
      if (this.#closing !== undefined) throw closedError(err);
      throw err;
    }
    return this.#pairingFor(creds, p.signal);
  }

  /** The cached pairing when it still fits `creds`, checked synchronously. */
  #pairingFor(
    creds: Credentials,
    signal: AbortSignal | null | undefined,
  ): Pairing | Promise<Pairing> {
    const cached = this.#pairing;
    if (
      cached !== undefined && cached.creds === creds &&
      !cached.generation.retired
    ) return cached;
    return this.#pair(creds, signal);
  }

  /** A new pairing; stale credentials (a retired certificate) are replaced. */
  async #pair(
    creds: Credentials,
    signal: AbortSignal | null | undefined,
  ): Promise<Pairing> {
    if (this.#closing !== undefined) throw closedError();
    const { registry, source } = this.#options;
    let generation = registry.select(creds.clientCertificate);
    for (let attempt = 0; generation === undefined; attempt++) {
      // The certificate belongs to a retired generation: these credentials
      // were overtaken while this request waited. Take the current ones.
      const fresh = await source.get(signal ?? undefined);
      if (this.#closing !== undefined) throw closedError();
      generation = fresh === creds || attempt >= MAX_REPICKS
        ? registry.adopt(fresh.clientCertificate)
        : registry.select(fresh.clientCertificate);
      creds = fresh;
    }
    return this.#pairing = this.#makePairing(creds, generation);
  }

  #passthroughPairing(): Pairing {
    if (this.#closing !== undefined) throw closedError();
    const generation = this.#options.registry.current ??
      this.#options.registry.adopt(undefined);
    const cached = this.#passthrough;
    if (cached !== undefined && cached.generation === generation) return cached;
    return this.#passthrough = this.#makePairing(NO_CREDENTIALS, generation);
  }

  #makePairing(creds: Credentials, generation: Generation): Pairing {
    const authorization = authorizationOf(creds);
    let headers: Record<string, string> | undefined;
    if (authorization !== "") headers = { authorization };
    if (this.#options.target.disableCompression) {
      headers = { ...headers, "accept-encoding": "identity" };
    }
    const plainInit = headers === undefined
      ? { redirect: "manual" as const }
      : { headers, redirect: "manual" as const };
    return { creds, generation, authorization, plainInit };
  }

  /**
   * Sends on the request's pairing; when the transport refused the request
   * unsent (retired between the pick and the send), picks again and resends.
   */
  async #send(p: PreparedRequest, inFlight: InFlight): Promise<Response> {
    for (let attempt = 0;; attempt++) {
      const pairing = inFlight.pairing;
      try {
        return await sendOn(p, pairing);
      } catch (err) {
        if (this.#closing !== undefined) throw closedError(err);
        // A destroyed transport aborted a request already sent, a stream
        // body may be half read: report it.
        const refusedUnsent = err instanceof KubeauthError &&
          err.code === "CLOSED" && !pairing.generation.destroyed &&
          (!p.stream || (p.body instanceof ReadableStream && !p.body.locked));
        if (!refusedUnsent || attempt >= MAX_REPICKS) throw err;
        inFlight.pairing = await this.#pick(p);
      }
    }
  }

  /** Handles a 401 (refresh, retry once) and same-origin redirects. */
  async #answer(
    p: PreparedRequest,
    inFlight: InFlight,
    res: Response,
  ): Promise<Response> {
    let refreshed = false;
    let hops = 0;
    for (;;) {
      if (res.status === 401 && !p.callerAuth && !refreshed) {
        refreshed = true;
        const next = await this.#refresh(inFlight.pairing.creds, res, p.signal);
        if (
          next === null || !this.#options.retryOnUnauthorized || !p.replayable
        ) {
          return res;
        }
        await discard(res);
        inFlight.pairing = await this.#pairingFor(next, p.signal);
      } else {
        const following = await this.#redirectTarget(p, res, ++hops);
        if (following === null) return res;
        p = following;
        inFlight.pairing = await this.#pick(p);
      }
      res = await this.#send(p, inFlight);
    }
  }

  /**
   * The request to send for a redirect response (whose body is then
   * discarded), or `null` to return the response as it is.
   */
  async #redirectTarget(
    p: PreparedRequest,
    res: Response,
    hop: number,
  ): Promise<PreparedRequest | null> {
    const status = res.status;
    if (!isRedirect(status) || p.redirect === "manual") return null;
    const location = res.headers.get("location");
    if (location === null) return null;
    if (p.redirect === "error") {
      await discard(res);
      throw new TypeError(
        `the server answered ${status} (a redirect) and the request's redirect mode is "error"`,
      );
    }
    let target: URL;
    try {
      target = new URL(location, p.url);
    } catch {
      return null;
    }
    // Never carry credentials (or the client certificate) elsewhere: a
    // redirect to another origin is handed back to the caller as is.
    if (target.origin !== this.#options.target.origin) return null;
    if (hop > this.#options.maxRedirects) {
      await discard(res);
      throw new TypeError(
        `too many redirects (more than ${this.#options.maxRedirects}); the last one pointed to ${target.pathname}`,
      );
    }
    const next = redirected(p, status, target);
    if (next !== null) await discard(res);
    return next;
  }

  /** Asks the source for credentials newer than `used` after a 401. */
  async #refresh(
    used: Credentials,
    res: Response,
    signal: AbortSignal | null | undefined,
  ): Promise<Credentials | null> {
    const header: Record<string, string[]> = {};
    res.headers.forEach((value, name) => {
      (header[name] ??= []).push(value);
    });
    try {
      return await this.#options.source.refreshAfterUnauthorized(
        used,
        { code: res.status, header },
        signal ?? undefined,
      );
    } catch (err) {
      const closing = this.#closing !== undefined;
      if (signal?.aborted || closing || this.#options.retryOnUnauthorized) {
        await discard(res);
        throw closing ? closedError(err) : err;
      }
      return null; // client-go only logs a failed refresh and returns the 401
    }
  }
}

/** Sends `p` on the pairing's transport with its credentials. */
function sendOn(p: PreparedRequest, pairing: Pairing): Promise<Response> {
  const transport = pairing.generation.transport;
  if (
    p.headers === undefined && p.body == null && p.signal == null &&
    p.method === "GET"
  ) return transport.fetch(p.url, pairing.plainInit);
  let headers: HeaderBag | undefined = p.headers;
  if (pairing.authorization !== "" && !p.callerAuth) {
    headers = p.headers === undefined
      ? pairing.plainInit.headers
      : withHeader(p.headers, "authorization", pairing.authorization);
  }
  const init: RequestInit & { duplex?: "half" } = {
    method: p.method,
    redirect: "manual",
  };
  if (headers !== undefined) init.headers = headers;
  if (p.body != null) init.body = p.body;
  if (p.stream) init.duplex = "half";
  if (p.signal != null) init.signal = p.signal;
  return transport.fetch(p.url, init);
}

/** Reads and drops a response we will not return, so its connection is freed. */
async function discard(res: Response): Promise<void> {
  try {
    await res.arrayBuffer();
  } catch {
    // The body failed: nothing to free.
  }
}
