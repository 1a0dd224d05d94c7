// A bearer token with characters beyond ASCII goes out as its UTF-8 bytes,
// as kubectl sends it (Go writes a string's bytes), on every runtime and
// whatever the token's source. The fake API server reads header bytes one
// character per byte (Node's HTTP parser decodes them as Latin-1), so its
// token table tells the two encodings apart: the UTF-8 bytes of the token
// map to one user, its Latin-1 code points to another.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { createAuthedFetch } from "../src/fetch/authed_fetch.ts";
import { KubeauthError } from "../src/errors.ts";
import {
  makeTempDir,
  startCluster,
  writeKubeconfig,
} from "./support/harness.ts";
import type { TestCluster } from "./support/harness.ts";
import { kubeconfigFor } from "./support/authed_fetch.ts";
import type { Echo } from "./support/echo.ts";

const LATIN1_TOKEN = "tok-\u00e9\u00fc"; // é ü: one byte each in Latin-1
const WIDE_TOKEN = "tok-\u20ac-\u{1f511}"; // € and a key emoji: no Latin-1 form

/** The token as the server reads its UTF-8 bytes: one character per byte. */
function utf8View(token: string): string {
  return String.fromCharCode(...new TextEncoder().encode(token));
}

let cluster: TestCluster;
let tmp: { path: string; remove(): Promise<void> };

before(async () => {
  cluster = await startCluster({
    tokens: {
      [utf8View(LATIN1_TOKEN)]: "utf8-bytes",
      [LATIN1_TOKEN]: "latin1-bytes",
      [utf8View(WIDE_TOKEN)]: "utf8-wide",
    },
  });
  tmp = await makeTempDir("kubeauth-token-bytes-");
});

after(async () => {
  await cluster?.close();
  await tmp?.remove();
});

async function userSeen(
  user: Record<string, unknown>,
  name: string,
): Promise<string | null> {
  const kube = await createAuthedFetch({
    kubeconfig: await writeKubeconfig(tmp.path, kubeconfigFor(cluster, user)),
  });
  try {
    const res = await kube("/echo", { headers: { "x-request-id": name } });
    assert.equal(res.status, 200, await res.clone().text());
    return (await res.json() as Echo).user;
  } finally {
    await kube.close();
  }
}

test("a kubeconfig token beyond ASCII is sent as its UTF-8 bytes", {
  timeout: 60_000,
}, async () => {
  assert.equal(await userSeen({ token: LATIN1_TOKEN }, "t1"), "utf8-bytes");
  assert.equal(await userSeen({ token: WIDE_TOKEN }, "t2"), "utf8-wide");
});

test("an exec plugin's token beyond ASCII is sent as its UTF-8 bytes", {
  timeout: 60_000,
}, async () => {
  const state = join(tmp.path, "plugin-state");
  mkdirSync(state, { recursive: true });
  const cases = [[LATIN1_TOKEN, "utf8-bytes"], [WIDE_TOKEN, "utf8-wide"]];
  for (const [token, want] of cases) {
    const output = JSON.stringify({
      apiVersion: "client.authentication.k8s.io/v1",
      kind: "ExecCredential",
      status: { token },
    });
    const user = {
      exec: {
        apiVersion: "client.authentication.k8s.io/v1",
        command: join(process.cwd(), "testdata", "plugins", "parity_plugin.sh"),
        interactiveMode: "Never",
        env: [
          { name: "PARITY_DIR", value: state },
          { name: "PARITY_OUTPUT", value: output },
        ],
      },
    };
    assert.equal(await userSeen(user, `p-${want}`), want);
  }
});

test("a token with a control character is still refused before any request", {
  timeout: 60_000,
}, async () => {
  const before = (await cluster.requests()).length;
  await assert.rejects(
    userSeen({ token: "tok-\u00e9\u0001" }, "ctl"),
    (err: unknown) => {
      assert.ok(err instanceof KubeauthError, String(err));
      assert.equal(err.code, "CREDENTIAL_INVALID");
      assert.match(err.message, /a control character \(character 6 of 6\)/);
      assert.ok(!err.message.includes("tok-"), err.message);
      return true;
    },
  );
  assert.equal((await cluster.requests()).length, before);
});
