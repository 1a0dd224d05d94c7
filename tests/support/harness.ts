/**
 * Shared test infrastructure. The implementation lives in
 * tests/support/cluster.ts (one copy for the demo, the benchmarks and the
 * tests); this module re-exports it unchanged: a fake Kubernetes API server
 * in a child process ({@linkcode startCluster}), temp dirs, kubeconfig files,
 * runtime paths and the demo exec credential plugin
 * ({@linkcode demoPluginExec}).
 *
 * Works unchanged under `deno test`, `bun test` and Node 20 (an esbuild
 * bundle): tests run with cwd = the repo root.
 *
 * @example Usage
 * ```ts
 * import { startCluster, demoPluginExec, makeTempDir, writeKubeconfig } from "./harness.ts";
 * const cluster = await startCluster({ tokens: { "t0k3n": "alice" } });
 * const state = await makeTempDir();
 * const kubeconfig = await writeKubeconfig(state.path, {
 *   apiVersion: "v1", kind: "Config", "current-context": "demo",
 *   clusters: [{ name: "demo", cluster: { server: cluster.url, "certificate-authority-data": btoa(cluster.caPem) } }],
 *   users: [{ name: "demo", user: { exec: demoPluginExec({ stateDir: state.path, caDir: cluster.dir }) } }],
 *   contexts: [{ name: "demo", context: { cluster: "demo", user: "demo" } }],
 * });
 * // ... use kubeconfig ...
 * await cluster.close();
 * await state.remove();
 * ```
 *
 * @module
 */
export * from "./cluster.ts";
