// Obtains credentials once through the exec authenticator with
// testdata/plugins/test_plugin.sh, in the interactive mode given by
// $PROBE_MODE, and prints one JSON line: what the plugin was told
// (spec.interactive), whether its stdin was a terminal, or the error.
// Tests run it under `script` to give it a real terminal.
import process from "node:process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ExecAuthenticator } from "../../src/exec/authenticator.ts";
import { KubeauthError } from "../../src/errors.ts";
import { getRuntimeAdapter } from "../../src/runtime/mod.ts";

const dir = process.env.PROBE_DIR ?? ".";
const infoFile = join(dir, "probe-info.json");
const stdinFile = join(dir, "probe-stdin.txt");
const auth = new ExecAuthenticator(
  {
    command: join(process.cwd(), "testdata", "plugins", "test_plugin.sh"),
    apiVersion: "client.authentication.k8s.io/v1",
    interactiveMode: process.env.PROBE_MODE,
    env: [
      {
        name: "TEST_OUTPUT",
        value:
          '{"apiVersion":"client.authentication.k8s.io/v1","status":{"token":"t"}}',
      },
      { name: "TEST_INFO_FILE", value: infoFile },
      { name: "TEST_STDIN_FILE", value: stdinFile },
    ],
  },
  undefined,
  {
    adapter: await getRuntimeAdapter(),
    ...(process.env.PROBE_STDIN_UNAVAILABLE
      ? { stdinUnavailable: process.env.PROBE_STDIN_UNAVAILABLE }
      : {}),
  },
);
try {
  await auth.get();
  const info = JSON.parse(readFileSync(infoFile, "utf8"));
  console.log(JSON.stringify({
    interactive: info.spec.interactive,
    pluginStdin: readFileSync(stdinFile, "utf8").trim(),
  }));
} catch (err) {
  console.log(JSON.stringify({
    error: err instanceof KubeauthError ? err.code : String(err),
    message: err instanceof Error ? err.message : "",
  }));
} finally {
  await auth.close();
}
