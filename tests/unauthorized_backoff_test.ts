// "401 forever": a plugin whose credentials the server keeps rejecting. The
// plugin runs once more after the first 401 (the token may have been
// revoked); when the credentials it returned right then are rejected too,
// it is not run again for every request: a backoff, said in a warning
// event. (Before: 30 sequential requests ran the plugin 31+ times.)
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { createAuthedFetch } from "../src/fetch/authed_fetch.ts";
import type { AuthedFetchEvent } from "../src/fetch/authed_fetch.ts";
import {
  makeTempDir,
  startCluster,
  type TestCluster,
  writeKubeconfig,
} from "./support/harness.ts";
import { kubeconfigFor } from "./support/authed_fetch.ts";

let cluster: TestCluster;
let tmp: { path: string; remove(): Promise<void> };

before(async () => {
  cluster = await startCluster({
    tokens: { "good-token-0123456789": "alice" },
  });
  tmp = await makeTempDir("kubeauth-401-");
});

after(async () => {
  await cluster?.close();
  await tmp?.remove();
});

function runs(log: string): number {
  try {
    return readFileSync(log, "utf8").split("\n").filter(Boolean).length;
  } catch {
    return 0;
  }
}

test("credentials rejected right after a refresh: backoff, not a plugin run per request", async () => {
  const dir = join(tmp.path, "forever");
  mkdirSync(dir, { recursive: true });
  const log = join(dir, "runs.log");
  const file = await writeKubeconfig(
    dir,
    kubeconfigFor(cluster, {
      exec: {
        command: join(process.cwd(), "testdata", "plugins", "test_plugin.sh"),
        apiVersion: "client.authentication.k8s.io/v1",
        interactiveMode: "Never",
        env: [
          {
            name: "TEST_OUTPUT",
            value: JSON.stringify({
              apiVersion: "client.authentication.k8s.io/v1",
              kind: "ExecCredential",
              status: { token: "revoked-token-0123456789" },
            }),
          },
          { name: "TEST_RUN_LOG", value: log },
        ],
      },
    }),
  );
  const events: AuthedFetchEvent[] = [];
  const kube = await createAuthedFetch({
    kubeconfig: file,
    onEvent: (e) => events.push(e),
    // Long enough that this test never reaches its end.
    execOptions: { backoffBaseMs: 600_000, backoffMaxMs: 600_000 },
  });
  try {
    for (let i = 0; i < 30; i++) {
      const res = await kube("/version");
      assert.equal(res.status, 401);
      await res.body?.cancel();
    }
    // The first run, and one more after the first 401.
    assert.equal(runs(log), 2);
    const warnings = events.filter((e) =>
      e.type === "warning" && "message" in e &&
      e.message.includes("rejected (401)")
    );
    assert.equal(warnings.length, 1, JSON.stringify(events));
    assert.match(
      (warnings[0] as { message: string }).message,
      /not run again for a 401 before .* \(backoff\)/,
    );
  } finally {
    await kube.close();
  }
});
