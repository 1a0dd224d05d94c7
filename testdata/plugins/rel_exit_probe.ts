// A program that uses kubeauth and then must end on its own (no
// process.exit): run by tests/leaks_test.ts with the runtime under test
// (bundled with esbuild for Node). Usage:
//   rel_exit_probe.ts closed <kubeconfig> <hanging-kubeconfig> <its-pid-file>
//     a client whose plugin's first answer is refused (401: the plugin runs
//     again and answers another certificate, so two transports), then a
//     watch left open and a slow request in flight; and a client whose
//     plugin is still running. Both closed.
//   rel_exit_probe.ts default
//     the lazily created default client (authedFetch, $KUBECONFIG), which
//     has no close(): one request, then nothing.
// Prints one line of JSON, then returns from the top level.
import { existsSync } from "node:fs";
import process from "node:process";
import {
  authedFetch,
  createAuthedFetch,
} from "../../src/fetch/authed_fetch.ts";

const [mode, kubeconfig, hanging, pidFile] = process.argv.slice(2);
const out: Record<string, unknown> = { mode };

if (mode === "closed") {
  const kube = await createAuthedFetch({ kubeconfig });
  const version = await kube("/version");
  out.version = version.status;
  await version.body?.cancel();
  // A watch: read one event, leave it open.
  const watch = await kube(
    "/api/v1/namespaces/default/pods?watch=true&intervalMs=100",
  );
  const reader = watch.body!.getReader();
  await reader.read();
  // After close() the watch must end in an error (events buffered before
  // it may still be read).
  const watchEnd = (async () => {
    try {
      for (let i = 0; i < 1000; i++) {
        if ((await reader.read()).done) return "ended";
      }
      return "endless";
    } catch {
      return "aborted";
    }
  })();
  // A slow request in flight.
  const slow = kube("/slow?ms=60000").then((r) => r.status, () => "aborted");
  // A client whose plugin never answers.
  const stuck = await createAuthedFetch({ kubeconfig: hanging });
  const pending = stuck("/version").then(() => "answered", (e) => e.code);
  // Close once the plugin runs (it writes its pid; bounded wait).
  for (let i = 0; i < 500 && !existsSync(pidFile); i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  out.pluginStarted = existsSync(pidFile);

  await Promise.all([kube.close(), stuck.close()]);
  out.watch = await watchEnd;
  out.slow = await slow;
  out.stuck = await pending;
} else if (mode === "default") {
  const res = await authedFetch("/version");
  out.version = res.status;
  await res.body?.cancel();
}
console.log(JSON.stringify(out));
