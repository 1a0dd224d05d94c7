/**
 * The error for kubeconfig users that still use a legacy `auth-provider`
 * (removed from client-go for gcp and azure in Kubernetes 1.26), naming the
 * exec credential plugin that replaces it.
 *
 * @module
 */
import { KubeconfigError } from "../errors.ts";

/**
 * Builds the error for a user whose kubeconfig uses `auth-provider`, which
 * kubeauth does not support: code `KUBECONFIG_INVALID`, naming the provider,
 * the user and the exec credential plugin to switch to (gcp →
 * `gke-gcloud-auth-plugin`; azure → Azure `kubelogin convert-kubeconfig`;
 * oidc → int128 `kubelogin` as `kubectl oidc-login`; others → an exec
 * credential plugin).
 *
 * @example Usage
 * ```ts
 * import { unsupportedAuthProviderError } from "./auth_provider.ts";
 * const err = unsupportedAuthProviderError("gcp", "gke_user");
 * if (!err.message.includes("gke-gcloud-auth-plugin")) throw new Error("not as shown");
 * ```
 *
 * @param name The auth provider's name (`gcp`, `azure`, `oidc`…).
 * @param userName The kubeconfig user's name.
 * @returns The error (not thrown).
 */
export function unsupportedAuthProviderError(
  name: string,
  userName: string,
): KubeconfigError {
  const head = `user ${JSON.stringify(userName)} uses the ${
    JSON.stringify(name)
  } auth-provider, which kubeauth does not support`;
  let advice: string;
  switch (name) {
    case "gcp":
      advice =
        'the gcp auth plugin was removed from client-go: install gke-gcloud-auth-plugin (gcloud components install gke-gcloud-auth-plugin) and run "gcloud container clusters get-credentials CLUSTER" to switch the user to its exec credential plugin; see https://cloud.google.com/blog/products/containers-kubernetes/kubectl-auth-changes-in-gke';
      break;
    case "azure":
      advice =
        'the azure auth plugin was removed from client-go: install kubelogin (https://github.com/Azure/kubelogin) and run "kubelogin convert-kubeconfig" to switch the user to its exec credential plugin';
      break;
    case "oidc":
      advice =
        'use kubelogin (https://github.com/int128/kubelogin), an exec credential plugin run as "kubectl oidc-login get-token": install it and replace auth-provider with its users[].user.exec stanza ("kubectl oidc-login setup" prints it)';
      break;
    default:
      advice =
        "use an exec credential plugin instead (users[].user.exec, see https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins)";
  }
  return new KubeconfigError("KUBECONFIG_INVALID", `${head}; ${advice}`);
}
