// Parsed, merged and resolved kubeconfig objects print (console.log /
// inspect, Deno, Bun and Node) with tokens, passwords, key data, auth
// provider tokens, exec env values and URL passwords redacted, as
// Credentials do; their fields stay readable.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { inspect } from "node:util";
import {
  loadKubeconfig,
  resolveContext,
  resolveDefaultContext,
} from "../src/kubeconfig/mod.ts";
import { makeTempDir } from "./support/harness.ts";

const SECRETS = [
  "SEKRIT-token-1",
  "SEKRIT-password-2",
  "SEKRIT-proxy-3",
  "SEKRIT-env-4",
  "SEKRIT-keydata-5",
  "SEKRIT-idtoken-6",
];

let tmp: { path: string; remove(): Promise<void> };
let file: string;

before(async () => {
  tmp = await makeTempDir("kubeauth-redact-");
  mkdirSync(join(tmp.path, "k"), { recursive: true });
  file = join(tmp.path, "k", "config");
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
current-context: a
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:6443
    proxy-url: http://bob:SEKRIT-proxy-3@127.0.0.1:3128
contexts:
- name: a
  context: {cluster: c, user: tok}
- name: b
  context: {cluster: c, user: basic}
- name: e
  context: {cluster: c, user: ex}
users:
- name: tok
  user:
    token: SEKRIT-token-1
- name: keyonly
  user:
    client-key-data: U0VLUklULWtleWRhdGEtNQ==
- name: basic
  user: {username: bob, password: SEKRIT-password-2}
- name: ex
  user:
    exec:
      command: /bin/true
      apiVersion: client.authentication.k8s.io/v1
      interactiveMode: Never
      env: [{name: TOKEN, value: SEKRIT-env-4}]
- name: oidc
  user:
    auth-provider: {name: oidc, config: {id-token: SEKRIT-idtoken-6}}
`,
  );
});

after(async () => {
  await tmp?.remove();
});

function printed(value: unknown): string {
  return inspect(value, { depth: 12 }) + "\n" + Deno_inspect(value);
}

function Deno_inspect(value: unknown): string {
  const d =
    (globalThis as { Deno?: { inspect(v: unknown, o: unknown): string } })
      .Deno;
  return d === undefined ? "" : d.inspect(value, { depth: 12 });
}

test("a loaded kubeconfig prints redacted, its fields stay readable", async () => {
  const kc = await loadKubeconfig({ path: file });
  const text = printed(kc);
  for (const s of SECRETS) assert.ok(!text.includes(s), `${s} in ${text}`);
  assert.ok(!text.includes("U0VLUklULWtleWRhdGEtNQ=="));
  assert.match(text, /\[redacted\]/);
  assert.match(text, /127\.0\.0\.1:6443/);
  assert.equal(kc.users![0].user.token, "SEKRIT-token-1");
});

test("resolved contexts print redacted (token, basic, exec env, proxy password)", async () => {
  for (const context of ["a", "b", "e"]) {
    const ctx = await resolveDefaultContext({ kubeconfig: file, context });
    const text = printed(ctx) + printed(ctx.user) + printed(ctx.cluster);
    for (const s of SECRETS) assert.ok(!text.includes(s), `${s} in ${text}`);
    assert.match(text, /\[redacted\]/);
  }
  const kc = await loadKubeconfig({ path: file });
  const ctx = await resolveContext(kc, { context: "a" });
  assert.equal(ctx.user.token, "SEKRIT-token-1");
  assert.ok(!printed(ctx).includes("SEKRIT"));
});
