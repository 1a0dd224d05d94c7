/**
 * Observability events of the exec authenticator. They never carry a secret
 * (no token, no key, no plugin output).
 *
 * @module
 */
import type { ExecRunCacheEvent } from "./run_cache.ts";

/**
 * One event of an exec credential source:
 * - `plugin-run`: a plugin run ended (successfully or not). `error` is the
 *   `KubeauthError` code when `ok` is false.
 * - `credentials-rotated`: a run produced new credentials (also the first
 *   time). `certificateChanged` is true when the client certificate differs
 *   from the previous credentials' (a certificate appeared, changed or went
 *   away); connections made with the old certificate should be closed.
 * - `warning`: something worked but deserves attention, e.g. a plugin
 *   returned an `expirationTimestamp` that had already passed (clock skew):
 *   the credentials are then used for a short minimum time instead of
 *   re-running the plugin for every request.
 *
 * @example Usage
 * ```ts
 * import type { ExecEvent } from "./events.ts";
 * const failed: string[] = [];
 * const onEvent = (e: ExecEvent) => {
 *   if (e.type === "plugin-run" && !e.ok) failed.push(`${e.command}: ${e.error}`);
 * };
 * // What an exec credential source reports after a failed run:
 * onEvent({
 *   type: "plugin-run",
 *   command: "aws",
 *   durationMs: 812,
 *   exitCode: 1,
 *   signal: null,
 *   ok: false,
 *   error: "EXEC_FAILED",
 * });
 * onEvent({ type: "credentials-rotated", certificateChanged: false });
 * if (failed.join() !== "aws: EXEC_FAILED") throw new Error(failed.join());
 * ```
 */
export type ExecEvent =
  | {
    type: "plugin-run";
    /** The plugin command. */
    command: string;
    /** Wall time of the run, in milliseconds. */
    durationMs: number;
    /** The exit code, or null when it did not exit normally / did not start. */
    exitCode: number | null;
    /** The signal that ended it, if any. */
    signal: string | null;
    /** Whether the run produced usable credentials. */
    ok: boolean;
    /** The error code when not ok. */
    error?: string;
  }
  | {
    type: "credentials-rotated";
    /** Whether the client certificate changed (appeared, changed, or went away). */
    certificateChanged: boolean;
    /** When the new credentials expire, if known. */
    expiresAt?: Date;
    /** The new client certificate's subject, if any. */
    subject?: string;
  }
  | {
    type: "credential-cache";
    /** The plugin command. */
    command: string;
    /**
     * `hit`: credentials from the cross-process cache, no plugin run; the
     * others as in {@linkcode ExecRunCacheEvent}.
     */
    outcome: "hit" | ExecRunCacheEvent["outcome"];
    /** Why (no secret). */
    reason?: string;
  }
  | {
    type: "warning";
    /** The plugin command. */
    command: string;
    /** What happened (no secret). */
    message: string;
  };

/**
 * A listener for {@linkcode ExecEvent}s. Exceptions thrown by it are ignored.
 *
 * @example Usage
 * ```ts
 * import type { ExecEventListener } from "./events.ts";
 * const seen: string[] = [];
 * const listener: ExecEventListener = (e) => {
 *   seen.push(e.type);
 * };
 * listener({ type: "warning", command: "aws", message: "clock skew" });
 * if (seen[0] !== "warning") throw new Error("event not received");
 * ```
 */
export type ExecEventListener = (event: ExecEvent) => void;
