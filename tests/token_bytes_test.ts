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
// Its UTF-8 ends in the byte A0 (à is C3 A0), which JavaScript's trim() would
// take for a no-break space.
const A0_TOKEN = "tok-\u00e0";

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
      [utf8View(A0_TOKEN)]: "utf8-a0",
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
  clusterExtra: Record<string, unknown> = {},
): Promise<string | null> {
  const kube = await createAuthedFetch({
    kubeconfig: await writeKubeconfig(
      tmp.path,
      kubeconfigFor(cluster, user, clusterExtra),
    ),
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
  assert.equal(await userSeen({ token: A0_TOKEN }, "t3"), "utf8-a0");
  // Deno sends these through its node:https pool: the same bytes.
  const named = { "tls-server-name": "localhost" };
  assert.equal(await userSeen({ token: A0_TOKEN }, "t4", named), "utf8-a0");
  assert.equal(
    await userSeen({ token: LATIN1_TOKEN }, "t5", named),
    "utf8-bytes",
  );
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
