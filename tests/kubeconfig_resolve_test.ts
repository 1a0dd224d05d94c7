import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { loadKubeconfig } from "../src/kubeconfig/load.ts";
import { resolveContext } from "../src/kubeconfig/resolve.ts";
import type { Kubeconfig } from "../src/kubeconfig/types.ts";
import { KubeconfigError } from "../src/errors.ts";
import {
  fixture,
  FIXTURES,
  fsAdapter,
  rejection,
} from "./support/kubeconfig.ts";

const adapter = fsAdapter();
const CA = readFileSync(fixture("certs/ca.crt"), "utf8");
const CERT = readFileSync(fixture("certs/static-user.crt"), "utf8");
const KEY = readFileSync(fixture("certs/static-user.key"), "utf8");

async function single(context?: string) {
  const kc = await loadKubeconfig({ path: fixture("single/config"), adapter });
  return await resolveContext(kc, { context, adapter });
}

test("token user (current-context): server, CA read from the file, namespace, source", async () => {
  const ctx = await single();
  assert.equal(ctx.contextName, "token");
  assert.equal(ctx.source, fixture("single/config"));
  assert.equal(ctx.namespace, "team-a");
  assert.deepEqual(ctx.cluster, {
    name: "local",
    server: "https://127.0.0.1:6443",
    caPem: CA,
    insecureSkipTlsVerify: false,
    disableCompression: false,
  });
  assert.deepEqual(ctx.user, { name: "token-user", token: "static-token-123" });
});

test("each user kind resolves: token file, cert files, cert data, token+cert, basic, exec, anonymous", async () => {
  const tokenFile = await single("token-file");
  assert.deepEqual(tokenFile.user, {
    name: "token-file-user",
    tokenFile: fixture("single/tokens/token"),
  });
  assert.equal(tokenFile.namespace, "default");

  const certFiles = await single("cert-files");
  assert.deepEqual(certFiles.user, {
    name: "cert-files-user",
    clientCertificateFile: fixture("certs/static-user.crt"),
    clientCertificatePem: CERT,
    clientKeyFile: fixture("certs/static-user.key"),
    clientKeyPem: KEY,
  });

  const certData = await single("cert-data");
  assert.deepEqual(certData.user, {
    name: "cert-data-user",
    clientCertificatePem: CERT,
    clientKeyPem: KEY,
  });
  assert.equal(certData.cluster.caPem, CA);

  const both = await single("token-and-cert");
  assert.equal(both.user.token, "token-with-cert-456");
  assert.equal(both.user.clientCertificatePem, CERT);

  const basic = await single("basic");
  assert.deepEqual(basic.user, {
    name: "basic-user",
    username: "admin",
    password: "basic-pass-789",
  });
  assert.deepEqual(basic.cluster, {
    name: "tuned",
    server: "https://tuned.example:6443",
    insecureSkipTlsVerify: true,
    tlsServerName: "api.internal",
    proxyUrl: "http://proxy.example:3128",
    disableCompression: true,
  });

  const exec = await single("exec");
  assert.deepEqual(exec.user.exec, {
    apiVersion: "client.authentication.k8s.io/v1",
    command: fixture("single/bin/plugin"),
    args: ["get-token", "--cluster", "local"],
    env: [{ name: "PLUGIN_MODE", value: "test" }, { name: "EMPTY", value: "" }],
    interactiveMode: "Never",
  });
  const onPath = await single("exec-on-path");
  assert.equal(onPath.user.exec!.command, "kubectl-plugin");
  assert.equal(onPath.user.exec!.interactiveMode, "IfAvailable");
  assert.deepEqual(onPath.user.exec!.args, []);

  // Both are reported; createStaticCredentialSource applies client-go's precedence.
  const execAndToken = await single("exec-and-token");
  assert.equal(execAndToken.user.token, "wins-over-exec");
  assert.equal(execAndToken.user.exec!.command, "should-not-run");

  const anonymous = await single("anonymous");
  assert.deepEqual(anonymous.user, { name: "" });
});

test("GKE: the client.authentication.k8s.io/exec extension is passed verbatim; Rancher: path-prefixed server", async () => {
  const gke = await resolveContext(
    await loadKubeconfig({ path: fixture("gke/config"), adapter }),
    { adapter },
  );
  assert.deepEqual(gke.cluster.execExtension, {
    audience: "//container.googleapis.com/projects/my-project",
    nested: { list: [1, 2], flag: true },
  });
  assert.equal(gke.user.exec!.provideClusterInfo, true);
  assert.deepEqual(gke.user.exec!.args, []);
  assert.deepEqual(gke.user.exec!.env, []);

  const rancher = await resolveContext(
    await loadKubeconfig({ path: fixture("rancher/config"), adapter }),
    { adapter },
  );
  assert.equal(
    rancher.cluster.server,
    "https://rancher.example/k8s/clusters/c-abc12",
  );
  assert.equal(rancher.cluster.caPem, CA);
  assert.equal(rancher.namespace, "apps");
  assert.equal(rancher.user.token, "kubeconfig-u-abc:rancher-secret-token");
});

test("unknown context, cluster or user: CONTEXT_NOT_FOUND naming it and listing those that exist", async () => {
  const kc = await loadKubeconfig({
    path: fixture("bad/resolve.kubeconfig"),
    adapter,
  });
  const file = fixture("bad/resolve.kubeconfig");

  // kubectl: error: context "ghost" does not exist
  const ctx = await rejection(
    resolveContext(kc, { context: "ghost", adapter }),
  );
  assert.ok(ctx instanceof KubeconfigError);
  assert.equal(ctx.code, "CONTEXT_NOT_FOUND");
  assert.match(
    ctx.message,
    /^context "ghost" not found in .*resolve\.kubeconfig \(available contexts: "ok", "bad-ca-data", /,
  );

  // kubectl silently falls back to localhost:8080 here; we refuse.
  const cluster = await rejection(
    resolveContext(kc, { context: "unknown-cluster", adapter }),
  );
  assert.equal(cluster.code, "CONTEXT_NOT_FOUND");
  assert.equal(
    cluster.message,
    `cluster "ghost-cluster" of context "unknown-cluster" not found in ${file} (available clusters: "good", "bad-ca-data", "not-pem-ca", "no-server", "missing-ca-file", "both-ca", "insecure-with-ca")`,
  );

  // kubectl goes on as an anonymous user (and prompts for a username); we refuse.
  const user = await rejection(
    resolveContext(kc, { context: "unknown-user", adapter }),
  );
  assert.equal(user.code, "CONTEXT_NOT_FOUND");
  assert.match(
    user.message,
    /^user "ghost-user" of context "unknown-user" not found in .* \(available users: "token-user", "bad-key-data", /,
  );

  const none = await rejection(
    resolveContext({
      contexts: [{ name: "a", context: { cluster: "c", user: "" } }],
    }),
  );
  assert.equal(none.code, "CONTEXT_NOT_FOUND");
  assert.equal(
    none.message,
    'no context selected: current-context is not set in kubeconfig object; pass a context name (available contexts: "a")',
  );
});

test("bad cluster or user stanzas: clear KUBECONFIG_INVALID errors naming field, entry and file, no values", async () => {
  const kc = await loadKubeconfig({
    path: fixture("bad/resolve.kubeconfig"),
    adapter,
  });
  const file = fixture("bad/resolve.kubeconfig");
  const inFile = ` (kubeconfig file "${file}")`;
  const cases: [string, string][] = [
    // kubectl fails to load the whole file: "illegal base64 data at input byte 4"
    [
      "bad-ca-data",
      `certificate-authority-data of cluster "bad-ca-data" is not valid base64${inFile}`,
    ],
    [
      "bad-key-data",
      `client-key-data of user "bad-key-data" is not valid base64${inFile}`,
    ],
    // kubectl: unable to load root certificates: unable to parse bytes as PEM block
    [
      "not-pem-ca",
      `certificate-authority-data of cluster "not-pem-ca" is not a PEM certificate bundle (no "-----BEGIN CERTIFICATE-----")${inFile}`,
    ],
    // kubectl falls back to http://localhost:8080
    [
      "no-server",
      `cluster "no-server" has no server: set clusters[].cluster.server to the API server URL${inFile}`,
    ],
    // kubectl: unable to read certificate-authority … for missing-ca-file due to open …: no such file or directory
    [
      "missing-ca-file",
      `unable to read certificate-authority "${
        fixture("bad/no-such-ca.crt")
      }" for cluster "missing-ca-file": no such file or directory${inFile}`,
    ],
    [
      "both-ca",
      `certificate-authority-data and certificate-authority are both specified for both-ca. certificate-authority-data will override.${inFile}`,
    ],
    // kubectl: specifying a root certificates file with the insecure flag is not allowed
    [
      "insecure-with-ca",
      `specifying a root certificates file with the insecure flag is not allowed (cluster "insecure-with-ca" has insecure-skip-tls-verify and a certificate authority)${inFile}`,
    ],
    // kubectl, word for word
    [
      "cert-without-key",
      `client-key-data or client-key must be specified for cert-without-key to use the clientCert authentication method.${inFile}`,
    ],
    // kubectl ignores a lone key (and prompts for a username); we refuse
    [
      "key-without-cert",
      `client-certificate-data or client-certificate must be specified for key-without-cert to use the clientCert authentication method (it has a client key only).${inFile}`,
    ],
    [
      "missing-cert-file",
      `unable to read client-certificate "${
        fixture("bad/no-such.crt")
      }" for user "missing-cert-file": no such file or directory${inFile}`,
    ],
    // kubectl, word for word
    [
      "token-and-basic",
      `more than one authentication method found for token-and-basic; found [token basicAuth], only one is allowed${inFile}`,
    ],
  ];
  for (const [context, message] of cases) {
    const err = await rejection(resolveContext(kc, { context, adapter }));
    assert.ok(err instanceof KubeconfigError, context);
    assert.equal(err.code, "KUBECONFIG_INVALID", context);
    assert.equal(err.message, message);
    assert.equal(err.file, file);
    assert.doesNotMatch(
      err.message,
      /c2VjcmV0|secret|tok-secret|pass-secret|not base64!/,
    );
  }
  // The good context of the same file still resolves.
  assert.equal((await resolveContext(kc, { adapter })).contextName, "ok");
});

test("exec validation uses client-go's messages (EXEC_CONFIG_INVALID)", async () => {
  const kc = await loadKubeconfig({
    path: fixture("bad/resolve.kubeconfig"),
    adapter,
  });
  const cases: [string, string][] = [
    // kubectl: the three lines of "Error in configuration:", the env line once
    [
      "exec-empty",
      "command must be specified for exec-empty to use exec authentication plugin; apiVersion must be specified for exec-empty to use exec authentication plugin; env variable name must be specified for exec-empty to use exec authentication plugin; interactiveMode must be specified for exec-empty to use exec authentication plugin",
    ],
    [
      "exec-v1-no-mode",
      "interactiveMode must be specified for exec-v1-no-mode to use exec authentication plugin",
    ],
    ["exec-bad-mode", 'invalid interactiveMode for exec-bad-mode: "Sometimes"'],
  ];
  for (const [context, message] of cases) {
    const err = await rejection(resolveContext(kc, { context, adapter }));
    assert.equal(err.code, "EXEC_CONFIG_INVALID", context);
    assert.equal(
      err.message,
      `${message} (in kubeconfig file "${fixture("bad/resolve.kubeconfig")}")`,
    );
  }
  const providers = await loadKubeconfig({
    path: fixture("auth-providers/config"),
    adapter,
  });
  const mixed = await rejection(
    resolveContext(providers, { context: "exec-and-provider", adapter }),
  );
  assert.equal(mixed.code, "EXEC_CONFIG_INVALID");
  assert.match(
    mixed.message,
    /^authProvider cannot be provided in combination with an exec plugin for mixed-user \(/,
  );
  // Legacy providers alone resolve; the credential source reports them.
  for (
    const [context, name] of [["gcp", "gcp"], ["azure", "azure"], [
      "oidc",
      "oidc",
    ], ["custom", "custom-thing"]]
  ) {
    const ctx = await resolveContext(providers, { context, adapter });
    assert.equal(ctx.user.authProvider, name);
  }
});

test("an object built in code: validated, relative paths against the cwd, null lists tolerated", async () => {
  const config = {
    "current-context": "c",
    clusters: [{
      name: "k",
      cluster: { server: "https://k", "certificate-authority": "certs/ca.crt" },
    }],
    users: [{
      name: "u",
      user: {
        "client-certificate": "certs/static-user.crt",
        "client-key": "certs/static-user.key",
        tokenFile: "single/tokens/token",
        exec: {
          command: "./single/bin/plugin",
          apiVersion: "client.authentication.k8s.io/v1beta1",
          args: null,
          env: null,
        },
      },
    }],
    contexts: [{ name: "c", context: { cluster: "k", user: "u" } }],
  } as unknown as Kubeconfig;
  const ctx = await resolveContext(config, {
    adapter: fsAdapter({ cwd: FIXTURES }),
  });
  assert.equal(ctx.source, "kubeconfig object");
  assert.equal(ctx.cluster.caPem, CA);
  assert.equal(
    ctx.user.clientCertificateFile,
    fixture("certs/static-user.crt"),
  );
  assert.equal(ctx.user.tokenFile, fixture("single/tokens/token"));
  assert.equal(ctx.user.exec!.command, fixture("single/bin/plugin"));
  assert.deepEqual(ctx.user.exec!.args, []);
  assert.equal(ctx.user.exec!.interactiveMode, "IfAvailable");
  // A pure-data config needs no adapter at all; the source label can be set.
  const data = await resolveContext(
    {
      clusters: [{ name: "k", cluster: { server: "https://k" } }],
      contexts: [{ name: "c", context: { cluster: "k", user: "" } }],
    },
    { context: "c", source: "inline" },
  );
  assert.equal(data.source, "inline");
  const typed = await rejection(
    resolveContext(
      {
        clusters: [{ name: "k", cluster: { server: 42 } }],
      } as unknown as Kubeconfig,
      { context: "c" },
    ),
  );
  assert.equal(typed.code, "KUBECONFIG_INVALID");
  assert.match(
    typed.message,
    /^kubeconfig object: clusters\["k"\]\.cluster\.server must be a string, not a number/,
  );
});

test("the real runtime adapter reads CA, certificate and key files", async () => {
  const kc = await loadKubeconfig({ path: fixture("single/config") });
  const ctx = await resolveContext(kc, { context: "cert-files" });
  assert.equal(ctx.cluster.caPem, CA);
  assert.equal(ctx.user.clientKeyPem, KEY);
  const bad = await loadKubeconfig({ path: fixture("bad/resolve.kubeconfig") });
  const err = await rejection(
    resolveContext(bad, { context: "missing-ca-file" }),
  );
  assert.match(err.message, /no such file or directory/);
});
