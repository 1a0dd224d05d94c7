/**
 * `kubeauth kubeconfig wrap`: a copy of a kubeconfig whose exec users run
 * their plugin through `kubeauth cached`.
 *
 * @module
 */
import { dump, load } from "js-yaml";
import { KubeconfigError } from "../errors.ts";
import {
  dirname,
  hasPathSeparator,
  type PathFlavor,
  resolvePath,
} from "../kubeconfig/paths.ts";

/** Options of {@linkcode wrapKubeconfig}. */
export interface WrapKubeconfigOptions {
  /** The kubeconfig file's path (relative plugin commands resolve against its directory). */
  path: string;
  /** Path syntax of the host. */
  flavor: PathFlavor;
  /** The command that runs kubeauth (default `kubeauth`, looked up on PATH). */
  kubeauthCommand?: string;
  /** Passed as `--cache-dir` to `kubeauth cached`, when set. */
  cacheDir?: string;
}

/**
 * Rewrites every `users[].user.exec` stanza to `command: kubeauth`,
 * `args: [cached, --, <original command>, <original args>…]` (a relative
 * command made absolute against the kubeconfig's directory, as kubectl
 * resolves it); env, apiVersion, provideClusterInfo and the rest stay.
 * Stanzas already going through `kubeauth cached` are left alone.
 *
 * @example Usage
 * ```ts
 * import { wrapKubeconfig } from "./kubeconfig_wrap.ts";
 * const out = wrapKubeconfig(
 *   "users:\n- name: u\n  user:\n    exec:\n      command: ./get-token\n      args: [--x]\n",
 *   { path: "/home/me/.kube/config", flavor: "posix" },
 * );
 * if (!out.includes("- /home/me/.kube/get-token")) throw new Error("not as shown");
 * if (!out.includes("- cached")) throw new Error("not as shown");
 * ```
 *
 * @param text The kubeconfig's YAML (or JSON) text.
 * @param options Where it lives, how to call kubeauth.
 * @returns The rewritten kubeconfig as YAML.
 * @throws {KubeconfigError} `KUBECONFIG_INVALID` when it is not a mapping.
 */
export function wrapKubeconfig(
  text: string,
  options: WrapKubeconfigOptions,
): string {
  let doc: unknown;
  try {
    doc = load(text);
  } catch (err) {
    throw new KubeconfigError(
      "KUBECONFIG_INVALID",
      `${options.path}: not valid YAML (${(err as Error).name})`,
    );
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    throw new KubeconfigError(
      "KUBECONFIG_INVALID",
      `${options.path}: not a kubeconfig (expected a mapping)`,
    );
  }
  const users = (doc as { users?: unknown }).users;
  if (Array.isArray(users)) {
    for (const u of users) wrapUser(u, options);
  }
  return dump(doc, { lineWidth: -1, noRefs: true });
}

function wrapUser(u: unknown, o: WrapKubeconfigOptions): void {
  const exec = (u as { user?: { exec?: Record<string, unknown> } } | null)
    ?.user?.exec;
  if (!exec || typeof exec !== "object" || typeof exec.command !== "string") {
    return;
  }
  const kubeauth = o.kubeauthCommand ?? "kubeauth";
  const args = Array.isArray(exec.args) ? exec.args.map(String) : [];
  if (exec.command === kubeauth && args[0] === "cached") return;
  const command = hasPathSeparator(exec.command, o.flavor)
    ? resolvePath(dirname(o.path, o.flavor), exec.command, o.flavor)
    : exec.command;
  exec.command = kubeauth;
  exec.args = [
    "cached",
    ...(o.cacheDir !== undefined ? ["--cache-dir", o.cacheDir] : []),
    "--",
    command,
    ...args,
  ];
}
