import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { loadInClusterConfig } from "../src/kubeconfig/in_cluster.ts";
import { resolveDefaultContext } from "../src/kubeconfig/default_context.ts";
import { createStaticCredentialSource } from "../src/credentials/static_sources.ts";
import {
  fixture,
  fsAdapter,
  rejection,
  tempDir,
} from "./support/kubeconfig.ts";

const CA = readFileSync(fixture("certs/ca.crt"), "utf8");
const IN_CLUSTER_ENV = {
  KUBERNETES_SERVICE_HOST: "10.96.0.1",
  KUBERNETES_SERVICE_PORT: "443",
};

test("in-cluster: server from the service variables, token file, CA and namespace from the mount", async () => {
  const ctx = await loadInClusterConfig({
    adapter: fsAdapter({ env: IN_CLUSTER_ENV }),
    dir: fixture("in-cluster"),
  });
  assert.deepEqual(ctx, {
    contextName: "",
    cluster: {
      name: "",
      server: "https://10.96.0.1:443",
      caPem: CA,
      insecureSkipTlsVerify: false,
      disableCompression: false,
    },
    user: { name: "", tokenFile: fixture("in-cluster/token"), inCluster: true },
    namespace: "kube-apps",
    source: "in-cluster",
  });
  const source = createStaticCredentialSource(ctx.user, {
    adapter: fsAdapter(),
  })!;
  assert.equal(source.kind, "in-cluster");
  assert.equal((await source.get()).token, "in-cluster-token-1");
  await source.close();
});

test("in-cluster: IPv6 host in brackets, $POD_NAMESPACE first, no CA/namespace files tolerated", async () => {
  const dir = await tempDir();
  try {
    await writeFile(join(dir.path, "token"), "tok");
    const ctx = await loadInClusterConfig({
      adapter: fsAdapter({
        env: {
          KUBERNETES_SERVICE_HOST: "fd00:10:96::1",
          KUBERNETES_SERVICE_PORT: "6443",
        },
      }),
      dir: dir.path,
    });
    assert.equal(ctx.cluster.server, "https://[fd00:10:96::1]:6443");
    assert.equal(ctx.cluster.caPem, undefined); // client-go: system roots
    assert.equal(ctx.namespace, "default");
    const ns = await loadInClusterConfig({
      adapter: fsAdapter({
        env: { ...IN_CLUSTER_ENV, POD_NAMESPACE: "from-env" },
      }),
      dir: fixture("in-cluster"),
    });
    assert.equal(ns.namespace, "from-env");
  } finally {
    await dir.remove();
  }
});

test("not in a cluster: clear KUBECONFIG_NOT_FOUND errors", async () => {
  const noEnv = await rejection(
    loadInClusterConfig({ adapter: fsAdapter(), dir: fixture("in-cluster") }),
  );
  assert.equal(noEnv.code, "KUBECONFIG_NOT_FOUND");
  assert.equal(
    noEnv.message,
    "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined (not running in a Kubernetes pod?)",
  );
  const noToken = await rejection(
    loadInClusterConfig({
      adapter: fsAdapter({ env: IN_CLUSTER_ENV }),
      dir: fixture("merge"),
    }),
  );
  assert.equal(noToken.code, "KUBECONFIG_NOT_FOUND");
  assert.equal(
    noToken.message,
    `unable to load in-cluster configuration: cannot read the service-account token "${
      fixture("merge/token")
    }": no such file or directory (is automountServiceAccountToken disabled for this pod?)`,
  );
});

test("resolveDefaultContext: the kubeconfig option (path or object) comes first", async () => {
  const adapter = fsAdapter({
    env: { KUBECONFIG: fixture("gke/config"), ...IN_CLUSTER_ENV },
  });
  const byPath = await resolveDefaultContext({
    kubeconfig: fixture("rancher/config"),
    adapter,
  });
  assert.equal(
    byPath.cluster.server,
    "https://rancher.example/k8s/clusters/c-abc12",
  );
  assert.equal(byPath.source, fixture("rancher/config"));
  const byObject = await resolveDefaultContext({
    kubeconfig: {
      clusters: [{ name: "k", cluster: { server: "https://obj" } }],
      contexts: [{ name: "c", context: { cluster: "k", user: "" } }],
    },
    context: "c",
    adapter,
  });
  assert.equal(byObject.cluster.server, "https://obj");
  const missing = await rejection(
    resolveDefaultContext({ kubeconfig: fixture("nope"), adapter }),
  );
  assert.equal(missing.code, "KUBECONFIG_NOT_FOUND");
  assert.match(missing.message, /kubeconfig file ".*nope" not found/);
});

test("resolveDefaultContext: $KUBECONFIG, then ~/.kube/config; a kubeconfig beats in-cluster", async () => {
  const home = await tempDir();
  try {
    const viaEnv = await resolveDefaultContext({
      adapter: fsAdapter({
        env: {
          KUBECONFIG: `/nonexistent:${fixture("single/config")}`,
          ...IN_CLUSTER_ENV,
        },
      }),
      context: "basic",
    });
    assert.equal(viaEnv.contextName, "basic");
    assert.equal(viaEnv.source, fixture("single/config"));
    await mkdir(join(home.path, ".kube"));
    await writeFile(
      join(home.path, ".kube", "config"),
      await readFile(fixture("rancher/config")),
    );
    const viaHome = await resolveDefaultContext({
      adapter: fsAdapter({ home: home.path, env: IN_CLUSTER_ENV }),
    });
    assert.equal(viaHome.contextName, "c-abc12");
    assert.equal(viaHome.source, join(home.path, ".kube", "config"));
  } finally {
    await home.remove();
  }
});

test("resolveDefaultContext: in-cluster only when no kubeconfig file exists at all", async () => {
  const home = await tempDir();
  try {
    const inCluster = await resolveDefaultContext({
      adapter: fsAdapter({ home: home.path, env: IN_CLUSTER_ENV }),
      inClusterDir: fixture("in-cluster"),
    });
    assert.equal(inCluster.source, "in-cluster");
    assert.equal(inCluster.namespace, "kube-apps");
    const listedButMissing = await resolveDefaultContext({
      adapter: fsAdapter({
        env: { KUBECONFIG: "/nonexistent/a:/nonexistent/b", ...IN_CLUSTER_ENV },
      }),
      inClusterDir: fixture("in-cluster"),
    });
    assert.equal(listedButMissing.source, "in-cluster");

    const nothing = await rejection(
      resolveDefaultContext({ adapter: fsAdapter({ home: home.path }) }),
    );
    assert.equal(nothing.code, "KUBECONFIG_NOT_FOUND");
    assert.equal(
      nothing.message,
      `no kubeconfig found: $KUBECONFIG is not set and ${
        join(home.path, ".kube", "config")
      } does not exist, and not running in a cluster (KUBERNETES_SERVICE_HOST is not set); pass the kubeconfig option, set KUBECONFIG, or create ~/.kube/config`,
    );
    const listed = await rejection(
      resolveDefaultContext({
        adapter: fsAdapter({
          env: { KUBECONFIG: "/nonexistent/a:/nonexistent/b" },
        }),
      }),
    );
    assert.match(
      listed.message,
      /^no kubeconfig found: none of the files in \$KUBECONFIG exists \(\/nonexistent\/a:\/nonexistent\/b\), and not running in a cluster/,
    );
    // A context was asked for: in-cluster config has none, so it is not used.
    const withContext = await rejection(
      resolveDefaultContext({
        adapter: fsAdapter({ home: home.path, env: IN_CLUSTER_ENV }),
        context: "prod",
      }),
    );
    assert.equal(withContext.code, "KUBECONFIG_NOT_FOUND");
    assert.match(
      withContext.message,
      /^context "prod" requested but no kubeconfig was found: /,
    );
    // In-cluster env set but no token mounted: the in-cluster error plus what was tried.
    const noToken = await rejection(
      resolveDefaultContext({
        adapter: fsAdapter({ home: home.path, env: IN_CLUSTER_ENV }),
        inClusterDir: home.path,
      }),
    );
    assert.equal(noToken.code, "KUBECONFIG_NOT_FOUND");
    assert.match(
      noToken.message,
      /service-account token .* \(no kubeconfig either: \$KUBECONFIG is not set and .* does not exist\)$/,
    );
  } finally {
    await home.remove();
  }
});

test("the real runtime adapter: in-cluster from process environment variables", async () => {
  const keys = [
    "KUBERNETES_SERVICE_HOST",
    "KUBERNETES_SERVICE_PORT",
    "POD_NAMESPACE",
  ] as const;
  const saved = keys.map((k) => process.env[k]);
  process.env.KUBERNETES_SERVICE_HOST = "10.0.0.1";
  process.env.KUBERNETES_SERVICE_PORT = "8443";
  delete process.env.POD_NAMESPACE;
  try {
    const ctx = await loadInClusterConfig({ dir: fixture("in-cluster") });
    assert.equal(ctx.cluster.server, "https://10.0.0.1:8443");
    assert.equal(ctx.cluster.caPem, CA);
    assert.equal(ctx.namespace, "kube-apps");
    const viaDefault = await resolveDefaultContext({
      kubeconfig: fixture("single/config"),
      context: "exec",
    });
    assert.equal(viaDefault.user.exec!.command, fixture("single/bin/plugin"));
  } finally {
    keys.forEach((k, i) => {
      if (saved[i] === undefined) delete process.env[k];
      else process.env[k] = saved[i];
    });
  }
});
