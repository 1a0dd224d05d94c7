// Large kubeconfigs kubectl accepts load; YAML alias bombs are still
// refused. The alias guard counts what aliases add, not the values written
// out (issue 12: a 2.2 MB JSON kubeconfig with a 1.1M-element array in an
// extension was refused as "excessive aliasing").
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadKubeconfig } from "../src/kubeconfig/mod.ts";
import { parseYamlDocument } from "../src/kubeconfig/parse.ts";
import { KubeconfigError } from "../src/errors.ts";
import { getRuntimeAdapter } from "../src/runtime/mod.ts";
import { makeTempDir } from "./support/harness.ts";

let tmp: { path: string; remove(): Promise<void> };
before(async () => {
  tmp = await makeTempDir("kubeauth-large-");
});
after(async () => {
  await tmp?.remove();
});

function base(extra: Record<string, unknown>) {
  return {
    apiVersion: "v1",
    kind: "Config",
    "current-context": "c",
    clusters: [{ name: "c", cluster: { server: "https://127.0.0.1:6443" } }],
    contexts: [{ name: "c", context: { cluster: "c", user: "u0" } }],
    users: [{ name: "u0", user: { token: "t" } }],
    ...extra,
  };
}

test("a 2.2 MB JSON kubeconfig with a 1.1M-element array (no alias) loads", async () => {
  const config = base({});
  (config.clusters[0].cluster as Record<string, unknown>).extensions = [{
    name: "big",
    extension: { items: new Array(1_100_000).fill(1) },
  }];
  const text = JSON.stringify(config);
  assert.ok(text.length > 2_000_000);
  const file = join(tmp.path, "array.json");
  writeFileSync(file, text);
  const adapter = await getRuntimeAdapter();
  const loaded = await loadKubeconfig({ path: file, adapter });
  assert.ok(loaded !== undefined);
});

test("a kubeconfig with 400,000 users (1.2M values, no alias) loads", () => {
  const users = [];
  for (let i = 0; i < 400_000; i++) users.push({ name: `u${i}`, user: {} });
  const text = JSON.stringify(base({ users }));
  const doc = parseYamlDocument(text, "users.json") as { users: unknown[] };
  assert.equal(doc.users.length, 400_000);
});

test("a 50 MB YAML kubeconfig with a million users (no alias) loads", async () => {
  // Written as kubectl writes kubeconfigs (block YAML). kubectl 1.32 accepts
  // this file (`kubectl config view` took about a minute here); kubeauth loads
  // it in 7–13 s with about 1.2 GB peak RSS.
  const parts = [
    "apiVersion: v1\nkind: Config\ncurrent-context: c\n",
    "clusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\n",
    "contexts:\n- name: c\n  context:\n    cluster: c\n    user: user-999999\n",
    "users:\n",
  ];
  for (let i = 0; i < 1_000_000; i++) {
    parts.push(`- name: user-${i}\n  user:\n    token: tok-${i}-abcdefgh\n`);
  }
  const text = parts.join("");
  assert.ok(text.length > 50_000_000);
  const file = join(tmp.path, "million.yaml");
  writeFileSync(file, text);
  parts.length = 0;
  const adapter = await getRuntimeAdapter();
  const loaded = await loadKubeconfig({ path: file, adapter }) as {
    users: { name: string }[];
  };
  assert.equal(loaded.users.length, 1_000_000);
  assert.equal(loaded.users[999_999].name, "user-999999");
});

test("an alias bomb is still refused, without expanding it", () => {
  const lines = [`a0: &a0 [${Array(10).fill('"lol"').join(",")}]`];
  for (let i = 1; i <= 9; i++) {
    lines.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(",")}]`);
  }
  assert.throws(
    () => parseYamlDocument(lines.join("\n") + "\n", "bomb.yaml"),
    (err: unknown) =>
      err instanceof KubeconfigError && err.code === "KUBECONFIG_INVALID" &&
      err.message.includes("excessive aliasing"),
  );
});

test("a few aliases (a real kubeconfig's anchors) are fine", () => {
  const doc = parseYamlDocument(
    "x: &x {a: 1, b: [1, 2]}\ny: *x\nz: [*x, *x]\n",
    "small.yaml",
  ) as Record<string, unknown>;
  assert.equal(doc.y, doc.x);
});
