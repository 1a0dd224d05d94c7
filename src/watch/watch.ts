/**
 * A Kubernetes watch as an async iterable: {@linkcode watch} reads the
 * newline-delimited events of `?watch=true` from the streaming body and,
 * when the connection drops or the server ends it, watches again from the
 * last resourceVersion it saw, as client-go's reflector does.
 *
 * @module
 */
import { KubeauthError } from "../errors.ts";
import { httpError, isStatus, statusError } from "../http/http_error.ts";
import type { KubernetesStatus } from "../http/http_error.ts";
import { readLines } from "./lines.ts";

/** The least a watched object has: metadata with a resourceVersion. */
export interface KubernetesObject {
  /** e.g. "v1". */
  apiVersion?: string;
  /** e.g. "ConfigMap". */
  kind?: string;
  /** Name, namespace, resourceVersion… */
  metadata?: {
    name?: string;
    namespace?: string;
    resourceVersion?: string;
    /** Labels, annotations, uid… */
    [key: string]: unknown;
  };
  /** spec, status, data… */
  [key: string]: unknown;
}

/** One watch event. `BOOKMARK` objects carry only a resourceVersion. */
export type WatchEvent<T extends KubernetesObject = KubernetesObject> =
  | { type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK"; object: T }
  | { type: "ERROR"; object: KubernetesStatus };

/** The fetch a watch sends its requests through (an `AuthedFetch`). */
export type KubeFetch = (
  input: string | URL | Request,
  init?: RequestInit,
) => Promise<Response>;

/** Options of {@linkcode watch}. */
export interface WatchOptions {
  /**
   * Watch changes after this version (normally a list's
   * `metadata.resourceVersion`). Unset: from now on.
   */
  resourceVersion?: string;
  /** Ends the watch: the iteration rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Ask the server for `BOOKMARK` events (they advance the resourceVersion
   * a reconnection resumes from).
   *
   * @default {true}
   */
  allowWatchBookmarks?: boolean;
  /** A label selector, e.g. `app=web`. */
  labelSelector?: string;
  /** A field selector, e.g. `metadata.name=x`. */
  fieldSelector?: string;
  /**
   * How many times in a row a connection may fail (refused, dropped before
   * its first event) before the watch rejects with the last error. A
   * connection that delivered an event resets the count.
   *
   * @default {5}
   */
  maxRetries?: number;
  /**
   * The wait before reconnecting after a connection that delivered no
   * event; doubles each time, up to 30 s. After a connection that delivered
   * events the watch reconnects at once.
   *
   * @default {1000}
   */
  retryDelayMs?: number;
}

const MAX_DELAY_MS = 30_000;

const FATAL_CODES = new Set([
  "HTTP_ERROR",
  "WATCH_EXPIRED",
  "CLOSED",
  "ORIGIN_REFUSED",
  "UNSUPPORTED",
  "PERMISSION_DENIED",
]);

/**
 * Errors a reconnection cannot cure: HTTP failures, configuration and
 * credential errors, a closed client. Anything else (a reset connection,
 * a transport error) is retried.
 */
function isFatal(err: unknown): boolean {
  if (!(err instanceof KubeauthError)) return false;
  return FATAL_CODES.has(err.code) ||
    /^(EXEC|KUBECONFIG|CONTEXT|CERT|CREDENTIAL)_?/.test(err.code);
}

/** Waits `ms` unless `signal` aborts first (then rejects with its reason). */
function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** How one connection ended. */
interface ConnectionEnd {
  events: number;
  error: unknown;
}

/** The state of one watch across its connections. */
class Watcher<T extends KubernetesObject> {
  resourceVersion: string;
  failures = 0;
  nextDelayMs: number;
  readonly #kube: KubeFetch;
  readonly #path: string;
  readonly #options: WatchOptions;

  constructor(kube: KubeFetch, path: string, options: WatchOptions) {
    this.#kube = kube;
    this.#path = path;
    this.#options = options;
    this.resourceVersion = options.resourceVersion ?? "";
    this.nextDelayMs = options.retryDelayMs ?? 1000;
  }

  /** The watch URL (relative to the cluster) from the current resourceVersion. */
  url(): string {
    const q = this.#path.indexOf("?");
    const path = q < 0 ? this.#path : this.#path.slice(0, q);
    const params = new URLSearchParams(q < 0 ? "" : this.#path.slice(q + 1));
    params.set("watch", "true");
    if (this.resourceVersion !== "") {
      params.set("resourceVersion", this.resourceVersion);
    }
    if (this.#options.allowWatchBookmarks ?? true) {
      params.set("allowWatchBookmarks", "true");
    }
    const { labelSelector, fieldSelector } = this.#options;
    if (labelSelector) params.set("labelSelector", labelSelector);
    if (fieldSelector) params.set("fieldSelector", fieldSelector);
    return `${path}?${params}`;
  }

  /** Opens one connection; HTTP failures throw a KubeauthHttpError. */
  async open(signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const res = await this.#kube(this.url(), {
      headers: { accept: "application/json" },
      signal,
    });
    if (!res.ok) throw await httpError(res);
    if (res.body === null) {
      return new ReadableStream({ start: (c) => c.close() });
    }
    return res.body;
  }

  /** Parses one line into an event; tracks its resourceVersion. */
  parse(line: string): WatchEvent<T> {
    let event: WatchEvent<T>;
    try {
      event = JSON.parse(line) as WatchEvent<T>;
    } catch (cause) {
      throw new KubeauthError(
        "HTTP_ERROR",
        "the watch stream sent a line that is not JSON; is the path a watchable collection?",
        { cause },
      );
    }
    if (event.type === "ERROR") {
      if (isStatus(event.object) && event.object.code === 410) {
        throw statusError(event.object);
      }
      return event;
    }
    const rv = (event.object as KubernetesObject)?.metadata?.resourceVersion;
    if (typeof rv === "string" && rv !== "") this.resourceVersion = rv;
    return event;
  }

  /** After a connection ended: throws when the watch must stop, else waits. */
  async settle(end: ConnectionEnd, signal: AbortSignal | undefined) {
    if (signal?.aborted) throw signal.reason;
    if (isFatal(end.error)) throw end.error;
    if (end.events > 0) {
      this.failures = 0;
      this.nextDelayMs = this.#options.retryDelayMs ?? 1000;
      return;
    }
    if (end.error !== undefined) {
      this.failures++;
      if (this.failures > (this.#options.maxRetries ?? 5)) throw end.error;
    }
    await delay(this.nextDelayMs, signal);
    this.nextDelayMs = Math.min(this.nextDelayMs * 2, MAX_DELAY_MS);
  }

  /** Every event of every connection, until aborted or a fatal error. */
  async *events(): AsyncGenerator<WatchEvent<T>, void, undefined> {
    const outer = this.#options.signal;
    while (true) {
      if (outer?.aborted) throw outer.reason;
      const controller = new AbortController();
      const onAbort = () => controller.abort(outer?.reason);
      outer?.addEventListener("abort", onAbort, { once: true });
      const end: ConnectionEnd = { events: 0, error: undefined };
      try {
        const body = await this.open(controller.signal);
        for await (const line of readLines(body)) {
          const event = this.parse(line);
          end.events++;
          yield event;
        }
      } catch (err) {
        if (err instanceof KubeauthError && err.code === "WATCH_EXPIRED") {
          throw err;
        }
        end.error = err;
      } finally {
        outer?.removeEventListener("abort", onAbort);
        controller.abort();
      }
      await this.settle(end, outer);
    }
  }
}

/**
 * Watches a collection: an async iterable of typed events (`ADDED`,
 * `MODIFIED`, `DELETED`, `BOOKMARK`, `ERROR`) read from the streaming body.
 *
 * - When the server ends the stream or the connection drops, the watch
 *   reconnects from the last resourceVersion it saw (an event's or a
 *   bookmark's), so no event is lost or repeated.
 * - A resourceVersion the server no longer has (HTTP 410, or an `ERROR`
 *   event with code 410) rejects with a {@linkcode KubeauthHttpError} of
 *   code `WATCH_EXPIRED`: list again and watch from the list's version.
 * - Any other HTTP failure rejects with a `KubeauthHttpError` (`HTTP_ERROR`)
 *   carrying the server's Status; credential errors reject as they are.
 * - Breaking out of the loop closes the connection; the signal aborts it
 *   (the iteration then rejects with the signal's reason).
 *
 * @example Usage
 * ```ts ignore
 * import { createAuthedFetch, ensureOk, watch } from "@kubeauth/fetch";
 * const kube = await createAuthedFetch();
 * const path = "/api/v1/namespaces/default/configmaps";
 * const list = await (await ensureOk(await kube(path))).json();
 * for await (const event of watch(kube, path, { resourceVersion: list.metadata.resourceVersion })) {
 *   if (event.type !== "BOOKMARK") console.log(event.type, event.object.metadata?.name);
 * }
 * ```
 *
 * @param kube The authed fetch (or any fetch bound to the cluster).
 * @param path The collection, e.g. `/api/v1/namespaces/default/pods`
 *   (query parameters are kept; `watch=true` is added).
 * @param options resourceVersion, signal, selectors, retry policy.
 * @returns The events, as they arrive.
 */
export function watch<T extends KubernetesObject = KubernetesObject>(
  kube: KubeFetch,
  path: string,
  options: WatchOptions = {},
): AsyncGenerator<WatchEvent<T>, void, undefined> {
  return new Watcher<T>(kube, path, options).events();
}
