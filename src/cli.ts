/**
 * The `kubeauth` command line (work in progress).
 *
 * @example Usage
 * ```sh
 * deno run -A jsr:@kubeauth/fetch/cli --help
 * ```
 *
 * @module
 */
export {};
