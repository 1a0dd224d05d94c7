import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFile, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { inspect } from "node:util";
import { loadKubeconfig } from "../src/kubeconfig/load.ts";
import { resolveContext } from "../src/kubeconfig/resolve.ts";
import { createStaticCredentialSource } from "../src/credentials/static_sources.ts";
import { unsupportedAuthProviderError } from "../src/kubeconfig/auth_provider.ts";
import type { ResolvedUser } from "../src/kubeconfig/types.ts";
import { getRuntimeAdapter } from "../src/runtime/mod.ts";
import type { CredentialSource } from "../src/credentials/credentials.ts";
import { KubeconfigError } from "../src/errors.ts";
import {
  fixture,
  fsAdapter,
  rejection,
  tempDir,
} from "./support/kubeconfig.ts";

const adapter = fsAdapter();
const UNAUTHORIZED = { code: 401, header: {} };

async function userOf(file: string, context: string): Promise<ResolvedUser> {
  const kc = await loadKubeconfig({ path: fixture(file), adapter });
  return (await resolveContext(kc, { context, adapter })).user;
}

function source(user: ResolvedUser, options = {}): CredentialSource {
  const s = createStaticCredentialSource(user, { adapter, ...options });
  assert.ok(s, "a static source");
  return s;
}

test("static token: used as is, same object each time, a 401 changes nothing", async () => {
  const s = source(await userOf("single/config", "token"));
  assert.equal(s.kind, "token");
  const a = await s.get();
  assert.equal(a.token, "static-token-123");
  assert.equal(a.clientCertificate, undefined);
  assert.equal(await s.get(), a);
  assert.equal(await s.refreshAfterUnauthorized(a, UNAUTHORIZED), null);
  assert.doesNotMatch(inspect(a) + JSON.stringify(a), /static-token-123/);
  await s.close();
  await s.close();
  const closed = await rejection(s.get());
  assert.equal(closed.code, "CLOSED");
});

test("client-go precedence: static credentials win over exec; nothing static → null", async () => {
  // exec + token: the token is used and the plugin never runs.
  const execAndToken = source(await userOf("single/config", "exec-and-token"));
  assert.equal(execAndToken.kind, "token");
  assert.equal((await execAndToken.get()).token, "wins-over-exec");
  assert.equal(
    createStaticCredentialSource(await userOf("single/config", "exec"), {
      adapter,
    }),
    null,
  );
  assert.equal(
    createStaticCredentialSource(await userOf("single/config", "anonymous"), {
      adapter,
    }),
    null,
  );
  assert.equal(
    createStaticCredentialSource(
      await userOf("gke/config", "gke_my-project_europe-west1_prod"),
      { adapter },
    ),
    null,
  );
});

test("basic auth, client certificate (files and data), token + certificate together", async () => {
  const basic = source(await userOf("single/config", "basic"));
  assert.equal(basic.kind, "basic-auth");
  assert.deepEqual((await basic.get()).basic, {
    username: "admin",
    password: "basic-pass-789",
  });

  for (const context of ["cert-files", "cert-data"]) {
    const s = source(await userOf("single/config", context));
    assert.equal(s.kind, "client-certificate");
    const creds = await s.get();
    assert.equal(creds.token, undefined);
    assert.equal(creds.clientCertificate!.subject, "CN=static-user");
    assert.match(creds.clientCertificate!.fingerprint, /^[0-9a-f]{64}$/);
    assert.ok(creds.clientCertificate!.notAfter.getUTCFullYear() > 2100);
  }
  const both = source(await userOf("single/config", "token-and-cert"));
  assert.equal(both.kind, "token");
  const creds = await both.get();
  assert.equal(creds.token, "token-with-cert-456");
  assert.equal(creds.clientCertificate!.subject, "CN=static-user");
});

test("an invalid certificate or a lone key: clear errors without key material", async () => {
  const cert = await readFile(fixture("certs/static-user.crt"), "utf8");
  const otherKey = await readFile(fixture("certs/rotated-user.key"), "utf8");
  const mismatched = source({
    name: "m",
    clientCertificatePem: cert,
    clientKeyPem: otherKey,
  });
  const err = await rejection(mismatched.get());
  assert.equal(err.code, "CERT_INVALID");
  assert.match(
    err.message,
    /^failed parsing client key\/certificate: .*\(user "m": client-certificate-data, client-key-data\)$/,
  );
  assert.ok(!err.message.includes(otherKey.split("\n")[1]));

  const garbage = source({
    name: "g",
    clientCertificatePem: "not a cert",
    clientKeyPem: "KEY-SECRET",
  });
  const g = await rejection(garbage.get());
  assert.equal(g.code, "CERT_INVALID");
  assert.doesNotMatch(g.message, /KEY-SECRET/);

  const lone = source({ name: "lone", clientKeyPem: otherKey });
  const l = await rejection(lone.get());
  assert.equal(l.code, "KUBECONFIG_INVALID");
  assert.equal(
    l.message,
    'user "lone" has a client key without a client certificate: both are needed',
  );
});

test("auth-provider users: KUBECONFIG_INVALID naming the exec plugin that replaces it", async () => {
  const expected: Record<string, RegExp> = {
    gcp:
      /^user "gcp-user" uses the "gcp" auth-provider, which kubeauth does not support; .*gke-gcloud-auth-plugin/,
    azure:
      /"azure" auth-provider.*kubelogin \(https:\/\/github\.com\/Azure\/kubelogin\) and run "kubelogin convert-kubeconfig"/,
    oidc:
      /"oidc" auth-provider.*https:\/\/github\.com\/int128\/kubelogin.*kubectl oidc-login/,
    custom:
      /"custom-thing" auth-provider.*use an exec credential plugin instead/,
  };
  for (const [context, pattern] of Object.entries(expected)) {
    const user = await userOf("auth-providers/config", context);
    let thrown: unknown;
    try {
      createStaticCredentialSource(user, { adapter });
    } catch (err) {
      thrown = err;
    }
    assert.ok(thrown instanceof KubeconfigError, context);
    assert.equal(thrown.code, "KUBECONFIG_INVALID");
    assert.match(thrown.message, pattern);
    assert.doesNotMatch(thrown.message, /secret/);
  }
  const direct = unsupportedAuthProviderError("gcp", "u");
  assert.equal(direct.code, "KUBECONFIG_INVALID");
  assert.match(direct.message, /gke-gcloud-auth-plugin/);
});

test("token file: re-read once older than tokenFileMaxAgeMs (injected clock), new object only on change", async () => {
  const dir = await tempDir();
  try {
    const file = join(dir.path, "token");
    await writeFile(file, "t1\n");
    const reads = new Map<string, number>();
    let now = 1_000_000;
    const s = createStaticCredentialSource(
      { name: "sa", tokenFile: file },
      { adapter: fsAdapter({ reads }), now: () => now },
    )!;
    assert.equal(s.kind, "token-file");
    const first = await s.get();
    assert.equal(first.token, "t1");
    await writeFile(file, "t2\n");
    now += 59_999;
    assert.equal(await s.get(), first, "not re-read before the max age");
    assert.equal(reads.get(file), 1);
    now += 1;
    const second = await s.get();
    assert.equal(second.token, "t2");
    assert.notEqual(second, first);
    assert.equal(reads.get(file), 2);
    // Unchanged content after another minute: read again, same object.
    now += 60_000;
    assert.equal(await s.get(), second);
    assert.equal(reads.get(file), 3);
    // Concurrent callers share one read.
    now += 60_000;
    await writeFile(file, "t3");
    const all = await Promise.all([s.get(), s.get(), s.get(), s.get()]);
    assert.equal(reads.get(file), 4);
    assert.ok(all.every((c) => c === all[0] && c.token === "t3"));
    // The file disappears: the last token is kept (client-go logs and keeps it).
    await rm(file);
    now += 60_000;
    assert.equal((await s.get()).token, "t3");
    await s.close();
  } finally {
    await dir.remove();
  }
});

test("token file: after a 401 it is re-read at once; new credentials only if the content changed", async () => {
  const dir = await tempDir();
  try {
    const file = join(dir.path, "token");
    await writeFile(file, "old-token");
    const s = createStaticCredentialSource(
      { name: "sa", tokenFile: file },
      { adapter, now: () => 0 },
    )!;
    const old = await s.get();
    assert.equal(
      await s.refreshAfterUnauthorized(old, UNAUTHORIZED),
      null,
      "unchanged file",
    );
    await writeFile(file, "new-token\n");
    const fresh = await s.refreshAfterUnauthorized(old, UNAUTHORIZED);
    assert.ok(fresh);
    assert.equal(fresh.token, "new-token");
    assert.equal(await s.get(), fresh);
    // A late 401 for the old generation gets the current one without a re-read.
    assert.equal(await s.refreshAfterUnauthorized(old, UNAUTHORIZED), fresh);
    const aborted = AbortSignal.abort(new Error("stop"));
    const a = await rejection(
      s.refreshAfterUnauthorized(fresh, UNAUTHORIZED, aborted),
    );
    assert.equal(a.message, "stop");
    await s.close();
  } finally {
    await dir.remove();
  }
});

test("token file problems: missing or empty → CREDENTIAL_INVALID naming the file; token + tokenFile: the file wins", async () => {
  const dir = await tempDir();
  try {
    const missing = join(dir.path, "missing");
    const err = await rejection(
      createStaticCredentialSource({ name: "u", tokenFile: missing }, {
        adapter,
      })!.get(),
    );
    assert.equal(err.code, "CREDENTIAL_INVALID");
    assert.equal(
      err.message,
      `unable to read the token file "${missing}" of user "u": no such file or directory`,
    );
    const empty = join(dir.path, "empty");
    await writeFile(empty, " \n");
    const e = await rejection(
      createStaticCredentialSource({ name: "u", tokenFile: empty }, {
        adapter,
      })!.get(),
    );
    assert.equal(
      e.message,
      `unable to read the token file "${empty}" of user "u": the file is empty`,
    );
    // client-go: with both, the file's token is used while it can be read…
    const file = join(dir.path, "token");
    await writeFile(file, "from-file");
    const both = createStaticCredentialSource({
      name: "u",
      token: "inline",
      tokenFile: file,
    }, { adapter })!;
    assert.equal(both.kind, "token-file");
    assert.equal((await both.get()).token, "from-file");
    // …and the inline token when it cannot.
    const fallback = createStaticCredentialSource({
      name: "u",
      token: "inline",
      tokenFile: missing,
    }, { adapter })!;
    assert.equal((await fallback.get()).token, "inline");
    const aborted = await rejection(
      both.get(AbortSignal.abort(new Error("aborted"))),
    );
    assert.equal(aborted.message, "aborted");
  } finally {
    await dir.remove();
  }
});

test("client certificate files rotated on disk: new credentials (new fingerprint) after the max age or a 401", async () => {
  const dir = await tempDir();
  try {
    const crt = join(dir.path, "client.crt");
    const key = join(dir.path, "client.key");
    await copyFile(fixture("certs/static-user.crt"), crt);
    await copyFile(fixture("certs/static-user.key"), key);
    const kc = {
      "current-context": "c",
      clusters: [{ name: "k", cluster: { server: "https://k" } }],
      users: [{
        name: "u",
        user: { "client-certificate": crt, "client-key": key },
      }],
      contexts: [{ name: "c", context: { cluster: "k", user: "u" } }],
    };
    const user = (await resolveContext(kc, { adapter })).user;
    let now = 0;
    const s = createStaticCredentialSource(user, { adapter, now: () => now })!;
    const first = await s.get();
    assert.equal(first.clientCertificate!.subject, "CN=static-user");

    // Half-way through a rotation (new cert, old key): the old pair is kept.
    await copyFile(fixture("certs/rotated-user.crt"), crt);
    now += 300_000;
    assert.equal(await s.get(), first);
    await copyFile(fixture("certs/rotated-user.key"), key);
    now += 299_999;
    assert.equal(await s.get(), first, "not re-read before the max age");
    now += 1;
    const second = await s.get();
    assert.equal(second.clientCertificate!.subject, "CN=rotated-user");
    assert.notEqual(
      second.clientCertificate!.fingerprint,
      first.clientCertificate!.fingerprint,
    );

    // After a 401: re-read at once.
    await copyFile(fixture("certs/static-user.crt"), crt);
    await copyFile(fixture("certs/static-user.key"), key);
    const third = await s.refreshAfterUnauthorized(second, UNAUTHORIZED);
    assert.ok(third);
    assert.equal(
      third.clientCertificate!.fingerprint,
      first.clientCertificate!.fingerprint,
    );
    assert.equal(await s.refreshAfterUnauthorized(third, UNAUTHORIZED), null);
    await s.close();
  } finally {
    await dir.remove();
  }
});

test("in-cluster users report kind in-cluster; the real adapter reads the token file", async () => {
  const user: ResolvedUser = {
    name: "",
    tokenFile: fixture("in-cluster/token"),
    inCluster: true,
  };
  // getRuntimeAdapter() of Deno, Bun or Node.
  const adapter = await getRuntimeAdapter();
  const s = createStaticCredentialSource(user, { adapter })!;
  assert.equal(s.kind, "in-cluster");
  assert.equal((await s.get()).token, "in-cluster-token-1");
  await s.close();
  const missing = createStaticCredentialSource({
    name: "",
    tokenFile: fixture("in-cluster/nope"),
    inCluster: true,
  }, { adapter })!;
  const err = await rejection(missing.get());
  assert.match(
    err.message,
    /of the in-cluster service account: no such file or directory$/,
  );
});
