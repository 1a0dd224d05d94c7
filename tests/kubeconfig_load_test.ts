import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  kubeconfigCandidates,
  loadKubeconfig,
} from "../src/kubeconfig/load.ts";
import { resolveContext } from "../src/kubeconfig/resolve.ts";
import type { Kubeconfig } from "../src/kubeconfig/types.ts";
import { KubeconfigError } from "../src/errors.ts";
import {
  fixture,
  FIXTURES,
  fsAdapter,
  rejection,
  tempDir,
} from "./support/kubeconfig.ts";

const MERGE_LIST = [
  fixture("merge/first/config"),
  "", // empty entries are skipped
  fixture("merge/missing/config"), // missing files are skipped
  fixture("merge/second/config"),
  fixture("merge/third/config"),
  fixture("merge/first/config"), // duplicates are dropped
].join(":");

function byName<T extends { name: string }>(
  list: T[] | undefined,
  name: string,
): T {
  const found = list?.find((e) => e.name === name);
  assert.ok(found, `entry ${name} exists`);
  return found;
}

test("a single file: relative references become absolute against its directory", async () => {
  const kc = await loadKubeconfig({
    path: fixture("single/config"),
    adapter: fsAdapter(),
  });
  assert.equal(kc.apiVersion, "v1");
  assert.equal(kc.kind, "Config");
  assert.equal(kc["current-context"], "token");
  assert.deepEqual(kc.preferences, {});
  assert.equal(
    byName(kc.clusters, "local").cluster["certificate-authority"],
    fixture("certs/ca.crt"),
  );
  const users = kc.users!;
  assert.equal(
    byName(users, "token-file-user").user.tokenFile,
    fixture("single/tokens/token"),
  );
  const certUser = byName(users, "cert-files-user").user;
  assert.equal(
    certUser["client-certificate"],
    fixture("certs/static-user.crt"),
  );
  assert.equal(certUser["client-key"], fixture("certs/static-user.key"));
  // An exec command with a separator is a file next to the kubeconfig…
  const exec = byName(users, "exec-user").user.exec!;
  assert.equal(exec.command, fixture("single/bin/plugin"));
  assert.deepEqual(exec.args, ["get-token", "--cluster", "local"]);
  assert.deepEqual(exec.env, [
    { name: "PLUGIN_MODE", value: "test" },
    { name: "EMPTY", value: "" },
  ]);
  // …a bare name is left for the PATH lookup; v1beta1 defaults interactiveMode.
  const onPath = byName(users, "exec-path-user").user.exec!;
  assert.equal(onPath.command, "kubectl-plugin");
  assert.deepEqual(onPath.args, []);
  assert.deepEqual(onPath.env, []);
  assert.equal(onPath.interactiveMode, "IfAvailable");
  // Secrets are passed through untouched.
  assert.equal(byName(users, "token-user").user.token, "static-token-123");
  assert.equal(byName(kc.contexts, "token").context.namespace, "team-a");
});

test("GKE style: args/env null become [], provideClusterInfo, installHint and extensions kept", async () => {
  const kc = await loadKubeconfig({
    path: fixture("gke/config"),
    adapter: fsAdapter(),
  });
  const exec = kc.users![0].user.exec!;
  assert.deepEqual(exec.args, []);
  assert.deepEqual(exec.env, []);
  assert.equal(exec.command, "gke-gcloud-auth-plugin");
  assert.equal(exec.provideClusterInfo, true);
  assert.equal(exec.interactiveMode, "IfAvailable");
  assert.match(
    exec.installHint!,
    /^Install gke-gcloud-auth-plugin .* https:\/\/cloud\.google\.com\//,
  );
  assert.deepEqual(kc.clusters![0].cluster.extensions![0], {
    name: "client.authentication.k8s.io/exec",
    extension: {
      audience: "//container.googleapis.com/projects/my-project",
      nested: { list: [1, 2], flag: true },
    },
  });
});

test("KUBECONFIG with several files (one missing): kubectl's first-wins merge, paths per defining file", async () => {
  const kc = await loadKubeconfig({
    adapter: fsAdapter({ env: { KUBECONFIG: MERGE_LIST } }),
  });
  // current-context: the first file that sets one (first sets none).
  assert.equal(kc["current-context"], "second-ctx");
  // "shared" comes whole from the first file: no insecure/tls-server-name from the second.
  assert.deepEqual(byName(kc.clusters, "shared").cluster, {
    server: "https://first.example:6443",
    "certificate-authority": fixture("certs/ca.crt"),
  });
  assert.deepEqual(byName(kc.contexts, "shared-ctx").context, {
    cluster: "shared",
    user: "shared-user",
    namespace: "from-first",
  });
  assert.deepEqual(byName(kc.users, "shared-user").user, {
    tokenFile: fixture("merge/first/token"),
  });
  // Each file's relative paths are resolved against its own directory.
  assert.equal(
    byName(kc.clusters, "second-only").cluster["certificate-authority"],
    fixture("merge/second/ca/second-ca.crt"),
  );
  assert.equal(
    byName(kc.users, "second-user").user["client-certificate"],
    fixture("certs/static-user.crt"),
  );
  assert.equal(
    byName(kc.users, "third-user").user.exec!.command,
    fixture("merge/third/bin/third-plugin"),
  );
  assert.deepEqual(kc.clusters!.map((c) => c.name), [
    "shared",
    "first-only",
    "second-only",
    "third-only",
  ]);
  const ctx = await resolveContext(kc, { adapter: fsAdapter() });
  assert.equal(ctx.contextName, "second-ctx");
  assert.equal(ctx.namespace, "from-second");
  assert.equal(
    ctx.source,
    [
      fixture("merge/first/config"),
      fixture("merge/second/config"),
      fixture("merge/third/config"),
    ].join(":"),
  );
});

// ---- comparison with kubectl ------------------------------------------------

function run(
  cmd: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { env: { ...process.env, ...env }, timeout: 30_000, cwd: FIXTURES },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

type Json = Record<string, unknown>;

/** kubectl's and our JSON, brought to one shape (lists sorted, defaults dropped). */
function canonical(config: Json): Json {
  const out: Json = {};
  if (config["current-context"]) {
    out["current-context"] = config["current-context"];
  }
  for (
    const [list, inner] of [["clusters", "cluster"], ["users", "user"], [
      "contexts",
      "context",
    ]]
  ) {
    const entries = ((config[list] as Json[] | null) ?? []).map((e) => {
      const body = structuredClone(e[inner] as Json);
      const exec = body.exec as Json | undefined;
      if (exec) {
        exec.args ??= [];
        exec.env ??= [];
        if (exec.provideClusterInfo === false) delete exec.provideClusterInfo;
      }
      return { name: e.name, [inner]: body };
    });
    entries.sort((a, b) => String(a.name).localeCompare(String(b.name)));
    out[list] = entries;
  }
  return out;
}

/** What `kubectl config view --flatten` does to file references. */
async function flatten(config: Kubeconfig): Promise<Json> {
  const out = structuredClone(config) as Json;
  const embed = async (o: Json, key: string) => {
    if (typeof o[key] === "string") {
      o[`${key}-data`] = (await readFile(o[key] as string)).toString("base64");
      delete o[key];
    }
  };
  for (const c of out.clusters as Json[]) {
    await embed(c.cluster as Json, "certificate-authority");
  }
  for (const u of out.users as Json[]) {
    await embed(u.user as Json, "client-certificate");
    await embed(u.user as Json, "client-key");
  }
  return out;
}

test(
  "the merged result matches `kubectl config view --flatten` for the same KUBECONFIG",
  {
    timeout: 60_000,
  },
  async (t) => {
    const probe = await run("kubectl", ["version", "--client"], {});
    if (probe.code !== 0) {
      t.skip("kubectl is not on PATH: comparison skipped");
      return;
    }
    // `--flatten` embeds CA/cert/key files as -data (proving each relative
    // path was resolved against its defining file); tokenFile and exec
    // commands stay as written, so those are resolved here against the file
    // that defines the user.
    const userDir: Record<string, string> = {
      "shared-user": fixture("merge/first"),
      "second-user": fixture("merge/second"),
      "third-user": fixture("merge/third"),
      "token-file-user": fixture("single"),
      "exec-user": fixture("single"),
    };
    const cases = [MERGE_LIST, fixture("single/config"), fixture("gke/config")];
    for (const list of cases) {
      const kubectl = await run("kubectl", [
        "config",
        "view",
        "--flatten",
        "-o",
        "json",
      ], {
        KUBECONFIG: list,
      });
      assert.equal(kubectl.code, 0, kubectl.stderr);
      const theirs = JSON.parse(kubectl.stdout) as Json;
      assert.ok(
        (theirs.users as Json[]).length > 0 &&
          (theirs.clusters as Json[]).length > 0,
      );
      for (const u of (theirs.users as Json[] | null) ?? []) {
        const user = u.user as Json;
        const dir = userDir[u.name as string];
        if (typeof user.tokenFile === "string") {
          user.tokenFile = join(
            dir,
            user.tokenFile,
          );
        }
        const exec = user.exec as Json | undefined;
        if (exec && String(exec.command).includes("/")) {
          exec.command = join(dir, exec.command as string);
        }
      }
      const ours = await loadKubeconfig({
        adapter: fsAdapter({ env: { KUBECONFIG: list } }),
      });
      assert.deepEqual(
        canonical(await flatten(ours)),
        canonical(theirs),
        `KUBECONFIG=${list}`,
      );
      if (list === MERGE_LIST) {
        // kubectl, too, took "shared" from the first file and current-context from the second.
        assert.equal(theirs["current-context"], "second-ctx");
        const shared = (theirs.clusters as Json[]).find((c) =>
          c.name === "shared"
        )!;
        assert.equal(
          (shared.cluster as Json).server,
          "https://first.example:6443",
        );
      }
    }
    // kubectl: all listed files missing → an empty config, current-context unset.
    const none = await run("kubectl", ["config", "view", "-o", "json"], {
      KUBECONFIG: "/nonexistent/a:/nonexistent/b",
    });
    assert.equal(none.code, 0);
    assert.deepEqual(canonical(JSON.parse(none.stdout)), {
      clusters: [],
      users: [],
      contexts: [],
    });
    const current = await run("kubectl", ["config", "current-context"], {
      KUBECONFIG: "/nonexistent/a:/nonexistent/b",
    });
    assert.notEqual(current.code, 0);
    assert.match(current.stderr, /current-context is not set/);
  },
);

test("every listed file missing: an empty config (as kubectl); resolving then says current-context is not set", async () => {
  const adapter = fsAdapter({
    env: { KUBECONFIG: "/nonexistent/a:/nonexistent/b" },
  });
  const kc = await loadKubeconfig({ adapter });
  assert.deepEqual(kc, {
    apiVersion: "v1",
    kind: "Config",
    clusters: [],
    users: [],
    contexts: [],
  });
  const err = await rejection(resolveContext(kc, { adapter }));
  assert.equal(err.code, "CONTEXT_NOT_FOUND");
  assert.match(err.message, /current-context is not set/);
  assert.match(err.message, /it has no contexts/);
});

test("file discovery: $KUBECONFIG, else ~/.kube/config; ':' alone lists nothing (no fallback)", async () => {
  const home = await tempDir();
  try {
    await mkdir(join(home.path, ".kube"));
    await writeFile(
      join(home.path, ".kube", "config"),
      "current-context: from-home\n",
    );
    const fromHome = await loadKubeconfig({
      adapter: fsAdapter({ home: home.path }),
    });
    assert.equal(fromHome["current-context"], "from-home");
    // Set but empty counts as unset (kubectl).
    const emptyVar = await loadKubeconfig({
      adapter: fsAdapter({ home: home.path, env: { KUBECONFIG: "" } }),
    });
    assert.equal(emptyVar["current-context"], "from-home");
    // ":" is a list of empty entries: nothing is loaded, and no fallback.
    const colon = await loadKubeconfig({
      adapter: fsAdapter({ home: home.path, env: { KUBECONFIG: ":" } }),
    });
    assert.equal(colon["current-context"], undefined);
    // No home directory and no variable: empty config.
    const nothing = await loadKubeconfig({ adapter: fsAdapter() });
    assert.deepEqual(nothing.contexts, []);
    // Windows: ';' separates, and paths are de-duplicated.
    const win = kubeconfigCandidates(
      fsAdapter({
        os: "windows",
        cwd: "C:\\work",
        env: { KUBECONFIG: "C:\\a\\config;;rel\\config;C:\\a\\config" },
      }),
    );
    assert.deepEqual(win, {
      files: ["C:\\a\\config", "C:\\work\\rel\\config"],
      from: "KUBECONFIG",
    });
    const winHome = kubeconfigCandidates(
      fsAdapter({ os: "windows", home: "C:\\Users\\jane" }),
    );
    assert.deepEqual(winHome.files, ["C:\\Users\\jane\\.kube\\config"]);
  } finally {
    await home.remove();
  }
});

test("an explicit path must exist; it is one file even with ':' (kubectl --kubeconfig)", async () => {
  const adapter = fsAdapter({ cwd: FIXTURES });
  const missing = await rejection(
    loadKubeconfig({ path: "no/such/config", adapter }),
  );
  assert.ok(missing instanceof KubeconfigError);
  assert.equal(missing.code, "KUBECONFIG_NOT_FOUND");
  assert.match(
    missing.message,
    /kubeconfig file ".*\/testdata\/kubeconfig\/no\/such\/config" not found/,
  );
  // kubectl --kubeconfig a:b → "stat a:b: no such file or directory".
  const colon = await rejection(
    loadKubeconfig({
      path: `${fixture("single/config")}:${fixture("gke/config")}`,
      adapter,
    }),
  );
  assert.equal(colon.code, "KUBECONFIG_NOT_FOUND");
  // Relative explicit paths are taken against the current directory.
  const rel = await loadKubeconfig({ path: "rancher/config", adapter });
  assert.equal(rel["current-context"], "c-abc12");
  // A list of explicit paths is merged like $KUBECONFIG, but each must exist.
  const both = await loadKubeconfig({
    path: [fixture("rancher/config"), fixture("gke/config")],
    adapter,
  });
  assert.equal(both["current-context"], "c-abc12");
  assert.equal(both.clusters!.length, 2);
  const oneMissing = await rejection(
    loadKubeconfig({
      path: [fixture("rancher/config"), fixture("nope")],
      adapter,
    }),
  );
  assert.equal(oneMissing.code, "KUBECONFIG_NOT_FOUND");
});

test("malformed YAML: KUBECONFIG_INVALID with the file and line, and no file content", async () => {
  const adapter = fsAdapter();
  const file = fixture("bad/malformed.kubeconfig");
  // kubectl: error loading config file "…/malformed.kubeconfig": yaml: line 8: found unexpected end of stream
  const err = await rejection(loadKubeconfig({ path: file, adapter }));
  assert.ok(err instanceof KubeconfigError);
  assert.equal(err.code, "KUBECONFIG_INVALID");
  assert.equal(err.file, file);
  assert.match(
    err.message,
    /invalid YAML in kubeconfig file ".*malformed\.kubeconfig" at line 8, column 1: /,
  );
  assert.doesNotMatch(err.message, /secret-token-in-broken-file/);
  assert.doesNotMatch(String(err.cause ?? ""), /secret-token-in-broken-file/);
  // kubectl: yaml: line 5: did not find expected key (js-yaml points at line 6, the bad line itself)
  const indent = await rejection(
    loadKubeconfig({ path: fixture("bad/bad-indent.kubeconfig"), adapter }),
  );
  assert.match(
    indent.message,
    /bad-indent\.kubeconfig" at line 6, column \d+: bad indentation/,
  );
  // Reasons that would quote the input (an unquoted token read as an alias or tag) do not.
  const dir = await tempDir();
  try {
    for (
      const token of ["*alias-secret-1", "!tag-secret-2 x", "!<tag-secret-3> x"]
    ) {
      const f = join(dir.path, "c");
      await writeFile(f, `users:\n- name: u\n  user:\n    token: ${token}\n`);
      const e = await rejection(loadKubeconfig({ path: f, adapter }));
      assert.equal(e.code, "KUBECONFIG_INVALID");
      assert.match(e.message, /at line 4, column \d+: /);
      assert.doesNotMatch(e.message, /secret/);
    }
  } finally {
    await dir.remove();
  }
  // A malformed file in $KUBECONFIG fails the load too (kubectl does the same).
  const inList = await rejection(
    loadKubeconfig({
      adapter: fsAdapter({
        env: { KUBECONFIG: `${fixture("single/config")}:${file}` },
      }),
    }),
  );
  assert.equal(inList.code, "KUBECONFIG_INVALID");
});

test("structural errors name the file and field, never a value", async () => {
  const adapter = fsAdapter();
  const cases: [string, RegExp][] = [
    // kubectl: duplicate name "twice" in list: [{twice {… first-secret …}}] (it prints the tokens)
    ["bad/duplicate.kubeconfig", /users has the name "twice" twice/],
    // kubectl: cannot unmarshal number into Go struct field AuthInfo.users.user.token of type string
    [
      "bad/wrong-type.kubeconfig",
      /users\["numeric"\]\.user\.token must be a string, not a number \(quote the value in YAML\)/,
    ],
    // kubectl: couldn't get version/kind; json parse error: cannot unmarshal array
    ["bad/not-a-map.kubeconfig", /the document must be a mapping/],
    // kubectl: no kind "Pod" is registered for version "v1"
    ["bad/wrong-kind.kubeconfig", /kind must be "Config"/],
  ];
  for (const [name, pattern] of cases) {
    const err = await rejection(
      loadKubeconfig({ path: fixture(name), adapter }),
    );
    assert.equal(err.code, "KUBECONFIG_INVALID", name);
    assert.match(err.message, pattern);
    assert.ok(err.message.includes(fixture(name)), err.message);
    assert.doesNotMatch(err.message, /secret|12345/);
  }
});

test("an unreadable file: KUBECONFIG_INVALID with the path and reason, also inside $KUBECONFIG", async () => {
  const dir = await tempDir();
  try {
    // A directory where a file is expected.
    const err = await rejection(
      loadKubeconfig({ path: dir.path, adapter: fsAdapter() }),
    );
    assert.equal(err.code, "KUBECONFIG_INVALID");
    assert.equal(
      err.message,
      `cannot read kubeconfig file "${dir.path}": is a directory`,
    );
    const listed = await rejection(
      loadKubeconfig({ adapter: fsAdapter({ env: { KUBECONFIG: dir.path } }) }),
    );
    assert.match(listed.message, /is a directory/);
    // No read permission (meaningless as root, who can read anything).
    const locked = join(dir.path, "locked");
    await writeFile(locked, "apiVersion: v1\n");
    await chmod(locked, 0o000);
    const isRoot = typeof process.getuid === "function" &&
      process.getuid() === 0;
    if (!isRoot && process.platform !== "win32") {
      const denied = await rejection(
        loadKubeconfig({ path: locked, adapter: fsAdapter() }),
      );
      assert.equal(
        denied.message,
        `cannot read kubeconfig file "${locked}": permission denied`,
      );
    }
  } finally {
    await dir.remove();
  }
});

test("decoding like kubectl: first YAML document only, JSON, a BOM, YAML 1.1 booleans", async () => {
  const dir = await tempDir();
  try {
    const file = (name: string) => join(dir.path, name);
    // kubectl --kubeconfig multi.yaml config current-context → "one"
    await writeFile(
      file("multi"),
      "current-context: one\n---\ncurrent-context: two\n",
    );
    await writeFile(
      file("json"),
      '\uFEFF{"apiVersion":"v1","kind":"Config","clusters":[{"name":"j","cluster":{"server":"https://j","insecure-skip-tls-verify":"yes"}}]}',
    );
    await writeFile(file("empty"), "");
    const adapter = fsAdapter();
    assert.equal(
      (await loadKubeconfig({ path: file("multi"), adapter }))[
        "current-context"
      ],
      "one",
    );
    const json = await loadKubeconfig({ path: file("json"), adapter });
    // kubectl reads YAML 1.1, where `yes` is true.
    assert.equal(json.clusters![0].cluster["insecure-skip-tls-verify"], true);
    assert.deepEqual(
      (await loadKubeconfig({ path: file("empty"), adapter })).users,
      [],
    );
  } finally {
    await dir.remove();
  }
});

test("the real runtime adapter loads files and reads $KUBECONFIG from the process", async () => {
  // No adapter option: getRuntimeAdapter() of Deno, Bun or Node.
  const kc = await loadKubeconfig({ path: fixture("single/config") });
  assert.equal(
    byName(kc.users, "exec-user").user.exec!.command,
    fixture("single/bin/plugin"),
  );
  const saved = process.env.KUBECONFIG;
  process.env.KUBECONFIG = MERGE_LIST;
  try {
    const merged = await loadKubeconfig();
    assert.equal(merged["current-context"], "second-ctx");
    assert.equal(
      byName(merged.users, "shared-user").user.tokenFile,
      fixture("merge/first/token"),
    );
  } finally {
    if (saved === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = saved;
  }
  const missing = await rejection(
    loadKubeconfig({ path: fixture("nope/config") }),
  );
  assert.equal(missing.code, "KUBECONFIG_NOT_FOUND");
  const dir = await rejection(loadKubeconfig({ path: fixture("single") }));
  assert.equal(dir.code, "KUBECONFIG_INVALID");
  assert.match(dir.message, /is a directory/);
});
