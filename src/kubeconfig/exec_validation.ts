/**
 * Validation of a user's `exec` stanza with client-go's rules and wording
 * (`tools/clientcmd/validation.go`, `validateAuthInfo`), after client-go's
 * defaulting (`interactiveMode: IfAvailable` for v1beta1 and v1alpha1).
 *
 * @module
 */
import { KubeconfigError } from "../errors.ts";
import type { ExecConfig, ResolvedExecConfig } from "./types.ts";

const INTERACTIVE_MODES = new Set(["Never", "IfAvailable", "Always"]);
const INTERACTIVE_DEFAULTED = new Set([
  "client.authentication.k8s.io/v1beta1",
  "client.authentication.k8s.io/v1alpha1",
]);

/**
 * Checks an exec config and returns it with defaults applied
 * (`args`/`env` lists, `interactiveMode`). All problems are reported at
 * once (each message once), joined with `; `, in client-go's words.
 *
 * @example Usage
 * ```ts
 * import { validateExecConfig } from "./exec_validation.ts";
 * const exec = validateExecConfig(
 *   { command: "aws", apiVersion: "client.authentication.k8s.io/v1beta1" },
 *   "alice",
 *   false,
 * );
 * if (exec.interactiveMode !== "IfAvailable") throw new Error("not as shown");
 * ```
 *
 * @param exec The exec stanza.
 * @param userName The kubeconfig user's name (used in messages).
 * @param hasAuthProvider Whether the user also has an `auth-provider`.
 * @param file The defining kubeconfig file, if known.
 * @returns The exec config with defaults applied.
 * @throws {KubeconfigError} `EXEC_CONFIG_INVALID`.
 */
export function validateExecConfig(
  exec: ExecConfig,
  userName: string,
  hasAuthProvider: boolean,
  file?: string,
): ResolvedExecConfig {
  const problems: string[] = [];
  if (hasAuthProvider) {
    problems.push(
      `authProvider cannot be provided in combination with an exec plugin for ${userName}`,
    );
  }
  const command = exec.command ?? "";
  const apiVersion = exec.apiVersion ?? "";
  if (command === "") {
    problems.push(
      `command must be specified for ${userName} to use exec authentication plugin`,
    );
  }
  if (apiVersion === "") {
    problems.push(
      `apiVersion must be specified for ${userName} to use exec authentication plugin`,
    );
  }
  const env = exec.env ?? [];
  for (const v of env) {
    if (!v || !v.name) {
      problems.push(
        `env variable name must be specified for ${userName} to use exec authentication plugin`,
      );
    }
  }
  let interactiveMode = exec.interactiveMode ?? "";
  if (interactiveMode === "" && INTERACTIVE_DEFAULTED.has(apiVersion)) {
    interactiveMode = "IfAvailable";
  }
  if (interactiveMode === "") {
    problems.push(
      `interactiveMode must be specified for ${userName} to use exec authentication plugin`,
    );
  } else if (!INTERACTIVE_MODES.has(interactiveMode)) {
    problems.push(
      `invalid interactiveMode for ${userName}: ${
        JSON.stringify(interactiveMode)
      }`,
    );
  }
  if (problems.length > 0) {
    const where = file === undefined ? "" : ` (in kubeconfig file "${file}")`;
    // Like client-go's aggregate error, the same message is given once.
    throw new KubeconfigError(
      "EXEC_CONFIG_INVALID",
      `${[...new Set(problems)].join("; ")}${where}`,
      { file },
    );
  }
  return {
    ...exec,
    command,
    apiVersion,
    args: [...(exec.args ?? [])],
    env: env.map((v) => ({ name: v.name, value: v.value ?? "" })),
    interactiveMode,
  };
}
