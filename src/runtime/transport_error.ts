/**
 * Translates the errors a runtime's fetch raises for network and TLS
 * failures into {@linkcode KubeauthError}s with one code and one wording on
 * every runtime: `TLS_VERIFY_FAILED`, `CONNECTION_FAILED`,
 * `CONNECTION_RESET` and `REQUEST_TIMEOUT`. Each runtime words these
 * differently (Node and Deno say `fetch failed` with the facts in `cause`,
 * Bun puts an OpenSSL or errno code on the error itself, Deno's body errors
 * say `error reading a body from connection`); this file recognises each
 * shape by code and key phrase, anywhere in the `cause` chain. The runtime's
 * error stays available as the `cause`. Anything not recognised (a caller's
 * abort, a `KubeauthError`, a programming error) is returned unchanged.
 *
 * @module
 */
import { KubeauthError } from "../errors.ts";

/** When the failure happened: before the response headers, or in the body. */
export type TransportPhase = "request" | "body";

type Kind = "tls" | "connect" | "reset" | "timeout";

interface Classified {
  kind: Kind;
  /** The cause in plain words. */
  reason: string;
}

const TLS_UNKNOWN_CA = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
]);
const TLS_EXPIRED = new Set(["CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID"]);
const TLS_OTHER = new Set([
  "CERT_SIGNATURE_FAILURE",
  "CERT_REJECTED",
  "CERT_UNTRUSTED",
  "INVALID_CA",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);
const CONNECT_CODES: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "host name not found",
  EAI_AGAIN: "host name not found",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "connection attempt timed out",
  UND_ERR_CONNECT_TIMEOUT: "connection attempt timed out",
  ConnectionRefused: "connection refused",
  FailedToOpenSocket: "connection refused",
};
const RESET_CODES = new Set([
  "ECONNRESET",
  "EPIPE",
  "ECONNABORTED",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_RES_CONTENT_LENGTH_MISMATCH",
  "ERR_STREAM_PREMATURE_CLOSE",
  "ConnectionClosed",
]);
const TIMEOUT_CODES = new Set([
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

/** Key phrases of messages without a code (mostly Deno's), lower case. */
const PHRASES: [string, Kind, string][] = [
  ["unknownissuer", "tls", "it is not signed by the cluster's CA"],
  ["notvalidforname", "tls", "it is not issued for this host name"],
  ["notvalidyet", "tls", "it has expired or is not yet valid"],
  ["expired", "tls", "it has expired or is not yet valid"],
  ["invalid peer certificate", "tls", "it did not verify"],
  ["certificate verify failed", "tls", "it did not verify"],
  ["self signed certificate", "tls", "it is not signed by the cluster's CA"],
  ["self-signed certificate", "tls", "it is not signed by the cluster's CA"],
  ["unable to verify", "tls", "it is not signed by the cluster's CA"],
  ["connection refused", "connect", "connection refused"],
  ["dns error", "connect", "host name not found"],
  ["failed to lookup address", "connect", "host name not found"],
  ["name or service not known", "connect", "host name not found"],
  ["network is unreachable", "connect", "network unreachable"],
  ["no route to host", "connect", "host unreachable"],
  ["connection reset", "reset", ""],
  ["error reading a body from connection", "reset", ""],
  ["connection closed before message completed", "reset", ""],
  ["socket connection was closed unexpectedly", "reset", ""],
  ["other side closed", "reset", ""],
  ["unexpected eof", "reset", ""],
  ["unexpected end of file", "reset", ""],
  ["broken pipe", "reset", ""],
  ["terminated", "reset", ""],
];

function tlsReason(code: string): string | undefined {
  if (TLS_UNKNOWN_CA.has(code)) return "it is not signed by the cluster's CA";
  if (TLS_EXPIRED.has(code)) return "it has expired or is not yet valid";
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return "it is not issued for this host name";
  }
  if (TLS_OTHER.has(code)) return "it did not verify";
  return undefined;
}

function classifyOne(err: unknown): Classified | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as { code?: unknown; name?: unknown; message?: unknown };
  const code = typeof e.code === "string" ? e.code : "";
  if (code !== "") {
    const tls = tlsReason(code);
    if (tls !== undefined) return { kind: "tls", reason: tls };
    if (code in CONNECT_CODES) {
      return { kind: "connect", reason: CONNECT_CODES[code] };
    }
    if (RESET_CODES.has(code)) return { kind: "reset", reason: "" };
    if (TIMEOUT_CODES.has(code)) return { kind: "timeout", reason: "" };
  }
  const message = typeof e.message === "string" ? e.message.toLowerCase() : "";
  for (const [phrase, kind, reason] of PHRASES) {
    if (message.includes(phrase)) return { kind, reason };
  }
  return undefined;
}

/** The first recognised failure in `err` and its cause chain. */
function classify(err: unknown): Classified | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 6 && current != null; depth++) {
    const found = classifyOne(current);
    if (found !== undefined) return found;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * `host:port` of a URL, with the scheme's default port spelled out.
 *
 * @example Usage
 * ```ts
 * import { hostPortOf } from "./transport_error.ts";
 * if (hostPortOf("https://k8s.test/api") !== "k8s.test:443") throw new Error("not as shown");
 * if (hostPortOf("https://10.0.0.1:6443/") !== "10.0.0.1:6443") throw new Error("not as shown");
 * ```
 *
 * @param url An absolute URL.
 * @returns Its host and port.
 */
export function hostPortOf(url: string): string {
  try {
    const u = new URL(url);
    if (u.port !== "") return u.host;
    return `${u.host}:${u.protocol === "http:" ? 80 : 443}`;
  } catch {
    return url;
  }
}

const PROXY_HINT = "any proxy in the way (proxy-url, HTTPS_PROXY)";

/**
 * The message for a transport failure of `kind` talking to `hostPort`.
 *
 * @example Usage
 * ```ts
 * import { transportFailureMessage } from "./transport_error.ts";
 * const m = transportFailureMessage("connect", "10.0.0.1:6443", "connection refused", "request");
 * if (!(m.includes("10.0.0.1:6443") && m.includes("connection refused"))) throw new Error("not as shown");
 * ```
 *
 * @param kind What failed.
 * @param hostPort The server, `host:port`.
 * @param reason The cause in plain words (TLS and connect failures).
 * @param phase Before the response headers, or while reading the body.
 * @returns The message.
 */
export function transportFailureMessage(
  kind: "tls" | "connect" | "reset" | "timeout",
  hostPort: string,
  reason: string,
  phase: TransportPhase,
): string {
  switch (kind) {
    case "tls":
      return `the server at ${hostPort} presented a certificate that does not verify: ${reason}; check that the cluster's certificate-authority (or certificate-authority-data) is the CA that issued the server's certificate, that tls-server-name names the certificate's host if it differs from the server address, and ${PROXY_HINT}`;
    case "connect":
      return `cannot connect to the cluster at ${hostPort}: ${reason}; check the cluster's server address in the kubeconfig, that the API server is running and reachable from here, and ${PROXY_HINT}`;
    case "reset":
      return `the connection to ${hostPort} was closed ${
        phase === "body"
          ? "while the response body was being read (the response is cut off)"
          : "before the server answered"
      }; send the request again, and check ${PROXY_HINT} or a load balancer that drops connections`;
    case "timeout":
      return `the request to ${hostPort} timed out: the server did not answer in time; check that the API server is healthy and ${PROXY_HINT}`;
  }
}

const CODES: Record<
  Kind,
  | "TLS_VERIFY_FAILED"
  | "CONNECTION_FAILED"
  | "CONNECTION_RESET"
  | "REQUEST_TIMEOUT"
> = {
  tls: "TLS_VERIFY_FAILED",
  connect: "CONNECTION_FAILED",
  reset: "CONNECTION_RESET",
  timeout: "REQUEST_TIMEOUT",
};

/**
 * The {@linkcode KubeauthError} for a runtime's transport failure, or `err`
 * itself when it is not one (a caller's abort, a `KubeauthError`, anything
 * not recognised).
 *
 * @example Usage
 * ```ts
 * import { toTransportError } from "./transport_error.ts";
 * // Node's and Deno's shape: "fetch failed" with the facts in the cause.
 * const node = new TypeError("fetch failed", {
 *   cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }),
 * });
 * // Bun's shape: the code on the error itself.
 * const bun = Object.assign(new TypeError("Unable to connect"), { code: "ECONNREFUSED" });
 * const a = toTransportError(node, "https://10.0.0.1:6443/api", "request") as { code: string; message: string };
 * const b = toTransportError(bun, "https://10.0.0.1:6443/api", "request") as { code: string; message: string };
 * if (!(a.code === "CONNECTION_FAILED" && a.message === b.message)) throw new Error("not as shown");
 * const abort = new DOMException("aborted", "AbortError");
 * if (toTransportError(abort, "https://10.0.0.1:6443/", "request") !== abort) throw new Error("not as shown");
 * ```
 *
 * @param err What the runtime's fetch (or body read) rejected with.
 * @param url The request's URL.
 * @param phase Before the response headers, or while reading the body.
 * @param callerSignal The caller's signal: its abort reason is never translated.
 * @returns The translated error, or `err` unchanged.
 */
export function toTransportError(
  err: unknown,
  url: string,
  phase: TransportPhase,
  callerSignal?: AbortSignal | null,
): unknown {
  if (err instanceof KubeauthError) return err;
  if (callerSignal?.aborted) return err;
  const name = (err as { name?: unknown } | null)?.name;
  if (name === "NotCapable" || name === "PermissionDenied") {
    // Deno without --allow-net (or without it for this host).
    const where = hostPortOf(url);
    return new KubeauthError(
      "PERMISSION_DENIED",
      `Deno denied network access to the cluster at ${where}: run with --allow-net=${where} (or --allow-net)`,
      { cause: err },
    );
  }
  if (name === "AbortError") return err;
  let found: Classified | undefined;
  if (name === "TimeoutError") found = { kind: "timeout", reason: "" };
  else found = classify(err);
  if (found === undefined) return err;
  return new KubeauthError(
    CODES[found.kind],
    transportFailureMessage(found.kind, hostPortOf(url), found.reason, phase),
    { cause: err },
  );
}
