/**
 * Typed errors. Every failure kubeauth reports is a {@linkcode KubeauthError}
 * with a stable {@linkcode KubeauthError.code}; subclasses add the facts a
 * user needs (the plugin command, its exit code, the tail of its stderr…).
 *
 * Messages say what failed and what to do. They never contain a secret
 * (token, private key, password): callers build them from names and paths only.
 *
 * @module
 */

/**
 * The stable error codes. New codes may be added; existing ones never change.
 *
 * @example Usage
 * ```ts
 * import type { KubeauthErrorCode } from "@kubeauth/fetch";
 * const code: KubeauthErrorCode = "EXEC_TIMEOUT";
 * ```
 */
export type KubeauthErrorCode =
  | "KUBECONFIG_INVALID"
  | "KUBECONFIG_NOT_FOUND"
  | "CONTEXT_NOT_FOUND"
  | "EXEC_CONFIG_INVALID"
  | "EXEC_NOT_FOUND"
  | "EXEC_FAILED"
  | "EXEC_TIMEOUT"
  | "EXEC_OUTPUT_INVALID"
  | "EXEC_OUTPUT_TOO_LARGE"
  | "EXEC_INTERACTIVE_UNAVAILABLE"
  | "CERT_INVALID"
  | "CREDENTIAL_INVALID"
  | "ORIGIN_REFUSED"
  | "HTTP_ERROR"
  | "WATCH_EXPIRED"
  | "UNSUPPORTED"
  | "PERMISSION_DENIED"
  | "CLOSED"
  | "WEBSOCKET_REFUSED"
  | "STREAM_FAILED"
  | "TLS_VERIFY_FAILED"
  | "CONNECTION_FAILED"
  | "CONNECTION_RESET"
  | "REQUEST_TIMEOUT"
  | "REQUEST_INVALID";

/** Options shared by every kubeauth error constructor. */
export interface KubeauthErrorOptions {
  /** The underlying error, if any. Must not carry a secret in its message. */
  cause?: unknown;
}

/**
 * The base class of every error kubeauth throws on purpose.
 *
 * @example Usage
 * ```ts
 * import { KubeauthError } from "./errors.ts";
 * let code: string | undefined;
 * try {
 *   // e.g. createAuthedFetch(), or a request whose plugin failed
 *   throw new KubeauthError("EXEC_NOT_FOUND", "exec: executable aws not found");
 * } catch (err) {
 *   if (!(err instanceof KubeauthError)) throw err;
 *   code = err.code; // stable and machine-readable; err.message is for humans
 * }
 * if (code !== "EXEC_NOT_FOUND") throw new Error(`unexpected code ${code}`);
 * ```
 */
export class KubeauthError extends Error {
  /** A stable, machine-readable code, e.g. `EXEC_FAILED`. */
  readonly code: KubeauthErrorCode;

  /**
   * Creates an error.
   *
   * @param code The stable error code.
   * @param message What failed and what to do about it. No secrets.
   * @param options The cause, if any.
   */
  constructor(
    code: KubeauthErrorCode,
    message: string,
    options?: KubeauthErrorOptions,
  ) {
    super(
      message,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "KubeauthError";
    this.code = code;
  }
}

/** Where in which file a kubeconfig problem was found. */
export interface KubeconfigErrorOptions extends KubeauthErrorOptions {
  /** The kubeconfig file, when the problem is in a file. */
  file?: string;
}

/**
 * A kubeconfig could not be found, read, parsed or resolved
 * (`KUBECONFIG_INVALID`, `KUBECONFIG_NOT_FOUND`, `CONTEXT_NOT_FOUND`).
 *
 * @example Usage
 * ```ts
 * import { KubeconfigError } from "@kubeauth/fetch";
 * const err = new KubeconfigError("CONTEXT_NOT_FOUND", 'context "x" not found');
 * if (err.code !== "CONTEXT_NOT_FOUND") throw new Error("not as shown");
 * ```
 */
export class KubeconfigError extends KubeauthError {
  /** The kubeconfig file concerned, if known. */
  readonly file: string | undefined;

  /**
   * Creates a kubeconfig error.
   *
   * @param code The stable error code.
   * @param message What failed and what to do about it.
   * @param options The file concerned and the cause.
   */
  constructor(
    code: KubeauthErrorCode,
    message: string,
    options?: KubeconfigErrorOptions,
  ) {
    super(code, message, options);
    this.name = "KubeconfigError";
    this.file = options?.file;
  }
}

/** The facts about a plugin run that an {@linkcode ExecPluginError} carries. */
export interface ExecPluginErrorOptions extends KubeauthErrorOptions {
  /** The plugin command as it was run (after path resolution). */
  command: string;
  /** The exit code, when the plugin exited. */
  exitCode?: number;
  /** The signal that ended the plugin, e.g. `SIGKILL`. */
  signal?: string;
  /** The last bytes (at most 4 KiB) of the plugin's stderr, as text. */
  stderrTail?: string;
  /** The kubeconfig's `installHint`, control characters escaped. */
  installHint?: string;
  /** When a failed run is in backoff: the time the next run is allowed. */
  retryAt?: Date;
}

/**
 * An exec credential plugin could not be run, failed, timed out, or answered
 * with something that is not a usable `ExecCredential`.
 *
 * @example Usage
 * ```ts
 * import { ExecPluginError } from "@kubeauth/fetch";
 * const err = new ExecPluginError(
 *   "EXEC_FAILED",
 *   "exec: executable aws failed with exit code 1",
 *   { command: "aws", exitCode: 1 },
 * );
 * if (err.exitCode !== 1) throw new Error("not as shown");
 * ```
 */
export class ExecPluginError extends KubeauthError {
  /** The plugin command. */
  readonly command: string;
  /** The exit code, if the plugin exited. */
  readonly exitCode: number | undefined;
  /** The terminating signal, if any. */
  readonly signal: string | undefined;
  /** The bounded tail of the plugin's stderr. */
  readonly stderrTail: string | undefined;
  /** The install hint from the kubeconfig, if any. */
  readonly installHint: string | undefined;
  /** When the next plugin run is allowed after this failure, if in backoff. */
  readonly retryAt: Date | undefined;

  /**
   * Creates a plugin error.
   *
   * @param code The stable error code.
   * @param message What failed and what to do about it.
   * @param options The plugin facts.
   */
  constructor(
    code: KubeauthErrorCode,
    message: string,
    options: ExecPluginErrorOptions,
  ) {
    super(code, message, options);
    this.name = "ExecPluginError";
    this.command = options.command;
    this.exitCode = options.exitCode;
    this.signal = options.signal;
    this.stderrTail = options.stderrTail;
    this.installHint = options.installHint;
    this.retryAt = options.retryAt;
  }
}

/**
 * The error every closed kubeauth object (client, transport, registry,
 * authenticator handle) rejects with: code `CLOSED`, and what to do. Objects
 * that need to say more (e.g. a transport retired by a certificate rotation)
 * pass their own message.
 *
 * @example Usage
 * ```ts
 * import { closedError } from "./errors.ts";
 * const err = closedError();
 * if (err.code !== "CLOSED") throw new Error("unexpected code");
 * if (!err.message.includes("createAuthedFetch")) throw new Error("unexpected message");
 * const retired = closedError(undefined, "the transport was retired");
 * if (retired.message !== "the transport was retired") throw new Error("message not used");
 * ```
 *
 * @param cause The error that closing interrupted, if any.
 * @param message What is closed and what to do, when the default (a closed
 *   client) does not fit. No secrets.
 * @returns A `CLOSED` error.
 */
export function closedError(
  cause?: unknown,
  message =
    "this kubeauth client is closed: create a new one with createAuthedFetch()",
): KubeauthError {
  return new KubeauthError(
    "CLOSED",
    message,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * A WebSocket upgrade the server refused: code `WEBSOCKET_REFUSED`, the HTTP
 * status, and the message and reason of the server's `Status` (e.g.
 * `pods "x" is forbidden: …`).
 *
 * @example Usage
 * ```ts
 * import { WebSocketRefusedError } from "@kubeauth/fetch";
 * const err = new WebSocketRefusedError(404, "NotFound", 'pods "x" not found');
 * if (!(err.code === "WEBSOCKET_REFUSED" && err.status === 404)) throw new Error("not as shown");
 * if (!err.message.includes('pods "x" not found')) throw new Error("not as shown");
 * ```
 */
export class WebSocketRefusedError extends KubeauthError {
  /** The HTTP status of the refusal (0 when the server gave none). */
  readonly status: number;
  /** The `reason` of the server's Status (`NotFound`, `Forbidden`…), if any. */
  readonly reason: string | undefined;
  /** The server's whole `Status` object, when its answer was one. */
  readonly serverStatus: Readonly<Record<string, unknown>> | undefined;

  /**
   * Creates the error.
   *
   * @param status The HTTP status (0 when unknown).
   * @param reason The Status reason, if any.
   * @param detail The server's Status message (or what is known).
   * @param options The cause, and the server's Status object, if any.
   */
  constructor(
    status: number,
    reason: string | undefined,
    detail: string,
    options?: KubeauthErrorOptions & {
      serverStatus?: Readonly<Record<string, unknown>>;
    },
  ) {
    super(
      "WEBSOCKET_REFUSED",
      status === 0
        ? `WebSocket upgrade failed: ${detail}`
        : `WebSocket upgrade refused with HTTP ${status}: ${detail}`,
      options,
    );
    this.name = "WebSocketRefusedError";
    this.status = status;
    this.reason = reason;
    this.serverStatus = options?.serverStatus;
  }
}
