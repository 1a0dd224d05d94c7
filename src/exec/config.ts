/**
 * Validation and normalisation of a kubeconfig `exec` stanza, and the
 * interactive-mode decision, with client-go's messages.
 *
 * This is the authenticator's own check (client-go's `exec.newAuthenticator`),
 * for stanzas handed to {@linkcode normalizeExecConfig} directly. A stanza read
 * from a kubeconfig was first checked at load time by
 * `kubeconfig/exec_validation.ts` (client-go's `clientcmd` validation, which
 * names the user and the file). client-go words the two differently and users
 * meet both, so both are kept, each with its own wording.
 *
 * @module
 */
import { KubeauthError } from "../errors.ts";
import type { ExecConfig, ExecEnvVar } from "../kubeconfig/types.ts";
import { type ExecApiVersion, isExecApiVersion } from "./protocol.ts";

/** The three interactive modes of client-go. */
export type InteractiveMode = "Never" | "IfAvailable" | "Always";

/** An exec stanza after validation and defaulting. */
export interface NormalizedExecConfig {
  /** The program (already resolved against the kubeconfig's directory). */
  readonly command: string;
  /** Arguments (`null` became `[]`). */
  readonly args: readonly string[];
  /** Extra environment, in order (`null` became `[]`). */
  readonly env: readonly ExecEnvVar[];
  /** The ExecCredential API version. */
  readonly apiVersion: ExecApiVersion;
  /** The install hint with control characters escaped, if any. */
  readonly installHint?: string;
  /** Whether `KUBERNETES_EXEC_INFO` carries `spec.cluster`. */
  readonly provideClusterInfo: boolean;
  /** The interactive mode (defaulted to `IfAvailable` for v1beta1/v1alpha1). */
  readonly interactiveMode: InteractiveMode;
}

/**
 * Validates an exec stanza and applies client-go's defaults.
 *
 * @example Usage
 * ```ts
 * import { normalizeExecConfig } from "./config.ts";
 * const cfg = normalizeExecConfig({
 *   command: "aws",
 *   args: ["eks", "get-token"],
 *   env: null,
 *   apiVersion: "client.authentication.k8s.io/v1beta1",
 * });
 * if (cfg.interactiveMode !== "IfAvailable") throw new Error("not defaulted");
 * if (cfg.env.length !== 0) throw new Error("a null env becomes []");
 * ```
 *
 * @param config The stanza as read from the kubeconfig (a result of this
 *   function is returned as it is).
 * @returns The normalised stanza.
 * @throws {KubeauthError} `EXEC_CONFIG_INVALID` with client-go's message
 * (`exec plugin: invalid apiVersion "X"`, `exec plugin cannot support
 * interactive mode: unknown interactiveMode: ""`, …).
 */
export function normalizeExecConfig(
  config: ExecConfig | NormalizedExecConfig,
): NormalizedExecConfig {
  // A result of this function is not checked again (getExecAuthenticator
  // normalises once, then constructs the shared authenticator with it).
  if (normalized.has(config)) return config as NormalizedExecConfig;
  const exec = config as ExecConfig;
  const invalid = (message: string) =>
    new KubeauthError("EXEC_CONFIG_INVALID", message);
  if (exec === null || typeof exec !== "object") {
    throw invalid("exec plugin: the exec configuration must be an object");
  }
  if (typeof exec.command !== "string" || exec.command === "") {
    throw invalid(
      "exec plugin: command must be specified to use exec authentication plugin",
    );
  }
  if (typeof exec.apiVersion !== "string" || exec.apiVersion === "") {
    throw invalid(
      "exec plugin: apiVersion must be specified to use exec authentication plugin",
    );
  }
  if (!isExecApiVersion(exec.apiVersion)) {
    throw invalid(
      `exec plugin: invalid apiVersion ${quote(exec.apiVersion)}`,
    );
  }
  const args = exec.args ?? [];
  if (!Array.isArray(args) || !args.every((a) => typeof a === "string")) {
    throw invalid("exec plugin: args must be a list of strings");
  }
  const env = exec.env ?? [];
  if (!Array.isArray(env)) {
    throw invalid("exec plugin: env must be a list of {name, value}");
  }
  const envOut: ExecEnvVar[] = [];
  for (const e of env) {
    if (
      e === null || typeof e !== "object" || typeof e.name !== "string" ||
      e.name === ""
    ) {
      throw invalid(
        "exec plugin: env variable name must be specified to use exec authentication plugin",
      );
    }
    if (
      e.value !== undefined && e.value !== null && typeof e.value !== "string"
    ) {
      throw invalid(
        `exec plugin: env variable ${quote(e.name)} must have a string value`,
      );
    }
    envOut.push({ name: e.name, value: e.value ?? "" });
  }
  let mode: string | undefined = exec.interactiveMode ?? undefined;
  if (
    (mode === undefined || mode === "") &&
    exec.apiVersion !== "client.authentication.k8s.io/v1"
  ) {
    mode = "IfAvailable";
  }
  if (mode !== "Never" && mode !== "IfAvailable" && mode !== "Always") {
    throw invalid(
      `exec plugin cannot support interactive mode: unknown interactiveMode: ${
        quote(typeof mode === "string" ? mode : "")
      }`,
    );
  }
  const out: NormalizedExecConfig = Object.freeze({
    command: exec.command,
    args: [...args],
    env: envOut,
    apiVersion: exec.apiVersion,
    provideClusterInfo: exec.provideClusterInfo === true,
    interactiveMode: mode,
    ...(typeof exec.installHint === "string" && exec.installHint !== ""
      ? { installHint: escapeInstallHint(exec.installHint) }
      : {}),
  });
  normalized.add(out);
  return out;
}

const normalized = new WeakSet<object>();

/**
 * Escapes what client-go escapes in an install hint: every character that is
 * not a letter, mark, number, punctuation, symbol or separator, except tab,
 * newline, vertical tab, form feed and carriage return, becomes `U+XXXX`.
 *
 * @example Usage
 * ```ts
 * import { escapeInstallHint } from "./config.ts";
 * const hint = escapeInstallHint("run \x1b[1mbrew install aws\x1b[0m\n");
 * if (hint !== "run U+001B[1mbrew install awsU+001B[0m\n") {
 *   throw new Error(`not escaped: ${hint}`);
 * }
 * ```
 *
 * @param hint The hint as written.
 * @returns The hint, safe to print on a terminal.
 */
export function escapeInstallHint(hint: string): string {
  return hint.replace(
    /[^\p{L}\p{M}\p{N}\p{P}\p{S}\p{Z}\t\n\v\f\r]/gu,
    (c) =>
      "U+" +
      (c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0"),
  );
}

/**
 * Decides whether a run is interactive (client-go's `isInteractive`).
 *
 * @example Usage
 * ```ts
 * import { decideInteractive } from "./config.ts";
 * import { KubeauthError } from "../errors.ts";
 * // Usually: decideInteractive(mode, adapter.stdinIsTerminal()).
 * if (!decideInteractive("IfAvailable", true)) throw new Error("a terminal");
 * if (decideInteractive("IfAvailable", false)) throw new Error("no terminal");
 * if (decideInteractive("Never", true)) throw new Error("never interactive");
 * try {
 *   decideInteractive("Always", false);
 *   throw new Error("Always without a terminal must fail");
 * } catch (err) {
 *   const code = err instanceof KubeauthError ? err.code : undefined;
 *   if (code !== "EXEC_INTERACTIVE_UNAVAILABLE") throw err;
 * }
 * ```
 *
 * @param mode The interactive mode.
 * @param stdinIsTerminal Whether stdin is a terminal.
 * @param stdinUnavailable `false`, or `true`/a reason when stdin is used for
 * something else (e.g. a request body read from stdin).
 * @returns Whether to run interactively (stdin handed over).
 * @throws {KubeauthError} `EXEC_INTERACTIVE_UNAVAILABLE` for `Always` without
 * a usable terminal.
 */
export function decideInteractive(
  mode: InteractiveMode,
  stdinIsTerminal: boolean,
  stdinUnavailable: boolean | string = false,
): boolean {
  if (mode === "Never") return false;
  if (mode === "IfAvailable") return stdinIsTerminal && !stdinUnavailable;
  if (!stdinIsTerminal) {
    throw new KubeauthError(
      "EXEC_INTERACTIVE_UNAVAILABLE",
      "exec plugin cannot support interactive mode: standard input is not a terminal",
    );
  }
  if (stdinUnavailable) {
    throw new KubeauthError(
      "EXEC_INTERACTIVE_UNAVAILABLE",
      typeof stdinUnavailable === "string" && stdinUnavailable !== ""
        ? `exec plugin cannot support interactive mode: standard input is unavailable: ${stdinUnavailable}`
        : "exec plugin cannot support interactive mode: standard input is unavailable",
    );
  }
  return true;
}

/** Go's %q for short, non-secret config values. */
function quote(s: string): string {
  return JSON.stringify(s.length > 200 ? s.slice(0, 200) + "…" : s);
}
