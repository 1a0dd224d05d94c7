/**
 * Picks the credential source for a resolved kubeconfig user, with
 * client-go's precedence: static credentials (token, token file, client
 * certificate, basic auth, in-cluster) win over an exec plugin; a legacy
 * auth provider is refused; no credentials at all means anonymous requests.
 *
 * @module
 */
import { KubeconfigError } from "../errors.ts";
import type {
  Credentials,
  CredentialSource,
} from "../credentials/credentials.ts";
import { makeCredentials } from "../credentials/credentials.ts";
import { CredentialCache } from "../cache/credential_cache.ts";
import { getExecAuthenticator } from "../exec/authenticator.ts";
import type { ExecAuthenticatorOptions } from "../exec/authenticator.ts";
import type { ExecEvent } from "../exec/events.ts";
import { createStaticCredentialSource } from "../credentials/static_sources.ts";
import { unsupportedAuthProviderError } from "../kubeconfig/auth_provider.ts";
import type { ResolvedContext } from "../kubeconfig/types.ts";
import type { RuntimeAdapter } from "../runtime/types.ts";

/** Options of {@linkcode createCredentialSource}. */
export interface CredentialSourceOptions {
  /** The runtime adapter (the public entry point resolves it). */
  adapter: RuntimeAdapter;
  /**
   * How long one exec plugin run may take before it is killed
   * (`EXEC_TIMEOUT`). Default: the exec authenticator's.
   */
  execTimeoutMs?: number;
  /** Receives exec plugin events (runs, rotations). Exceptions are ignored. */
  onEvent?: (event: ExecEvent) => void;
  /**
   * Further exec authenticator settings (interactive timeout, stdin
   * unavailable, output cap, backoff, early-refresh margin…).
   */
  execOptions?: Omit<
    ExecAuthenticatorOptions,
    "adapter" | "onEvent" | "timeoutMs"
  >;
  /**
   * The credential cache shared by processes, for exec plugins: `true` for
   * the default directory, or `{ dir }`. Off by default.
   */
  credentialCache?: boolean | { dir: string };
}

/**
 * Returns the {@linkcode CredentialSource} for the context's user:
 * - an `auth-provider` together with `exec` is a kubeconfig error (client-go:
 *   `authProvider cannot be provided in combination with an exec plugin for <user>`);
 * - static credentials, when the user has any;
 * - an `auth-provider` alone is refused with what to use instead;
 * - else the exec plugin (one authenticator shared process-wide per
 *   configuration; this handle's `close()` releases it);
 * - else an anonymous source (kind `none`) that yields no credentials.
 *
 * @example Usage
 * ```ts
 * import { makeScratchDir } from "../runtime/scratch_dir.ts";
 * import { createCredentialSource } from "./credential_source.ts";
 * import { resolveDefaultContext } from "../kubeconfig/mod.ts";
 * import { getRuntimeAdapter } from "../runtime/mod.ts";
 * const scratch = await makeScratchDir();
 * const dir = scratch.path;
 * await scratch.writeFile(`${dir}/token`, "s3cret\n");
 * await scratch.writeFile(
 *   `${dir}/config`,
 *   `current-context: dev
 * clusters:
 * - name: dev
 *   cluster: { server: "https://dev.example.com" }
 * contexts:
 * - name: dev
 *   context: { cluster: dev, user: alice }
 * users:
 * - name: alice
 *   user: { tokenFile: token }
 * `,
 * );
 * const ctx = await resolveDefaultContext({ kubeconfig: `${dir}/config` });
 * const source = createCredentialSource(ctx, { adapter: await getRuntimeAdapter() });
 * const creds = await source.get();
 * if (!(source.kind === "token-file" && creds.token === "s3cret")) throw new Error("not as shown");
 * await source.close();
 * await scratch.remove();
 * ```
 *
 * @param ctx The resolved context.
 * @param options Adapter, plugin timeout and event hook.
 * @returns The credential source; close it when done.
 * @throws {KubeconfigError} `KUBECONFIG_INVALID` for an auth provider
 *   without static credentials; `EXEC_CONFIG_INVALID` for one together
 *   with exec.
 */
export function createCredentialSource(
  ctx: ResolvedContext,
  options: CredentialSourceOptions,
): CredentialSource {
  const user = ctx.user;
  if (user.authProvider !== undefined && user.exec !== undefined) {
    throw new KubeconfigError(
      "EXEC_CONFIG_INVALID",
      `authProvider cannot be provided in combination with an exec plugin for ${user.name}`,
    );
  }
  // Static credentials win over exec (client-go); an auth provider alone is
  // refused there with what to use instead.
  const staticSource = createStaticCredentialSource(user, {
    adapter: options.adapter,
  });
  if (staticSource !== null) return staticSource;
  if (user.exec !== undefined) {
    const cache = options.credentialCache;
    return getExecAuthenticator(user.exec, ctx.cluster, {
      ...options.execOptions,
      ...(cache
        ? {
          cache: new CredentialCache({
            adapter: options.adapter,
            ...(typeof cache === "object" ? { dir: cache.dir } : {}),
            ...(options.execOptions?.now
              ? { now: options.execOptions.now }
              : {}),
            ...(options.execOptions?.refreshMarginRatio !== undefined
              ? { refreshMarginRatio: options.execOptions.refreshMarginRatio }
              : {}),
            ...(options.execOptions?.refreshMarginMaxMs !== undefined
              ? { refreshMarginMaxMs: options.execOptions.refreshMarginMaxMs }
              : {}),
          }),
        }
        : {}),
      adapter: options.adapter,
      timeoutMs: options.execTimeoutMs,
      onEvent: options.onEvent,
    });
  }
  if (user.authProvider !== undefined) {
    throw unsupportedAuthProviderError(user.authProvider, user.name);
  }
  return createAnonymousSource();
}

/** A source with no credentials: requests go out without Authorization. */
function createAnonymousSource(): CredentialSource {
  const none: Credentials = makeCredentials({});
  const ready = Promise.resolve(none);
  return {
    kind: "none",
    get(signal?: AbortSignal): Promise<Credentials> {
      return signal?.aborted ? Promise.reject(signal.reason) : ready;
    },
    refreshAfterUnauthorized(): Promise<Credentials | null> {
      return Promise.resolve(null);
    },
    close(): Promise<void> {
      return Promise.resolve();
    },
  };
}
