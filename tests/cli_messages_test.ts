// CLI messages that help the CLI's reader (issue 12): --exec-timeout and its
// advice, a plugin that prints nothing, a cross-origin redirect (where it
// pointed, why it was not followed), a plugin path that is a directory, a
// multi-line installHint.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import {
  makeTempDir,
  startCluster,
  type TestCluster,
  writeKubeconfig,
} from "./support/harness.ts";
import { kubeconfigFor } from "./support/authed_fetch.ts";
import { execProbe, probeCommand } from "./support/runtime_probe.ts";
import { detectRuntime } from "../src/runtime/detect.ts";

const TOKEN = "cli-messages-token-0123456789";
let cluster: TestCluster;
let tmp: { path: string; remove(): Promise<void> };
let cli: { argv: string[]; cleanup(): void };
let n = 0;

before(async () => {
  cluster = await startCluster({ tokens: { [TOKEN]: "alice" } });
  tmp = await makeTempDir("kubeauth-cli-msg-");
  cli = await probeCommand(
    detectRuntime() === "node" ? "testdata/cli/node_entry.ts" : "src/cli.ts",
  );
});

after(async () => {
  cli?.cleanup();
  await cluster?.close();
  await tmp?.remove();
});

function config(user: Record<string, unknown>): Promise<string> {
  const dir = join(tmp.path, String(++n));
  mkdirSync(dir, { recursive: true });
  return writeKubeconfig(dir, kubeconfigFor(cluster, user));
}

function exec(command: string, args: string[] = []) {
  return {
    exec: {
      command,
      args,
      apiVersion: "client.authentication.k8s.io/v1beta1",
      interactiveMode: "Never",
      env: [{ name: "TEST_PID_FILE", value: join(tmp.path, `pid-${n}`) }],
    },
  };
}

const run = (args: string[]) =>
  execProbe(cli.argv[0], [...cli.argv.slice(1), ...args]);

function errorLine(stderr: string): string {
  return stderr.slice(stderr.lastIndexOf("error: ")).trimEnd();
}

describe("CLI messages", { timeout: 120_000 }, () => {
  test("--exec-timeout kills a slow plugin; the advice names the flag", async () => {
    const file = await config(
      exec(join(process.cwd(), "testdata", "plugins", "misbehave.sh"), [
        "hang",
      ]),
    );
    const r = await run([
      "fetch",
      "/version",
      "--exec-timeout",
      "0.3",
      "--kubeconfig",
      file,
    ]);
    assert.equal(r.code, 1);
    const line = errorLine(r.stderr);
    assert.match(line, /did not finish within 300 ?ms/);
    assert.match(line, /raise it with --exec-timeout SECONDS/);
    assert.ok(!line.includes("execTimeoutMs"), line);
  });

  test("--timeout while the plugin runs says the plugin was killed", async () => {
    const file = await config(
      exec(join(process.cwd(), "testdata", "plugins", "misbehave.sh"), [
        "hang",
      ]),
    );
    const r = await run([
      "fetch",
      "/version",
      "--timeout",
      "0.5",
      "--kubeconfig",
      file,
    ]);
    assert.equal(r.code, 1);
    assert.equal(
      errorLine(r.stderr),
      "error: no answer within 0.5 s (--timeout): the exec credential plugin was still running, and was killed; raise --timeout (and --exec-timeout) if it needs longer, e.g. for a login, or check the plugin",
    );
  });

  test("a plugin that exits 0 with no output is told as such", async () => {
    const file = await config(
      exec(join(process.cwd(), "testdata", "plugins", "misbehave.sh"), [
        "empty",
      ]),
    );
    const r = await run(["credential", "--kubeconfig", file]);
    assert.equal(r.code, 1);
    assert.match(
      errorLine(r.stderr),
      /exec plugin exited successfully but wrote nothing to stdout/,
    );
  });

  test("a cross-origin redirect says where it pointed and why it was not followed", async () => {
    const file = await config({ token: TOKEN });
    const r = await run([
      "fetch",
      "/redirect?to=https://elsewhere.example:8443/login",
      "--kubeconfig",
      file,
    ]);
    assert.equal(r.code, 1);
    assert.equal(
      errorLine(r.stderr),
      `error: 302 Found: the server redirected to https://elsewhere.example:8443/login, another origin than the cluster's (${cluster.url}); not followed, because kubeauth sends credentials only to the cluster`,
    );
  });

  test("a plugin path that is a directory: the advice fits the runtime", async () => {
    const dir = join(tmp.path, "plugin-dir");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "x"), "");
    const file = await config(exec(dir));
    const r = await run(["credential", "--kubeconfig", file]);
    assert.equal(r.code, 1);
    const line = errorLine(r.stderr);
    assert.ok(
      line.endsWith(
        `${dir} is a directory, not an executable file; set command to the plugin's executable file`,
      ),
      line,
    );
    assert.ok(!line.includes("--allow-run"), line);
    assert.ok(!line.includes("chmod"), line);
  });

  // A multi-line installHint was squashed into one line of runs of spaces.
  // The CLI keeps one `error: ` line (CONTRACT) ending with the hint's first
  // line, then prints the hint's other lines, each indented by two spaces,
  // as written (control characters escaped as client-go does: U+001B).
  test("a multi-line installHint: one error line, then the hint's lines indented", async () => {
    const command = "kubeauth-cli-msg-missing-plugin";
    const hint =
      "Install the plugin:\n  brew install example\n\nThen run \x1b[1mlogin\x1b[0m.";
    const file = await config({
      exec: { ...exec(command).exec, installHint: hint },
    });
    const r = await run(["credential", "--kubeconfig", file]);
    assert.equal(r.code, 1);
    const out = r.stderr.slice(r.stderr.indexOf("error: "));
    assert.equal(
      out,
      `error: exec: executable ${command} not found ` +
        "It looks like you are trying to use a client-go credential plugin that is not installed. " +
        "To learn more about this feature, consult the documentation available at: " +
        "https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins " +
        "Install the plugin:\n" +
        "    brew install example\n" +
        "\n" +
        "  Then run U+001B[1mloginU+001B[0m.\n",
    );
    assert.equal(
      out.split("\n").filter((l) => l.startsWith("error:")).length,
      1,
    );
  });
});
