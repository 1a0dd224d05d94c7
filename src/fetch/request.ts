/**
 * Request preparation for {@linkcode AuthedFetch}, pure functions: URL
 * resolution against the cluster server (with its path prefix) and the
 * origin check, header normalisation, body kinds, the Authorization value
 * and redirect rewriting.
 *
 * @module
 */
import type { Credentials } from "../credentials/credentials.ts";
import { KubeauthError } from "../errors.ts";
import { encodeBase64 } from "../tls/base64.ts";
import { headerBytesOf } from "../credentials/token.ts";

/** Caller headers as kubeauth keeps them: a plain record or a `Headers`. */
export type HeaderBag = Record<string, string> | Headers;

/** Where requests may go: one cluster's origin and path prefix. */
export interface ClusterTarget {
  /** The server's origin, e.g. `https://10.0.0.1:6443`. */
  readonly origin: string;
  /** The origin plus the server's path prefix, without a trailing slash. */
  readonly base: string;
  /** The context's name, for messages. */
  readonly contextName: string;
  /** The cluster's `disable-compression`: send `Accept-Encoding: identity`. */
  readonly disableCompression: boolean;
}

/** One request, normalised. */
export interface PreparedRequest {
  /** The absolute URL, always of the cluster's origin. */
  url: string;
  /** The method, `GET` by default. */
  method: string;
  /** The caller's headers (without ours), `undefined` when none. */
  headers: HeaderBag | undefined;
  /** The caller set Authorization: no credentials, no 401 handling. */
  callerAuth: boolean;
  /** The body, if any. */
  body: BodyInit | null | undefined;
  /** The body can be sent again (401 retry, 307/308). */
  replayable: boolean;
  /** The body is a stream (needs `duplex: "half"`). */
  stream: boolean;
  /** The caller's signal, if any. */
  signal: AbortSignal | null | undefined;
  /** The caller's redirect mode, `follow` by default. */
  redirect: RequestRedirect;
}

const SCHEME = /^[a-zA-Z][a-zA-Z\d+.-]*:/;
const BODY_HEADERS = [
  "content-type",
  "content-length",
  "content-encoding",
  "content-language",
  "content-location",
];

/**
 * The target for a cluster server URL.
 *
 * @example Usage
 * ```ts
 * import { clusterTarget } from "./request.ts";
 * const target = clusterTarget(new URL("https://k8s.test/prefix/"), "dev", false);
 * if (target.base !== "https://k8s.test/prefix") throw new Error(target.base);
 * ```
 *
 * @param server The cluster's server URL.
 * @param contextName The context's name, for messages.
 * @param disableCompression The cluster's `disable-compression`.
 * @returns The target.
 */
export function clusterTarget(
  server: URL,
  contextName: string,
  disableCompression: boolean,
): ClusterTarget {
  return {
    origin: server.origin,
    base: server.origin + server.pathname.replace(/\/+$/, ""),
    contextName,
    disableCompression,
  };
}

/**
 * Resolves a request URL against the cluster: `/path` and `path` go under
 * the server's path prefix; an absolute URL must be of the cluster's origin.
 *
 * @example Usage
 * ```ts
 * import { clusterTarget, resolveUrl } from "./request.ts";
 * const target = clusterTarget(new URL("https://k8s.test/prefix"), "dev", false);
 * if (resolveUrl(target, "/api") !== "https://k8s.test/prefix/api") throw new Error("path");
 * if (resolveUrl(target, "api") !== "https://k8s.test/prefix/api") throw new Error("relative");
 * let code = "";
 * try {
 *   resolveUrl(target, "https://elsewhere.test/");
 * } catch (err) {
 *   code = (err as { code: string }).code;
 * }
 * if (code !== "ORIGIN_REFUSED") throw new Error("another origin must be refused");
 * ```
 *
 * @param target The cluster target.
 * @param input A path, or an absolute URL.
 * @returns The absolute URL.
 * @throws {KubeauthError} `ORIGIN_REFUSED` for a URL of another origin.
 */
export function resolveUrl(target: ClusterTarget, input: string | URL): string {
  if (typeof input !== "string") return checkOrigin(target, input);
  if (input.charCodeAt(0) === 47 /* / */) {
    // "/path": appended to the server URL, so the authority cannot change.
    if (input.charCodeAt(1) !== 47) return target.base + input;
  } else if (input.startsWith(target.origin + "/")) {
    return input;
  } else if (!SCHEME.test(input)) {
    return target.base + "/" + input;
  }
  return checkOrigin(target, new URL(input, target.origin + "/"));
}

function checkOrigin(target: ClusterTarget, url: URL): string {
  if (url.origin !== target.origin) {
    const where = url.origin === "null" ? url.protocol : url.origin;
    throw new KubeauthError(
      "ORIGIN_REFUSED",
      `refusing to send a request to ${where}: this client only talks to its cluster, ${target.origin} (context "${target.contextName}"); use the runtime's fetch for other servers`,
    );
  }
  return url.href;
}

/**
 * A plain GET of an absolute URL (no caller init).
 *
 * @example Usage
 * ```ts
 * import { plainGet } from "./request.ts";
 * const p = plainGet("https://k8s.test/version");
 * if (p.method !== "GET" || !p.replayable) throw new Error("unexpected request");
 * ```
 *
 * @param url The absolute URL.
 * @returns The prepared request.
 */
export function plainGet(url: string): PreparedRequest {
  return {
    url,
    method: "GET",
    headers: undefined,
    callerAuth: false,
    body: undefined,
    replayable: true,
    stream: false,
    signal: undefined,
    redirect: "follow",
  };
}

/**
 * Normalises a `fetch` call: only `method`, `headers`, `body`, `signal` and
 * `redirect` of `init` (or of a `Request`) are used.
 *
 * @example Usage
 * ```ts
 * import { clusterTarget, prepareRequest } from "./request.ts";
 * const target = clusterTarget(new URL("https://k8s.test"), "dev", true);
 * const p = prepareRequest(target, "/api", { method: "POST", body: "{}" });
 * if (p.url !== "https://k8s.test/api" || !p.replayable) throw new Error("unexpected");
 * const headers = p.headers as Record<string, string>;
 * if (headers["accept-encoding"] !== "identity") throw new Error("disable-compression");
 * ```
 *
 * @param target The cluster target.
 * @param input A path, a URL of the cluster's origin, or a Request.
 * @param init As for `fetch`.
 * @returns The prepared request.
 * @throws {KubeauthError} `ORIGIN_REFUSED` for a URL of another origin.
 */
export function prepareRequest(
  target: ClusterTarget,
  input: string | URL | Request,
  init?: RequestInit,
): PreparedRequest {
  let source: RequestInit = init ?? {};
  let url: string;
  if (typeof input === "string" || input instanceof URL) {
    url = resolveUrl(target, input);
  } else {
    url = resolveUrl(target, new URL(input.url));
    source = {
      method: init?.method ?? input.method,
      headers: init?.headers ?? input.headers,
      body: init?.body !== undefined ? init.body : input.body,
      signal: init?.signal !== undefined ? init.signal : input.signal,
      redirect: init?.redirect ?? input.redirect,
    };
  }
  let headers = normaliseHeaders(source.headers);
  const callerAuth = headers !== undefined &&
    hasHeader(headers, "authorization");
  if (
    target.disableCompression &&
    (headers === undefined || !hasHeader(headers, "accept-encoding"))
  ) {
    headers = withHeader(headers, "accept-encoding", "identity");
  }
  const stream = isStreamBody(source.body);
  return {
    url,
    method: checkMethod(source.method),
    headers,
    callerAuth,
    body: source.body,
    replayable: !stream,
    stream,
    signal: source.signal,
    redirect: source.redirect ?? "follow",
  };
}

/**
 * The request to send after a same-origin redirect to `target`, or `null`
 * when it cannot be followed (a stream body cannot be sent twice). 303 (and
 * 301/302 after a POST) turn into a GET without body headers, as browsers do.
 *
 * @example Usage
 * ```ts
 * import { plainGet, redirected } from "./request.ts";
 * const next = redirected(plainGet("https://k8s.test/a"), 302, new URL("https://k8s.test/b"));
 * if (next?.url !== "https://k8s.test/b") throw new Error("unexpected");
 * ```
 *
 * @param p The request that was redirected.
 * @param status The redirect status.
 * @param target The resolved `Location`.
 * @returns The next request, or `null`.
 */
export function redirected(
  p: PreparedRequest,
  status: number,
  target: URL,
): PreparedRequest | null {
  const method = p.method.toUpperCase();
  if (
    (status === 303 && method !== "HEAD") ||
    (status <= 302 && method === "POST")
  ) {
    return {
      ...p,
      url: target.href,
      method: "GET",
      body: undefined,
      replayable: true,
      stream: false,
      headers: withoutBodyHeaders(p.headers),
    };
  }
  return p.replayable ? { ...p, url: target.href } : null;
}

/**
 * The `Authorization` value for credentials: `Bearer <token>` (a token
 * with characters beyond ASCII as its UTF-8 bytes, as kubectl sends it), else
 * `Basic <base64>`, else `""`.
 *
 * @example Usage
 * ```ts
 * import { authorizationOf } from "./request.ts";
 * import { makeCredentials } from "../credentials/credentials.ts";
 * const basic = makeCredentials({ basic: { username: "ü", password: "p" } });
 * if (authorizationOf(basic) !== "Basic w7w6cA==") throw new Error(authorizationOf(basic));
 * if (authorizationOf(makeCredentials({})) !== "") throw new Error("none");
 * const utf8 = authorizationOf(makeCredentials({ token: "t\u00e9" }));
 * if (utf8 !== "Bearer t\u00c3\u00a9") throw new Error("not UTF-8 bytes");
 * ```
 *
 * @param creds The credentials.
 * @returns The header value, `""` for none.
 */
export function authorizationOf(creds: Credentials): string {
  const token = creds.token;
  if (token !== undefined && token !== "") {
    return "Bearer " + headerBytesOf(token);
  }
  const basic = creds.basic;
  if (basic === undefined) return "";
  const pair = new TextEncoder().encode(basic.username + ":" + basic.password);
  return "Basic " + encodeBase64(pair);
}

/**
 * A copy of `headers` with `name` (lower case) set; the caller's object is
 * never changed.
 *
 * @example Usage
 * ```ts
 * import { withHeader } from "./request.ts";
 * const mine = { Accept: "a", Authorization: "x" };
 * const copy = withHeader(mine, "authorization", "y") as Record<string, string>;
 * if (copy.authorization !== "y" || "Authorization" in copy) throw new Error("unexpected");
 * if (mine.Authorization !== "x") throw new Error("caller's object changed");
 * ```
 *
 * @param headers The headers, if any.
 * @param name The lower-case header name.
 * @param value The value.
 * @returns The copy.
 */
export function withHeader(
  headers: HeaderBag | undefined,
  name: string,
  value: string,
): HeaderBag {
  if (headers instanceof Headers) {
    const copy = new Headers(headers);
    copy.set(name, value);
    return copy;
  }
  const copy: Record<string, string> = {};
  for (const key in headers) {
    if (key.toLowerCase() !== name) copy[key] = headers[key];
  }
  copy[name] = value;
  return copy;
}

/**
 * The headers minus those describing a body (a redirect turned into a GET).
 *
 * @example Usage
 * ```ts
 * import { withoutBodyHeaders } from "./request.ts";
 * const h = withoutBodyHeaders({ "Content-Type": "x", Accept: "y" }) as Record<string, string>;
 * if ("Content-Type" in h || h.Accept !== "y") throw new Error("unexpected");
 * ```
 *
 * @param headers The headers, if any.
 * @returns A copy without body headers, `undefined` for none.
 */
export function withoutBodyHeaders(
  headers: HeaderBag | undefined,
): HeaderBag | undefined {
  if (headers === undefined) return undefined;
  if (headers instanceof Headers) {
    const copy = new Headers(headers);
    for (const name of BODY_HEADERS) copy.delete(name);
    return copy;
  }
  const copy: Record<string, string> = {};
  for (const key in headers) {
    if (!BODY_HEADERS.includes(key.toLowerCase())) copy[key] = headers[key];
  }
  return copy;
}

/**
 * Whether a status is a redirect kubeauth may follow (301, 302, 303, 307, 308).
 *
 * @example Usage
 * ```ts
 * import { isRedirect } from "./request.ts";
 * if (!isRedirect(307) || isRedirect(304)) throw new Error("unexpected");
 * ```
 *
 * @param status The HTTP status.
 * @returns True for a redirect.
 */
export function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 ||
    status === 307 || status === 308;
}

const METHOD_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);

/**
 * The request's method, `GET` when absent. A method that is not an HTTP
 * token, or one fetch forbids, is refused before anything is sent (one
 * runtime would otherwise send a GET in its place).
 *
 * @example Usage
 * ```ts
 * import { checkMethod } from "./request.ts";
 * if (checkMethod(undefined) !== "GET" || checkMethod("patch") !== "patch") throw new Error("token");
 * let code = "";
 * try {
 *   checkMethod("BAD METHOD");
 * } catch (err) {
 *   code = (err as { code: string }).code;
 * }
 * if (code !== "REQUEST_INVALID") throw new Error("must refuse");
 * ```
 *
 * @param method The caller's method.
 * @returns The method to send.
 * @throws {KubeauthError} `REQUEST_INVALID` for an invalid method.
 */
export function checkMethod(method: string | undefined): string {
  if (method === undefined) return "GET";
  if (
    !METHOD_TOKEN.test(method) || FORBIDDEN_METHODS.has(method.toUpperCase())
  ) {
    throw new KubeauthError(
      "REQUEST_INVALID",
      `invalid HTTP method ${
        JSON.stringify(method)
      }: a method is one word of letters, digits or !#$%&'*+-.^_\`|~ (e.g. GET, POST, PATCH), and CONNECT, TRACE and TRACK are not allowed`,
    );
  }
  return method;
}

/** A record stays a record (cheapest for fetch); anything else becomes Headers. */
function normaliseHeaders(
  headers: HeadersInit | undefined,
): HeaderBag | undefined {
  if (headers === undefined || headers === null) return undefined;
  if (headers instanceof Headers) return headers;
  // Pairs (arrays and other iterables) become Headers.
  const iterator =
    (headers as { [Symbol.iterator]?: unknown })[Symbol.iterator];
  if (typeof iterator === "function") return new Headers(headers);
  return headers as Record<string, string>;
}

function hasHeader(headers: HeaderBag, name: string): boolean {
  if (headers instanceof Headers) return headers.has(name);
  for (const key in headers) {
    if (key.length === name.length && key.toLowerCase() === name) return true;
  }
  return false;
}

/**
 * Streams are consumed by the first send; everything else (string, buffers,
 * `Blob`, `FormData`, `URLSearchParams`) fetch copies, so it can be replayed.
 */
function isStreamBody(body: BodyInit | null | undefined): boolean {
  if (body === undefined || body === null) return false;
  return !(typeof body === "string" || body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) || body instanceof Blob ||
    body instanceof URLSearchParams || body instanceof FormData);
}
