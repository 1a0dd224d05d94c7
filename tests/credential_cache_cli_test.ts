// The credential cache across real processes: concurrent `kubeauth fetch
// --cache` and `kubeauth cached` runs on an empty cache run the plugin once;
// a holder killed in the middle of a run does not block the next process;
// the wrapped plugin's failure comes through unchanged; the real kubectl
// with a `kubeauth kubeconfig wrap` kubeconfig runs the plugin once in five
// invocations; and in the library a 401 drops the stored credential.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import process from "node:process";
import {
  BUN,
  demoPluginExec,
  demoTokens,
  makeTempDir,
  pluginRuns,
  repoPath,
  startCluster,
  type TestCluster,
  writeKubeconfig,
} from "./support/harness.ts";
import { probeCommand } from "./support/runtime_probe.ts";
import { kubeconfigFor } from "./support/authed_fetch.ts";
import { detectRuntime } from "../src/runtime/detect.ts";
import { createAuthedFetch } from "../src/fetch/authed_fetch.ts";
import type { AuthedFetchEvent } from "../src/fetch/authed_fetch.ts";
import { parseStreamArgs } from "../src/cli_streams.ts";

const EXEC_INFO = JSON.stringify({
  kind: "ExecCredential",
  apiVersion: "client.authentication.k8s.io/v1",
  spec: { interactive: false },
});

let cluster: TestCluster;
let tmp: { path: string; remove(): Promise<void> };
let cli: { argv: string[]; cleanup(): void };
let n = 0;

before(async () => {
  cluster = await startCluster({ tokens: demoTokens() });
  tmp = await makeTempDir("kubeauth-cache-cli-");
  cli = await probeCommand(
    detectRuntime() === "node" ? "testdata/cli/node_entry.ts" : "src/cli.ts",
  );
});

after(async () => {
  cli?.cleanup();
  await cluster?.close();
  await tmp?.remove();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(
  file: string,
  args: string[],
  env: Record<string, string>,
  started?: (pid: number) => void,
): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(file, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env } as Record<string, string>,
    });
    started?.(child.pid!);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    child.on(
      "close",
      (code, signal) =>
        resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }),
    );
  });
}

function kubeauth(
  args: string[],
  env: Record<string, string>,
  started?: (pid: number) => void,
): Promise<Run> {
  return run(cli.argv[0], [...cli.argv.slice(1), ...args], env, started);
}

function fresh(): { dir: string; state: string; cache: string } {
  const dir = join(tmp.path, `t${++n}`);
  const state = join(dir, "state");
  const cache = join(dir, "cache");
  mkdirSync(state, { recursive: true });
  return { dir, state, cache };
}

/** A kubeconfig whose user runs the demo plugin (a token; quiet by default). */
function tokenPluginConfig(
  t: { dir: string; state: string },
  extraArgs = ["--silent"],
): Promise<string> {
  return writeKubeconfig(
    t.dir,
    kubeconfigFor(cluster, {
      exec: demoPluginExec({
        stateDir: t.state,
        caDir: cluster.dir,
        mode: "token",
        extraArgs,
      }),
    }),
  );
}

/** Polls a condition (bounded: 3000 rounds of 10 ms), for process-made facts. */
async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`gave up waiting for ${what}`);
}

function lines(path: string): string[] {
  return existsSync(path)
    ? readFileSync(path, "utf8").split("\n").filter((l) => l !== "")
    : [];
}

describe("credential cache across processes", { timeout: 180_000 }, () => {
  test("8 concurrent `kubeauth fetch --cache` on an empty cache: one plugin run", async () => {
    const t = fresh();
    const config = await tokenPluginConfig(t, ["--delay-ms", "300"]);
    const runs = await Promise.all(
      Array.from(
        { length: 8 },
        () =>
          kubeauth(["fetch", "/version", "--kubeconfig", config, "--cache"], {
            KUBECACHEDIR: t.cache,
          }),
      ),
    );
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    assert.equal(await pluginRuns(t.state), 1);
    const files = readdirSync(join(t.cache, "kubeauth"));
    assert.equal(files.length, 1, files.join(" "));
    assert.match(files[0], /^[0-9a-f]{64}\.json$/);
    // Without --cache the plugin runs again: the cache is opt-in.
    const plain = await kubeauth(
      ["fetch", "/version", "--kubeconfig", config],
      {
        KUBECACHEDIR: t.cache,
      },
    );
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(await pluginRuns(t.state), 2);
    for (const r of [...runs, plain]) {
      assert.doesNotMatch(r.stderr + r.stdout, /demo-token-/);
    }
  });

  test("`--cache` says on stderr when the cache is not used, an entry is ignored or an answer is not stored", async () => {
    const t = fresh();
    const config = await tokenPluginConfig(t);
    const dir = join(t.cache, "kubeauth");
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o777);
    const fetchCached = () =>
      kubeauth(["fetch", "/version", "--kubeconfig", config, "--cache"], {
        KUBECACHEDIR: t.cache,
      });
    // A directory others can write to: refused on every run, and said.
    for (const r of [await fetchCached(), await fetchCached()]) {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        r.stderr,
        `kubeauth: credential cache not used: ${dir} is writable by others (mode 0777)\n`,
      );
    }
    assert.equal(await pluginRuns(t.state), 2);
    assert.deepEqual(readdirSync(dir), []);
    // Made private: stored silently, then a symlink where the entry was is
    // ignored (said once), replaced, and the next run is a silent hit.
    chmodSync(dir, 0o700);
    const stored = await fetchCached();
    assert.equal(stored.stderr, "");
    assert.equal(await pluginRuns(t.state), 3);
    const [entry] = readdirSync(dir);
    const elsewhere = join(t.dir, "elsewhere.json");
    writeFileSync(elsewhere, readFileSync(join(dir, entry)));
    rmSync(join(dir, entry));
    symlinkSync(elsewhere, join(dir, entry));
    const ignored = await fetchCached();
    assert.equal(ignored.code, 0, ignored.stderr);
    assert.equal(
      ignored.stderr,
      "kubeauth: credential cache entry ignored: the entry is a symlink\n",
    );
    assert.equal(await pluginRuns(t.state), 4);
    const hit = await fetchCached();
    assert.equal(hit.stderr, "");
    assert.equal(await pluginRuns(t.state), 4);
    // A credential without expiry cannot be kept: said on each run.
    const u = fresh();
    const noExpiry = await tokenPluginConfig(u, ["--silent", "--no-expiry"]);
    const notStored =
      "kubeauth: credential cache answer not stored: the credential has no expiry (no expirationTimestamp, no certificate)\n";
    for (const path of ["/version", "/no-such-path"]) {
      const r = await kubeauth(
        ["fetch", path, "--kubeconfig", noExpiry, "--cache"],
        { KUBECACHEDIR: u.cache },
      );
      assert.doesNotMatch(r.stderr + r.stdout, /demo-token-/);
      if (path === "/version") {
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stderr, notStored);
        continue;
      }
      // The server's error comes after the cache's line.
      assert.equal(r.code, 1);
      assert.ok(r.stderr.startsWith(notStored), r.stderr);
      assert.match(r.stderr, /\nerror: 404 /);
    }
    assert.equal(await pluginRuns(u.state), 2);
    for (const r of [stored, ignored, hit]) {
      assert.doesNotMatch(r.stderr + r.stdout, /demo-token-/);
    }
  });

  test("`kubeauth exec --cache`: the second exec answers from the cache", async () => {
    const t = fresh();
    const config = await tokenPluginConfig(t);
    const exec = (cache: string[]) =>
      kubeauth(
        ["exec", "web", "--kubeconfig", config, ...cache, "--", "echo", "hi"],
        { KUBECACHEDIR: t.cache },
      );
    for (const r of [await exec(["--cache"]), await exec(["--cache"])]) {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "hi\n");
      assert.equal(r.stderr, "");
    }
    assert.equal(await pluginRuns(t.state), 1);
    assert.equal(readdirSync(join(t.cache, "kubeauth")).length, 1);
    // Without --cache: the plugin runs.
    assert.equal((await exec([])).code, 0);
    assert.equal(await pluginRuns(t.state), 2);
    assert.equal(
      parseStreamArgs(["port-forward", "web", "8080:80", "--cache"]).cache,
      true,
    );
  });

  test("8 concurrent `kubeauth cached` on an empty cache: one run, the same ExecCredential", async () => {
    const t = fresh();
    const plugin = demoPluginExec({
      stateDir: t.state,
      caDir: cluster.dir,
      mode: "token",
      extraArgs: ["--delay-ms", "300"],
    });
    const runs = await Promise.all(
      Array.from({ length: 8 }, () =>
        kubeauth(
          [
            "cached",
            "--cache-dir",
            t.cache,
            "--",
            plugin.command,
            ...plugin.args,
          ],
          { KUBERNETES_EXEC_INFO: EXEC_INFO },
        )),
    );
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    assert.equal(await pluginRuns(t.state), 1);
    const first = runs[0].stdout;
    assert.match(first, /"token":"demo-token-1"/);
    for (const r of runs) assert.equal(r.stdout, first);
    // The wrapped plugin got the caller's KUBERNETES_EXEC_INFO.
    assert.equal(
      readFileSync(join(t.state, "exec-info.json"), "utf8").trim(),
      EXEC_INFO,
    );
  });

  test("the wrapped plugin's failure: same exit code, same stderr, nothing stored", async () => {
    const t = fresh();
    const failing = repoPath("testdata", "cli", "failing_plugin.sh");
    const direct = await run(failing, [], {});
    const r = await kubeauth(
      ["cached", "--cache-dir", t.cache, "--", failing],
      { KUBERNETES_EXEC_INFO: EXEC_INFO },
    );
    assert.equal(direct.code, 73);
    assert.equal(r.code, 73);
    assert.equal(r.stderr, direct.stderr);
    assert.equal(r.stdout, "");
    assert.deepEqual(readdirSync(t.cache), []);
    const usage = await kubeauth(["cached"], {});
    assert.equal(usage.code, 1);
    assert.match(usage.stderr, /^error: missing -- <plugin command>/);
    const noInfo = await kubeauth(["cached", "--", failing], {
      KUBERNETES_EXEC_INFO: "",
    });
    assert.equal(noInfo.code, 1);
    assert.match(noInfo.stderr, /^error: KUBERNETES_EXEC_INFO is not set/);
  });

  test("a holder killed during its run does not block the next process", async () => {
    const t = fresh();
    const plugin = repoPath("testdata", "plugins", "cache_slow_plugin.sh");
    const env = { KUBERNETES_EXEC_INFO: EXEC_INFO, CACHE_TEST_STATE: t.state };
    const args = ["cached", "--cache-dir", t.cache, "--", plugin];
    writeFileSync(join(t.state, "hold"), "");
    let holderPid = 0;
    const holder = kubeauth(args, env, (pid) => (holderPid = pid));
    // The plugin has started: the holder has the lock.
    await until(
      "the held run",
      () => lines(join(t.state, "runs")).length === 1,
    );
    assert.ok(readdirSync(t.cache).some((f) => f.endsWith(".lock")));
    process.kill(holderPid, "SIGKILL");
    const pluginPid = Number(lines(join(t.state, "pids"))[0]);
    process.kill(pluginPid, "SIGKILL");
    const killed = await holder;
    assert.notEqual(killed.code, 0);
    rmSync(join(t.state, "hold"));
    const next = await kubeauth(args, env);
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stdout, /slow-token-/);
    assert.equal(lines(join(t.state, "runs")).length, 2);
    assert.deepEqual(
      readdirSync(t.cache).filter((f) => !f.endsWith(".json")),
      [],
      "stale lock removed",
    );
    const again = await kubeauth(args, env);
    assert.equal(again.stdout, next.stdout);
    assert.equal(lines(join(t.state, "runs")).length, 2);
  });

  test("kubectl with a `kubeauth kubeconfig wrap` kubeconfig: 5 invocations, one plugin run", async () => {
    const t = fresh();
    const original = await tokenPluginConfig(t, []);
    const before = readFileSync(original, "utf8");
    // `kubeauth` on PATH, as an installed CLI would be.
    const bin = join(t.dir, "bin");
    mkdirSync(bin);
    const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
    writeFileSync(
      join(bin, "kubeauth"),
      `#!/bin/sh\nexec ${cli.argv.map(quote).join(" ")} "$@"\n`,
      { mode: 0o755 },
    );
    const env = {
      PATH: `${bin}:${process.env.PATH}`,
      KUBECACHEDIR: t.cache,
    };
    const wrap = await kubeauth(
      ["kubeconfig", "wrap", "--kubeconfig", original],
      env,
    );
    assert.equal(wrap.code, 0, wrap.stderr);
    assert.equal(readFileSync(original, "utf8"), before, "original untouched");
    assert.match(wrap.stdout, /command: kubeauth/);
    const wrapped = join(t.dir, "wrapped.yaml");
    writeFileSync(wrapped, wrap.stdout);
    for (let i = 0; i < 5; i++) {
      const r = await run(
        "kubectl",
        ["--kubeconfig", wrapped, "get", "--raw", "/version"],
        env,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).gitVersion, "v1.32.0-kubeauth-demo");
    }
    assert.equal(await pluginRuns(t.state), 1);
    const info = JSON.parse(
      readFileSync(join(t.state, "exec-info.json"), "utf8"),
    );
    assert.equal(info.kind, "ExecCredential");
    assert.equal(info.apiVersion, "client.authentication.k8s.io/v1");
    assert.equal(info.spec.interactive, false);
    const users = new Set(
      (await cluster.requests()).filter((q) => q.path === "/version").map((
        q,
      ) => q.user),
    );
    assert.ok(users.has("demo-user-1"));
  });

  test("the Bun single executable: `cached` shares its entry with the CLI run from source", async () => {
    const t = fresh();
    const exe = join(t.dir, "kubeauth");
    const built = await run(
      BUN,
      [repoPath("scripts", "build", "bin.ts"), "--outfile", exe],
      {},
    );
    assert.equal(built.code, 0, built.stderr);
    const plugin = demoPluginExec({
      stateDir: t.state,
      caDir: cluster.dir,
      mode: "token",
    });
    const args = [
      "cached",
      "--cache-dir",
      t.cache,
      "--",
      plugin.command,
      ...plugin.args,
    ];
    const env = { KUBERNETES_EXEC_INFO: EXEC_INFO };
    const a = await run(exe, args, env);
    assert.equal(a.code, 0, a.stderr);
    const b = await kubeauth(args, env);
    assert.equal(b.code, 0, b.stderr);
    const c = await run(exe, args, env);
    assert.equal(c.stdout, a.stdout);
    assert.equal(b.stdout, a.stdout);
    assert.equal(await pluginRuns(t.state), 1);
    rmSync(exe);
  });

  test("library: a second client answers from the cache; a 401 drops the entry", async () => {
    const t = fresh();
    const base = demoPluginExec({
      stateDir: t.state,
      caDir: cluster.dir,
      mode: "token",
      tokenPrefix: "lib-token",
    });
    const kubeconfig = kubeconfigFor(cluster, { exec: base });
    await cluster.setTokens({
      ...demoTokens(),
      "lib-token-1": "lib-user-1",
      "lib-token-2": "lib-user-2",
    });
    const dir = join(t.cache, "kubeauth");
    const first = await createAuthedFetch({
      kubeconfig,
      credentialCache: { dir },
    });
    try {
      assert.equal((await first("/version")).status, 200);
    } finally {
      await first.close();
    }
    const events: AuthedFetchEvent[] = [];
    const second = await createAuthedFetch({
      kubeconfig,
      credentialCache: { dir },
      onEvent: (e) => events.push(e),
    });
    try {
      assert.equal((await second("/version")).status, 200);
      assert.equal(await pluginRuns(t.state), 1);
      assert.ok(
        events.some((e) =>
          e.type === "credential-cache" && e.outcome === "hit"
        ),
      );
    } finally {
      await second.close();
    }
    // Revoke lib-token-1: the stored credential gets a 401, is dropped, and
    // the plugin runs once more.
    await cluster.setTokens({ ...demoTokens(), "lib-token-2": "lib-user-2" });
    const events3: AuthedFetchEvent[] = [];
    const third = await createAuthedFetch({
      kubeconfig,
      credentialCache: { dir },
      onEvent: (e) => events3.push(e),
    });
    try {
      const res = await third("/version");
      assert.equal(res.status, 200);
      await res.body?.cancel();
    } finally {
      await third.close();
    }
    assert.equal(await pluginRuns(t.state), 2);
    assert.ok(
      events3.some((e) =>
        e.type === "credential-cache" && e.outcome === "ignored" &&
        /401/.test(e.reason ?? "")
      ),
      JSON.stringify(events3),
    );
    const files = readdirSync(dir);
    assert.equal(files.length, 1);
    assert.match(readFileSync(join(dir, files[0]), "utf8"), /lib-token-2/);
  });
});
