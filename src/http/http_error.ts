/**
 * HTTP failures as typed errors: {@linkcode httpError} turns a non-2xx
 * response into a {@linkcode KubeauthHttpError} carrying the server's
 * `Status` (reason, message, code); {@linkcode ensureOk} throws it, for
 * code that prefers throwing to checking `res.ok`.
 *
 * @module
 */
import { KubeauthError } from "../errors.ts";
import type { KubeauthErrorCode, KubeauthErrorOptions } from "../errors.ts";

/**
 * A Kubernetes `Status` object (`kind: Status`), the body the API server
 * sends with an HTTP failure and inside a watch `ERROR` event.
 */
export interface KubernetesStatus {
  /** "Status". */
  kind?: string;
  /** "v1". */
  apiVersion?: string;
  /** "Success" or "Failure". */
  status?: string;
  /** What went wrong, for humans, e.g. `configmaps "x" not found`. */
  message?: string;
  /** Machine-readable, e.g. `NotFound`, `AlreadyExists`, `Expired`. */
  reason?: string;
  /** The HTTP status code it stands for. */
  code?: number;
  /** The object concerned (name, group, kind, causes…). */
  details?: Record<string, unknown>;
  /** List metadata. */
  metadata?: Record<string, unknown>;
}

/** What a {@linkcode KubeauthHttpError} is made of. */
export interface KubeauthHttpErrorOptions extends KubeauthErrorOptions {
  /** The HTTP status code (for a watch `ERROR` event: the Status's `code`). */
  status: number;
  /** The server's Status object, when it sent one. */
  serverStatus?: KubernetesStatus;
  /** The error code; default `HTTP_ERROR`. */
  code?: KubeauthErrorCode;
}

/**
 * The API server answered with a failure (`HTTP_ERROR`), or a watch's
 * resourceVersion is too old (`WATCH_EXPIRED`: HTTP 410 Gone, or a watch
 * `ERROR` event with code 410; list again and watch from the list's
 * resourceVersion). The message is the server's own, as kubectl prints it:
 * `Error from server (NotFound): configmaps "x" not found`.
 *
 * @example Usage
 * ```ts
 * import { KubeauthHttpError } from "@kubeauth/fetch";
 * const err = new KubeauthHttpError("Error from server (NotFound): nope", {
 *   status: 404,
 *   serverStatus: { kind: "Status", reason: "NotFound", message: "nope", code: 404 },
 * });
 * if (!(err.code === "HTTP_ERROR" && err.status === 404 && err.reason === "NotFound")) throw new Error("not as shown");
 * ```
 */
export class KubeauthHttpError extends KubeauthError {
  /** The HTTP status code, e.g. 404. */
  readonly status: number;
  /** The Status `reason` (`NotFound`, `Conflict`, `Expired`…), else `""`. */
  readonly reason: string;
  /** The server's Status object, when the body was one. */
  readonly serverStatus: KubernetesStatus | undefined;

  /**
   * Creates an HTTP error.
   *
   * @param message What failed (the server's Status message). No secrets.
   * @param options The status, the server's Status, the code.
   */
  constructor(message: string, options: KubeauthHttpErrorOptions) {
    super(options.code ?? "HTTP_ERROR", message, options);
    this.name = "KubeauthHttpError";
    this.status = options.status;
    this.serverStatus = options.serverStatus;
    this.reason = options.serverStatus?.reason ?? "";
  }
}

const MAX_BODY = 64 * 1024;

/** True for an object that looks like a Kubernetes Status. */
export function isStatus(value: unknown): value is KubernetesStatus {
  return typeof value === "object" && value !== null &&
    (value as { kind?: unknown }).kind === "Status";
}

/** Escapes control characters and caps the length of server text. */
function clean(text: string, max = 500): string {
  const escaped = text.replace(
    // deno-lint-ignore no-control-regex
    /[\u0000-\u001f\u007f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
  return escaped.length > max ? `${escaped.slice(0, max)}…` : escaped;
}

/**
 * The error for a Status object (a failed response's body, or a watch
 * `ERROR` event's object): kubectl's `Error from server (Reason): message`;
 * a 410 is `WATCH_EXPIRED`.
 *
 * @example Usage
 * ```ts
 * import { statusError } from "@kubeauth/fetch";
 * const err = statusError({ kind: "Status", code: 410, reason: "Expired", message: "too old resource version: 1 (5)" });
 * if (!(err.code === "WATCH_EXPIRED" && err.status === 410)) throw new Error("not as shown");
 * if (err.message !== "Error from server (Expired): too old resource version: 1 (5)") throw new Error("not as shown");
 * ```
 *
 * @param status The server's Status.
 * @param httpStatus The HTTP status, when it differs from `status.code`.
 * @returns The typed error (not thrown).
 */
export function statusError(
  status: KubernetesStatus,
  httpStatus?: number,
): KubeauthHttpError {
  const code = httpStatus ?? status.code ?? 500;
  const reason = status.reason ? ` (${clean(status.reason, 100)})` : "";
  const message = clean(status.message ?? `HTTP ${code}`);
  return new KubeauthHttpError(`Error from server${reason}: ${message}`, {
    status: code,
    serverStatus: status,
    code: code === 410 ? "WATCH_EXPIRED" : "HTTP_ERROR",
  });
}

async function readCapped(res: Response): Promise<string> {
  if (res.body === null) return "";
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    while (text.length < MAX_BODY) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return text;
}

/**
 * Reads a failed response's body (at most 64 KiB; the body is consumed)
 * and returns the typed error: the server's Status when the body is one,
 * else `the server answered HTTP <status>` and the start of the body.
 *
 * @example Usage
 * ```ts
 * import { httpError } from "@kubeauth/fetch";
 * const res = new Response(
 *   JSON.stringify({ kind: "Status", code: 404, reason: "NotFound", message: 'configmaps "x" not found' }),
 *   { status: 404 },
 * );
 * const err = await httpError(res);
 * if (err.message !== 'Error from server (NotFound): configmaps "x" not found') throw new Error("not as shown");
 * ```
 *
 * @param res A response (normally not ok).
 * @returns The typed error (not thrown).
 */
export async function httpError(res: Response): Promise<KubeauthHttpError> {
  const text = await readCapped(res).catch(() => "");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (isStatus(parsed)) return statusError(parsed, res.status);
  const statusText = res.statusText ? ` ${clean(res.statusText, 100)}` : "";
  const body = text.trim() === "" ? "" : `: ${clean(text.trim(), 200)}`;
  return new KubeauthHttpError(
    `the server answered HTTP ${res.status}${statusText}${body}`,
    {
      status: res.status,
      code: res.status === 410 ? "WATCH_EXPIRED" : "HTTP_ERROR",
    },
  );
}

/**
 * Returns the response when it is a 2xx; else reads its body and throws a
 * {@linkcode KubeauthHttpError} carrying the server's Status.
 *
 * @example Usage
 * ```ts
 * import { ensureOk, KubeauthHttpError } from "@kubeauth/fetch";
 * const ok = await ensureOk(new Response("{}", { status: 200 }));
 * if (ok.status !== 200) throw new Error("not as shown");
 * const failed = new Response(
 *   JSON.stringify({ kind: "Status", code: 409, reason: "AlreadyExists", message: "exists" }),
 *   { status: 409 },
 * );
 * const err = await ensureOk(failed).catch((e) => e);
 * if (!(err instanceof KubeauthHttpError && err.reason === "AlreadyExists")) throw new Error("not as shown");
 * ```
 *
 * @param res The response (e.g. from `await kube(path)`).
 * @returns The same response, when `res.ok`.
 * @throws {KubeauthHttpError} for any other status.
 */
export async function ensureOk(res: Response): Promise<Response> {
  if (res.ok) return res;
  throw await httpError(res);
}
