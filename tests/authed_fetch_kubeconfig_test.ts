import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { issueCertificate } from "./support/pki.ts";
import { authedFetch, createAuthedFetch } from "../src/fetch/authed_fetch.ts";
import { createCredentialSource } from "../src/fetch/credential_source.ts";
import { KubeauthError } from "../src/errors.ts";
import { resolveDefaultContext } from "../src/kubeconfig/mod.ts";
import { getRuntimeAdapter } from "../src/runtime/mod.ts";
import type { RuntimeAdapter } from "../src/runtime/types.ts";
import {
  demoPluginExec,
  makeTempDir,
  pluginRuns,
  startCluster,
  writeKubeconfig,
} from "./support/harness.ts";
import type { TestCluster } from "./support/harness.ts";
import { kubeconfigFor } from "./support/authed_fetch.ts";
import type { Echo } from "./support/echo.ts";

let cluster: TestCluster;
let dir: { path: string; remove(): Promise<void> };

before(async () => {
  cluster = await startCluster();
  dir = await makeTempDir();
});

after(async () => {
  await cluster?.close();
  await dir?.remove();
});

async function echoOf(
  kube: (input: string, init?: RequestInit) => Promise<Response>,
  id?: string,
): Promise<Echo> {
  const res = await kube(
    "/echo",
    id === undefined ? undefined : { headers: { "x-request-id": id } },
  );
  assert.equal(res.status, 200);
  return await res.json() as Echo;
}

/** The real adapter with some environment variables and the home directory replaced. */
function adapterWith(
  real: RuntimeAdapter,
  env: Record<string, string | undefined>,
  home: string,
): RuntimeAdapter {
  return {
    name: real.name,
    os: real.os,
    spawn: (o) => real.spawn(o),
    stdinIsTerminal: () => real.stdinIsTerminal(),
    writeStderr: (c) => real.writeStderr(c),
    env() {
      const all = real.env();
      for (const [k, v] of Object.entries(env)) {
        if (v === undefined) delete all[k];
        else all[k] = v;
      }
      return all;
    },
    getEnv: (name) => name in env ? env[name] : real.getEnv(name),
    readFile: (p) => real.readFile(p),
    homeDir: () => home,
    cwd: () => real.cwd(),
    createTransport: (o) => real.createTransport(o),
  };
}

test("token user from a kubeconfig file", async () => {
  await cluster.setTokens({ "kc-static-token": "kc-user" });
  const path = await writeKubeconfig(
    dir.path,
    kubeconfigFor(cluster, { token: "kc-static-token" }),
  );
  const kube = await createAuthedFetch({ kubeconfig: path });
  try {
    assert.equal(kube.context, "test");
    const e = await echoOf(kube);
    assert.equal(e.user, "kc-user");
    assert.equal(e.authScheme, "bearer");
  } finally {
    await kube.close();
  }
});

test("token file rotated on disk: the 401 re-reads it and the retry succeeds", async () => {
  const tokenFile = join(dir.path, "token-file");
  writeFileSync(tokenFile, "file-token-1\n");
  await cluster.setTokens({ "file-token-1": "file-user-1" });
  const kube = await createAuthedFetch({
    kubeconfig: kubeconfigFor(cluster, { tokenFile }),
  });
  try {
    assert.equal((await echoOf(kube)).user, "file-user-1");
    writeFileSync(tokenFile, "file-token-2\n");
    await cluster.setTokens({ "file-token-2": "file-user-2" });
    const e = await echoOf(kube, "token-file-rotated");
    assert.equal(e.user, "file-user-2");
    const tries = (await cluster.requests())
      .filter((r) => r.id === "token-file-rotated")
      .map((r) => r.status);
    assert.deepEqual(tries, [401, 200]);
  } finally {
    await kube.close();
  }
});

test("static client certificate files", async () => {
  const pair = await issueCertificate(cluster.ca, {
    commonName: "cert-file-user",
    usage: "client",
  });
  const certFile = join(dir.path, "client.crt");
  const keyFile = join(dir.path, "client.key");
  writeFileSync(certFile, pair.certPem);
  writeFileSync(keyFile, pair.keyPem);
  const kube = await createAuthedFetch({
    kubeconfig: kubeconfigFor(cluster, {
      "client-certificate": certFile,
      "client-key": keyFile,
    }),
  });
  try {
    const e = await echoOf(kube);
    assert.equal(e.cn, "cert-file-user");
    assert.equal(e.user, "cert-file-user");
    assert.equal(e.authScheme, "cert");
    assert.equal(e.headers.authorization, undefined);
  } finally {
    await kube.close();
  }
});

test("basic auth user", async () => {
  await cluster.setBasic([{ username: "bob", password: "pässwörd:1" }]);
  const kube = await createAuthedFetch({
    kubeconfig: kubeconfigFor(cluster, {
      username: "bob",
      password: "pässwörd:1",
    }),
  });
  try {
    const e = await echoOf(kube);
    assert.equal(e.user, "bob");
    assert.equal(e.authScheme, "basic");
  } finally {
    await kube.close();
  }
});

test("in-cluster: service-account token, CA and namespace from a directory", async () => {
  const sa = join(dir.path, "serviceaccount");
  mkdirSync(sa);
  writeFileSync(join(sa, "token"), "sa-token-1");
  writeFileSync(join(sa, "ca.crt"), cluster.caPem);
  writeFileSync(join(sa, "namespace"), "team-a");
  await cluster.setTokens({ "sa-token-1": "system:serviceaccount:team-a:app" });
  const port = new URL(cluster.url).port;
  const adapter = adapterWith(await getRuntimeAdapter(), {
    KUBERNETES_SERVICE_HOST: "127.0.0.1",
    KUBERNETES_SERVICE_PORT: port,
    KUBECONFIG: undefined,
    POD_NAMESPACE: undefined,
  }, join(dir.path, "no-home"));
  const kube = await createAuthedFetch({ adapter, inClusterDir: sa });
  try {
    assert.equal(kube.server.href, `https://127.0.0.1:${port}/`);
    assert.equal(kube.namespace, "team-a");
    assert.equal(kube.context, "");
    const e = await echoOf(kube);
    assert.equal(e.user, "system:serviceaccount:team-a:app");
  } finally {
    await kube.close();
  }
});

test("disable-compression asks for identity encoding", async () => {
  await cluster.setTokens({ "gz-token": "gz" });
  const kube = await createAuthedFetch({
    kubeconfig: kubeconfigFor(cluster, { token: "gz-token" }, {
      "disable-compression": true,
    }),
  });
  try {
    assert.equal((await echoOf(kube)).headers["accept-encoding"], "identity");
    const res = await kube("/echo", { headers: { "x-a": "1" } });
    const e = await res.json() as Echo;
    assert.equal(e.headers["accept-encoding"], "identity");
    assert.equal(e.user, "gz");
  } finally {
    await kube.close();
  }
});

test("static credentials win over exec: the plugin never runs", async () => {
  const state = await makeTempDir();
  await cluster.setTokens({ "wins-token": "static-wins" });
  const kube = await createAuthedFetch({
    kubeconfig: kubeconfigFor(cluster, {
      token: "wins-token",
      exec: demoPluginExec({ stateDir: state.path, caDir: cluster.dir }),
    }),
  });
  try {
    assert.equal((await echoOf(kube)).user, "static-wins");
    assert.equal(await pluginRuns(state.path), 0);
  } finally {
    await kube.close();
    await state.remove();
  }
});

test("a user without credentials is anonymous: no Authorization, the 401 is returned", async () => {
  const ctx = await resolveDefaultContext({
    kubeconfig: kubeconfigFor(cluster),
  });
  const source = createCredentialSource(ctx, {
    adapter: await getRuntimeAdapter(),
  });
  assert.equal(source.kind, "none");
  await source.close();
  const kube = await createAuthedFetch({ kubeconfig: kubeconfigFor(cluster) });
  try {
    const res = await kube("/echo");
    assert.equal(res.status, 401);
    assert.equal((await res.json() as { kind: string }).kind, "Status");
  } finally {
    await kube.close();
  }
});

test("auth-provider users are refused with client-go's wording or a replacement", async () => {
  const state = await makeTempDir();
  try {
    await assert.rejects(
      createAuthedFetch({
        kubeconfig: kubeconfigFor(cluster, {
          "auth-provider": { name: "oidc" },
          exec: demoPluginExec({ stateDir: state.path, caDir: cluster.dir }),
        }),
      }),
      (err) =>
        err instanceof KubeauthError && err.code === "EXEC_CONFIG_INVALID" &&
        err.message.includes(
          "authProvider cannot be provided in combination with an exec plugin for tester",
        ),
    );
    // The same rule for a context resolved elsewhere.
    const adapter = await getRuntimeAdapter();
    const ctx = await resolveDefaultContext({
      kubeconfig: kubeconfigFor(cluster, {
        exec: demoPluginExec({ stateDir: state.path, caDir: cluster.dir }),
      }),
    });
    assert.throws(
      () =>
        createCredentialSource({
          ...ctx,
          user: { ...ctx.user, authProvider: "oidc" },
        }, { adapter }),
      (err) =>
        err instanceof KubeauthError && err.code === "EXEC_CONFIG_INVALID" &&
        err.message ===
          "authProvider cannot be provided in combination with an exec plugin for tester",
    );
    const onlyProvider = await resolveDefaultContext({
      kubeconfig: kubeconfigFor(cluster),
    });
    assert.throws(
      () =>
        createCredentialSource({
          ...onlyProvider,
          user: { ...onlyProvider.user, authProvider: "azure" },
        }, { adapter }),
      (err) =>
        err instanceof KubeauthError && err.code === "KUBECONFIG_INVALID" &&
        err.message.includes("kubelogin"),
    );
    await assert.rejects(
      createAuthedFetch({
        kubeconfig: kubeconfigFor(cluster, {
          "auth-provider": { name: "gcp" },
        }),
      }),
      (err) =>
        err instanceof KubeauthError && err.code === "KUBECONFIG_INVALID" &&
        err.message.includes("gke-gcloud-auth-plugin"),
    );
  } finally {
    await state.remove();
  }
});

test("tls-server-name and insecure-skip-tls-verify work on every runtime", async () => {
  await cluster.setTokens({ "tls-token": "tls-user" });
  const variants: Record<string, unknown>[] = [
    { "tls-server-name": "localhost" },
    {
      "insecure-skip-tls-verify": true,
      "certificate-authority-data": undefined,
    },
    { "tls-server-name": "localhost", "disable-compression": true },
  ];
  for (const extra of variants) {
    const config = kubeconfigFor(cluster, { token: "tls-token" }, extra);
    const kube = await createAuthedFetch({ kubeconfig: config });
    try {
      const echo = await echoOf(kube);
      assert.equal(echo.user, "tls-user");
      if (extra["disable-compression"]) {
        assert.equal(echo.headers["accept-encoding"], "identity");
      } else assert.notEqual(echo.headers["accept-encoding"], "identity");
    } finally {
      await kube.close();
    }
  }
});

test("an unknown context fails at createAuthedFetch", async () => {
  await assert.rejects(
    createAuthedFetch({ kubeconfig: kubeconfigFor(cluster), context: "nope" }),
    (err) => err instanceof KubeauthError && err.code === "CONTEXT_NOT_FOUND",
  );
});

test("authedFetch(): a default client from $KUBECONFIG, created on first use", async () => {
  await cluster.setTokens({ "default-token": "default-user" });
  const sub = join(dir.path, "default");
  mkdirSync(sub);
  const path = await writeKubeconfig(
    sub,
    kubeconfigFor(cluster, { token: "default-token" }),
  );
  const saved = process.env.KUBECONFIG;
  process.env.KUBECONFIG = path;
  try {
    const [a, b] = await Promise.all([
      authedFetch("/echo"),
      authedFetch("echo"),
    ]);
    assert.equal((await a.json() as Echo).user, "default-user");
    assert.equal((await b.json() as Echo).user, "default-user");
  } finally {
    if (saved === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = saved;
  }
});
