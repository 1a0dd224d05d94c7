// A plugin that prints secrets on stderr: the stderr tail kept in the error
// (ExecPluginError.stderrTail, the message, the CLI's error line) keeps the
// plugin's diagnostics but masks what looks like a secret: PEM private-key
// blocks (also one cut in half by the tail), JWT-shaped strings, Bearer
// values, and token/password field values. The plugin's own stderr still
// passes through (here to a quiet adapter, so no secret reaches the test
// output).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { createAuthedFetch } from "../src/fetch/authed_fetch.ts";
import { ExecPluginError } from "../src/errors.ts";
import { maskSecrets } from "../src/exec/mask_secrets.ts";
import { detectRuntime } from "../src/runtime/detect.ts";
import { getRuntimeAdapter } from "../src/runtime/mod.ts";
import type { RuntimeAdapter } from "../src/runtime/mod.ts";
import { makeTempDir, writeKubeconfig } from "./support/harness.ts";
import { execProbe, probeCommand } from "./support/runtime_probe.ts";

const JWT =
  "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJTRUtSSVQtand0In0.c2lnbmF0dXJlLVNFS1JJVA";
const SECRETS = [
  "SEKRIT-bearer-1",
  "SEKRIT-field-2",
  "SEKRIT-pass-3",
  "SEKRIT-KEY-LINE-4",
  JWT,
];
const STDERR = [
  "plugin: refreshing credentials for cluster prod",
  "Authorization: Bearer SEKRIT-bearer-1",
  '{"access_token": "SEKRIT-field-2", "expires_in": 3600}',
  "password=SEKRIT-pass-3 user=alice",
  `id token ${JWT}`,
  "-----BEGIN PRIVATE KEY-----",
  "SEKRIT-KEY-LINE-4",
  "-----END PRIVATE KEY-----",
  "plugin: giving up",
].join("\n");

let tmp: { path: string; remove(): Promise<void> };
let file: string;
let quiet: RuntimeAdapter;
let passedThrough = "";

before(async () => {
  tmp = await makeTempDir("kubeauth-mask-");
  const dir = join(tmp.path, "k");
  mkdirSync(dir, { recursive: true });
  file = await writeKubeconfig(dir, {
    apiVersion: "v1",
    kind: "Config",
    "current-context": "c",
    clusters: [{ name: "c", cluster: { server: "https://127.0.0.1:1" } }],
    users: [{
      name: "u",
      user: {
        exec: {
          command: join(process.cwd(), "testdata", "plugins", "test_plugin.sh"),
          apiVersion: "client.authentication.k8s.io/v1",
          interactiveMode: "Never",
          env: [
            { name: "TEST_STDERR", value: STDERR },
            { name: "TEST_EXIT_CODE", value: "3" },
          ],
        },
      },
    }],
    contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
  });
  const base = await getRuntimeAdapter();
  const dec = new TextDecoder();
  quiet = new Proxy(base, {
    get(target, key) {
      if (key === "writeStderr") {
        return (chunk: Uint8Array) => void (passedThrough += dec.decode(chunk));
      }
      const v = Reflect.get(target, key, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
});

after(async () => {
  await tmp?.remove();
});

test("the library: stderrTail and message keep the diagnostics, mask the secrets", async () => {
  const kube = await createAuthedFetch({ kubeconfig: file, adapter: quiet });
  try {
    const err = await kube("/version").then(
      () => assert.fail("the plugin fails"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ExecPluginError, String(err));
    assert.equal(err.code, "EXEC_FAILED");
    const tail = err.stderrTail ?? "";
    for (const text of [tail, err.message, String(err)]) {
      assert.match(text, /refreshing credentials for cluster prod/);
      assert.match(text, /plugin: giving up/);
      assert.match(text, /-----BEGIN PRIVATE KEY-----\n\[redacted\]/);
      for (const s of SECRETS) assert.ok(!text.includes(s), `${s} in ${text}`);
    }
    assert.match(tail, /Bearer \[redacted\]/);
    assert.match(tail, /"access_token": \[redacted\]/);
    assert.match(tail, /password=\[redacted\] user=alice/);
    // The plugin's own stderr passed through unchanged (its own output).
    assert.ok(passedThrough.includes("SEKRIT-bearer-1"));
  } finally {
    await kube.close();
  }
});

test("a private key cut in half by the tail is masked too", () => {
  const masked = maskSecrets(
    "MIIEvQIBADANBg-SEKRIT\nMORE-SEKRIT\n-----END RSA PRIVATE KEY-----\nplugin: done",
  );
  assert.ok(!masked.includes("SEKRIT"), masked);
  assert.match(masked, /plugin: done/);
});

test(
  "the CLI's error line masks the secrets",
  { timeout: 60_000 },
  async () => {
    const cli = await probeCommand(
      detectRuntime() === "node" ? "testdata/cli/node_entry.ts" : "src/cli.ts",
    );
    try {
      const r = await execProbe(cli.argv[0], [
        ...cli.argv.slice(1),
        "fetch",
        "/version",
        "--kubeconfig",
        file,
      ]);
      assert.equal(r.code, 1);
      const error = r.stderr.slice(r.stderr.lastIndexOf("error: "));
      assert.match(error, /failed with exit code 3/);
      for (const s of SECRETS) {
        assert.ok(
          !error.includes(s),
          `${s} in ${error}`,
        );
      }
      assert.match(error, /Bearer \[redacted\]/);
    } finally {
      cli.cleanup();
    }
  },
);
