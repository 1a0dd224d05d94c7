/**
 * The ExecCredential protocol (`client.authentication.k8s.io`): the request
 * put in `KUBERNETES_EXEC_INFO`, and the decoding and validation of a
 * plugin's answer, in client-go's order and with client-go's words. Error
 * messages never quote the plugin's output (only field names, types, and an
 * offending `apiVersion`/`kind`/timestamp value).
 *
 * @module
 */
import { CORE_SCHEMA, load as loadYaml } from "js-yaml";
import type { UnauthorizedResponse } from "../credentials/credentials.ts";
import { KubeauthError } from "../errors.ts";
import type { ResolvedCluster } from "../kubeconfig/types.ts";
import { encodeBase64 } from "../tls/base64.ts";
import { badTokenCharacter } from "../credentials/token.ts";

/** The API group of ExecCredential. */
export const EXEC_API_GROUP: string = "client.authentication.k8s.io";

/** The ExecCredential versions kubeauth speaks. */
export type ExecApiVersion =
  | "client.authentication.k8s.io/v1"
  | "client.authentication.k8s.io/v1beta1"
  /** @deprecated Removed from client-go in Kubernetes 1.24; kept working here. */
  | "client.authentication.k8s.io/v1alpha1";

/**
 * The supported versions, newest first. `v1alpha1` is deprecated (client-go
 * dropped it in 1.24) but still works here.
 */
export const EXEC_API_VERSIONS: readonly ExecApiVersion[] = [
  "client.authentication.k8s.io/v1",
  "client.authentication.k8s.io/v1beta1",
  "client.authentication.k8s.io/v1alpha1",
];

/**
 * Whether `v` is a supported ExecCredential apiVersion.
 *
 * @example Usage
 * ```ts
 * import { isExecApiVersion } from "./protocol.ts";
 * if (!isExecApiVersion("client.authentication.k8s.io/v1")) {
 *   throw new Error("v1 is supported");
 * }
 * if (isExecApiVersion("client.authentication.k8s.io/v2")) {
 *   throw new Error("v2 is not");
 * }
 * ```
 *
 * @param v The apiVersion.
 * @returns True for v1, v1beta1 and (deprecated) v1alpha1.
 */
export function isExecApiVersion(v: unknown): v is ExecApiVersion {
  return typeof v === "string" &&
    (EXEC_API_VERSIONS as readonly string[]).includes(v);
}

/** What goes into `KUBERNETES_EXEC_INFO`. */
export interface ExecInfoRequest {
  /** The configured apiVersion. */
  apiVersion: ExecApiVersion;
  /** Whether the plugin runs with the user's terminal on stdin. */
  interactive: boolean;
  /** The cluster, only when `provideClusterInfo` is true (v1, v1beta1). */
  cluster?: ResolvedCluster;
  /** v1alpha1 only: the 401 answer that caused this refresh. */
  response?: UnauthorizedResponse;
}

/**
 * Encodes the request the way client-go does: compact JSON with key order
 * `kind, apiVersion, spec{cluster?, interactive}`, `<`, `>`, `&`, U+2028 and
 * U+2029 escaped as Go does, and a trailing newline. `spec.cluster` holds
 * `server` (as written), then the non-empty of `tls-server-name`,
 * `insecure-skip-tls-verify`, `certificate-authority-data` (base64 of the CA
 * PEM), `proxy-url`, `disable-compression`, then `config` (the
 * `client.authentication.k8s.io/exec` extension with sorted keys, or `null`).
 * v1alpha1 sends `spec.response` on a refresh caused by a 401.
 *
 * @example Usage
 * ```ts
 * import { encodeExecInfo } from "./protocol.ts";
 * const info = encodeExecInfo({
 *   apiVersion: "client.authentication.k8s.io/v1beta1",
 *   interactive: false,
 * });
 * const expected = '{"kind":"ExecCredential",' +
 *   '"apiVersion":"client.authentication.k8s.io/v1beta1",' +
 *   '"spec":{"interactive":false}}\n';
 * if (info !== expected) throw new Error(`unexpected request: ${info}`);
 * ```
 *
 * @param req The request.
 * @returns The JSON text.
 */
export function encodeExecInfo(req: ExecInfoRequest): string {
  let spec: Record<string, unknown>;
  if (req.apiVersion === "client.authentication.k8s.io/v1alpha1") {
    // v1alpha1: {response?, interactive (omitempty)}; no cluster.
    spec = {};
    if (req.response) {
      const header: Record<string, string[]> = {};
      for (const k of Object.keys(req.response.header).sort()) {
        header[k] = [...req.response.header[k]];
      }
      spec.response = {
        ...(Object.keys(header).length > 0 ? { header } : {}),
        ...(req.response.code ? { code: req.response.code } : {}),
      };
    }
    if (req.interactive) spec.interactive = true;
  } else {
    spec = {};
    if (req.cluster) spec.cluster = encodeCluster(req.cluster);
    spec.interactive = req.interactive;
  }
  const obj = { kind: "ExecCredential", apiVersion: req.apiVersion, spec };
  return goEscape(JSON.stringify(obj)) + "\n";
}

function encodeCluster(c: ResolvedCluster): Record<string, unknown> {
  const out: Record<string, unknown> = { server: c.server };
  if (c.tlsServerName) out["tls-server-name"] = c.tlsServerName;
  if (c.insecureSkipTlsVerify) out["insecure-skip-tls-verify"] = true;
  if (c.caPem) {
    out["certificate-authority-data"] = encodeBase64(
      new TextEncoder().encode(c.caPem),
    );
  }
  if (c.proxyUrl) out["proxy-url"] = c.proxyUrl;
  if (c.disableCompression) out["disable-compression"] = true;
  out.config = c.execExtension === undefined ? null : sortKeys(c.execExtension);
  return out;
}

/** client-go converts the kubeconfig's YAML to JSON through a Go map: keys sorted. */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v instanceof Date) return v.toISOString();
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      out[k] = sortKeys((v as Record<string, unknown>)[k]);
    }
    return out;
  }
  return v;
}

function goEscape(json: string): string {
  return json.replace(
    /[<>&\u2028\u2029]/g,
    (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"),
  );
}

/** The `status` of a valid answer. Secrets inside: never log it. */
export interface ExecCredentialStatus {
  /** Bearer token (may be absent when a certificate is returned). */
  token?: string;
  /** PEM client certificate chain. */
  clientCertificateData?: string;
  /** PEM private key. Secret. */
  clientKeyData?: string;
  /** When the credentials expire, if the plugin said so. */
  expirationTimestamp?: Date;
}

const STATUS_FIELDS = [
  "token",
  "clientCertificateData",
  "clientKeyData",
] as const;

function outputInvalid(message: string): KubeauthError {
  return new KubeauthError("EXEC_OUTPUT_INVALID", message);
}

/**
 * Decodes and validates a plugin's stdout, in client-go's order: decoding
 * (JSON when the first non-space character is `{`, else YAML; unknown fields
 * ignored; keys case-sensitive; `kind` may be missing), apiVersion mismatch
 * (missing → `…plugin returned version client.authentication.k8s.io/__internal`),
 * missing status, no token nor cert/key, only one of cert/key; then a token
 * that cannot go into an HTTP header (CR, LF, other control characters) is
 * refused. Certificate parsing is left to `parseClientCertificate`.
 *
 * @example Usage
 * ```ts
 * import { decodeExecCredential } from "./protocol.ts";
 * import { KubeauthError } from "../errors.ts";
 * const v1 = "client.authentication.k8s.io/v1";
 * const status = decodeExecCredential(
 *   `{"apiVersion":"${v1}","kind":"ExecCredential","status":` +
 *     `{"token":"t","expirationTimestamp":"2030-01-01T00:00:00Z"}}`,
 *   v1,
 * );
 * if (status.token !== "t") throw new Error("token not decoded");
 * if (status.expirationTimestamp?.toISOString() !== "2030-01-01T00:00:00.000Z") {
 *   throw new Error("expiry not decoded");
 * }
 * // An answer without a token nor a certificate is refused.
 * try {
 *   decodeExecCredential(`{"apiVersion":"${v1}","status":{}}`, v1);
 *   throw new Error("accepted an empty status");
 * } catch (err) {
 *   const code = err instanceof KubeauthError ? err.code : undefined;
 *   if (code !== "EXEC_OUTPUT_INVALID") throw err;
 * }
 * ```
 *
 * @param stdout The plugin's output (bytes or text).
 * @param apiVersion The configured apiVersion.
 * @returns The validated status.
 * @throws {KubeauthError} `EXEC_OUTPUT_INVALID` with client-go's message.
 */
export function decodeExecCredential(
  stdout: Uint8Array | string,
  apiVersion: ExecApiVersion,
): ExecCredentialStatus {
  const text = typeof stdout === "string"
    ? stdout
    : new TextDecoder().decode(stdout);
  if (text.trim() === "") {
    // client-go reads this as an object without apiVersion ("…/__internal"),
    // which hides what happened.
    throw outputInvalid(
      `exec plugin exited successfully but wrote nothing to stdout; it must print an ExecCredential (apiVersion ${apiVersion}) with a status: check the plugin's own messages on stderr`,
    );
  }
  const doc = parseDocument(text);
  const kindErr = (what: string, type: string) =>
    outputInvalid(
      `decoding stdout: couldn't get version/kind; json parse error: json: cannot unmarshal ${type} into Go struct field .${what} of type string`,
    );
  const gotVersion = doc.apiVersion ?? "";
  const gotKind = doc.kind ?? "";
  if (typeof gotVersion !== "string") {
    throw kindErr("apiVersion", jsonType(gotVersion));
  }
  if (typeof gotKind !== "string") throw kindErr("kind", jsonType(gotKind));
  if (gotVersion !== "") {
    if (
      !isExecApiVersion(gotVersion) ||
      (gotKind !== "" && gotKind !== "ExecCredential")
    ) {
      throw outputInvalid(
        `decoding stdout: no kind ${
          showValue(gotKind || "ExecCredential")
        } is registered for version ${showValue(gotVersion)}`,
      );
    }
  }
  const status = decodeStatus(doc.status);
  if (gotVersion !== apiVersion) {
    throw outputInvalid(
      `exec plugin is configured to use API version ${apiVersion}, plugin returned version ${
        gotVersion === "" ? `${EXEC_API_GROUP}/__internal` : gotVersion
      }`,
    );
  }
  if (status === null) {
    throw outputInvalid("exec plugin didn't return a status field");
  }
  const hasCert = !!status.clientCertificateData;
  const hasKey = !!status.clientKeyData;
  if (!status.token && !hasCert && !hasKey) {
    throw outputInvalid("exec plugin didn't return a token or cert/key pair");
  }
  if (hasCert !== hasKey) {
    throw outputInvalid(
      "exec plugin returned only certificate or key, not both",
    );
  }
  if (status.token) {
    const bad = badTokenCharacter(status.token);
    if (bad !== undefined) {
      throw outputInvalid(
        `exec plugin returned a token that cannot be sent in an HTTP Authorization header: it contains ${bad.what} (character ${
          bad.index + 1
        } of ${status.token.length}); fix the plugin's output`,
      );
    }
  }
  const out: ExecCredentialStatus = {};
  if (status.token) out.token = status.token;
  if (hasCert) {
    out.clientCertificateData = status.clientCertificateData;
    out.clientKeyData = status.clientKeyData;
  }
  if (status.expirationTimestamp) {
    out.expirationTimestamp = status.expirationTimestamp;
  }
  return out;
}

type Doc = Record<string, unknown>;

function parseDocument(text: string): Doc {
  const trimmed = text.replace(/^[\s\uFEFF]+/, "");
  let value: unknown;
  if (trimmed.startsWith("{")) {
    try {
      value = JSON.parse(text);
    } catch {
      // The runtime's message can quote the input: describe it ourselves.
      throw outputInvalid(
        `decoding stdout: couldn't get version/kind; json parse error: ${
          describeJsonError(text)
        }`,
      );
    }
  } else {
    try {
      value = loadFirstYamlDocument(text);
    } catch {
      throw outputInvalid(
        "decoding stdout: yaml: the output is neither valid JSON nor valid YAML",
      );
    }
    if (value === null || value === undefined) value = {};
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw outputInvalid(
      `decoding stdout: couldn't get version/kind; json parse error: json: cannot unmarshal ${
        jsonType(value)
      } into Go value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }`,
    );
  }
  return value as Doc;
}

/**
 * Go's YAML decoder reads the first document only: split on document
 * markers so a trailing document is not parsed at all. CORE_SCHEMA keeps
 * timestamps as strings; `json: true` lets duplicate keys override.
 */
function loadFirstYamlDocument(text: string): unknown {
  const parts = text.split(/^---[ \t]*(?:#.*)?$/m);
  const first = parts.find((p) =>
    p.split("\n").some((line) => line.trim() !== "" && !/^\s*#/.test(line))
  );
  if (first === undefined) return null;
  return loadYaml(first, { json: true, schema: CORE_SCHEMA });
}

function decodeStatus(
  raw: unknown,
):
  | (Omit<ExecCredentialStatus, "expirationTimestamp"> & {
    expirationTimestamp?: Date;
  })
  | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw outputInvalid(
      `decoding stdout: json: cannot unmarshal ${
        jsonType(raw)
      } into Go struct field ExecCredential.status of type ExecCredentialStatus`,
    );
  }
  const s = raw as Record<string, unknown>;
  const out: {
    token?: string;
    clientCertificateData?: string;
    clientKeyData?: string;
    expirationTimestamp?: Date;
  } = {};
  for (const f of STATUS_FIELDS) {
    const v = s[f];
    if (v === undefined || v === null) continue;
    if (typeof v !== "string") {
      throw outputInvalid(
        `decoding stdout: json: cannot unmarshal ${
          jsonType(v)
        } into Go struct field ExecCredentialStatus.status.${f} of type string`,
      );
    }
    out[f] = v;
  }
  const ts = s.expirationTimestamp;
  if (ts !== undefined && ts !== null) {
    if (typeof ts !== "string") {
      throw outputInvalid(
        `decoding stdout: json: cannot unmarshal ${
          jsonType(ts)
        } into Go struct field ExecCredentialStatus.status.expirationTimestamp of type string`,
      );
    }
    const d = parseRfc3339(ts);
    if (d === undefined) {
      throw outputInvalid(
        `decoding stdout: parsing time ${
          showValue(ts)
        } as "2006-01-02T15:04:05Z07:00": not an RFC 3339 time`,
      );
    }
    out.expirationTimestamp = d;
  }
  return out;
}

/**
 * Parses an RFC 3339 timestamp as Go's `time.Parse(time.RFC3339, …)` does:
 * upper-case `T` and `Z`, optional fractional seconds, numeric offsets.
 *
 * @example Usage
 * ```ts
 * import { parseRfc3339 } from "./protocol.ts";
 * const t = parseRfc3339("2006-01-02T15:04:05-07:00");
 * if (t?.toISOString() !== "2006-01-02T22:04:05.000Z") throw new Error("time");
 * if (parseRfc3339("2006-01-02 15:04:05") !== undefined) {
 *   throw new Error("a space instead of T is not RFC 3339");
 * }
 * ```
 *
 * @param s The text.
 * @returns The time, or `undefined` when invalid.
 */
export function parseRfc3339(s: string): Date | undefined {
  const m =
    /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|([+-])(\d{2}):(\d{2}))$/
      .exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number);
  if (mo < 1 || mo > 12 || h > 23 || mi > 59 || se > 59 || d < 1) {
    return undefined;
  }
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  if (d > daysInMonth) return undefined;
  let offsetMin = 0;
  if (m[8] !== "Z") {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return undefined;
    offsetMin = (m[9] === "-" ? -1 : 1) * (oh * 60 + om);
  }
  const ms = m[7] ? Math.floor(Number("0" + m[7]) * 1000) : 0;
  const t = Date.UTC(y, mo - 1, d, h, mi, se, ms);
  const date = new Date(t - offsetMin * 60_000);
  if (y < 100) date.setUTCFullYear(y);
  return date;
}

function jsonType(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "object") return v instanceof Date ? "string" : "object";
  if (typeof v === "boolean") return "bool";
  return typeof v; // string, number
}

/** A short, printable, quoted rendering of a non-secret field value. */
function showValue(v: string): string {
  // deno-lint-ignore no-control-regex
  const clean = v.replace(/[\u0000-\u001f\u007f]/g, "?");
  return JSON.stringify(clean.length > 64 ? clean.slice(0, 64) + "…" : clean);
}

/**
 * Says why JSON text (starting with `{`) is invalid without quoting it, in
 * Go's words where they are fixed: `unexpected end of JSON input` when the
 * first value never closes, `invalid character after top-level value` when
 * something follows a complete value, else `invalid character in JSON input`.
 */
function describeJsonError(text: string): string {
  const end = endOfFirstValue(text);
  if (end === undefined) return "unexpected end of JSON input";
  try {
    JSON.parse(text.slice(0, end));
  } catch {
    return "invalid character in JSON input";
  }
  return "invalid character after top-level value";
}

/** Where the first bracketed value closes (strings skipped), if it does. */
function endOfFirstValue(text: string): number | undefined {
  let depth = 0;
  let inString = false;
  for (let i = text.indexOf("{"); i >= 0 && i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{" || c === "[") depth++;
    else if ((c === "}" || c === "]") && --depth === 0) return i + 1;
  }
  return undefined;
}
