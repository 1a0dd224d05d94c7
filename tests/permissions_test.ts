// Deno permissions (issue 12): without --allow-net the library's request
// fails with PERMISSION_DENIED naming the flag (it threw Deno's raw
// NotCapable), in the library and the CLI. Runs the deno binary, so it runs
// under every runtime's test suite.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { DENO, makeTempDir, writeKubeconfig } from "./support/harness.ts";
import { execProbe } from "./support/runtime_probe.ts";

let tmp: { path: string; remove(): Promise<void> };
let file: string;
const SERVER = "127.0.0.1:6443";

before(async () => {
  tmp = await makeTempDir("kubeauth-perm-");
  mkdirSync(join(tmp.path, "k"), { recursive: true });
  file = await writeKubeconfig(join(tmp.path, "k"), {
    apiVersion: "v1",
    kind: "Config",
    "current-context": "c",
    clusters: [{ name: "c", cluster: { server: `https://${SERVER}` } }],
    users: [{ name: "u", user: { token: "perm-token-0123456789" } }],
    contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
  });
});

after(async () => {
  await tmp?.remove();
});

const MESSAGE =
  `Deno denied network access to the cluster at ${SERVER}: run with --allow-net=${SERVER} (or --allow-net)`;

test("library without --allow-net: PERMISSION_DENIED naming the flag", {
  timeout: 60_000,
}, async () => {
  const r = await execProbe(DENO, [
    "run",
    "--no-check",
    "--allow-read",
    "--allow-env",
    "testdata/permissions/no_net_probe.ts",
    file,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
  assert.equal(out.code, "PERMISSION_DENIED", r.stdout);
  assert.equal(out.message, MESSAGE);
});

test(
  "CLI without --allow-net: the same message",
  { timeout: 60_000 },
  async () => {
    const r = await execProbe(DENO, [
      "run",
      "--no-check",
      "--allow-read",
      "--allow-env",
      "src/cli.ts",
      "fetch",
      "/version",
      "--kubeconfig",
      file,
    ]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trimEnd().split("\n").at(-1), `error: ${MESSAGE}`);
  },
);

/** Runs deno with KUBECONFIG set to `file` (or unset), HOME kept. */
function denoWithKubeconfig(
  args: string[],
  kubeconfig: string | undefined,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && k !== "KUBECONFIG") env[k] = v;
  }
  if (kubeconfig !== undefined) env.KUBECONFIG = kubeconfig;
  return new Promise((resolve) => {
    execFile(DENO, args, { env, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null
        ? 0
        : typeof err.code === "number"
        ? err.code
        : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

const NO_ENV =
  "Deno denied reading the environment, so $KUBECONFIG and $HOME cannot be read: run with --allow-env (or --allow-env=KUBECONFIG,HOME), or ";

// Issue 12, item 4: with KUBECONFIG set and no --allow-env, the error said
// "$KUBECONFIG is not set and the home directory is unknown".
for (const kubeconfig of ["set", "unset"]) {
  test(
    `library without --allow-env (KUBECONFIG ${kubeconfig}): PERMISSION_DENIED naming --allow-env`,
    {
      timeout: 60_000,
    },
    async () => {
      const r = await denoWithKubeconfig([
        "run",
        "--no-check",
        "--allow-read",
        "--allow-net",
        "testdata/permissions/no_env_probe.ts",
      ], kubeconfig === "set" ? file : undefined);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
      assert.equal(out.code, "PERMISSION_DENIED", r.stdout);
      assert.equal(out.message, `${NO_ENV}pass the kubeconfig file`);
    },
  );

  test(
    `CLI without --allow-env (KUBECONFIG ${kubeconfig}): the same, with CLI advice`,
    {
      timeout: 60_000,
    },
    async () => {
      const r = await denoWithKubeconfig([
        "run",
        "--no-check",
        "--allow-read",
        "--allow-net",
        "src/cli.ts",
        "fetch",
        "/version",
      ], kubeconfig === "set" ? file : undefined);
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr.trimEnd().split("\n").at(-1),
        `error: ${NO_ENV}pass --kubeconfig FILE`,
      );
    },
  );
}

test(
  "library and CLI without --allow-env (KUBECONFIG set): PERMISSION_DENIED naming the flag",
  {
    timeout: 60_000,
  },
  async () => {
    const r = await execProbe(DENO, [
      "run",
      "--no-check",
      "--allow-read",
      "--allow-net",
      "src/cli.ts",
      "fetch",
      "/version",
    ]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr.trimEnd().split("\n").at(-1),
      "error: Deno denied reading the environment, so $KUBECONFIG and $HOME cannot be read: run with --allow-env (or --allow-env=KUBECONFIG,HOME), or pass --kubeconfig FILE",
    );
  },
);
