// The credential cache shared by processes (src/cache/), in process with
// the real runtime adapter and real files: keys, expiry and refresh margin on
// an injected clock, 401 drops, corrupt/truncated/foreign/symlinked/
// wide-permission/foreign-owner entries, unsafe directories, stale locks
// (a dead holder pid; an unreadable lock aged on the clock), atomic writes
// under concurrent writers, permissions, and `kubeconfig wrap`.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { CredentialCache } from "../src/cache/credential_cache.ts";
import { cacheKey } from "../src/cache/key.ts";
import { readEntry, writeEntry } from "../src/cache/entry_file.ts";
import { tryLock, UNREADABLE_LOCK_STALE_MS } from "../src/cache/lock_file.ts";
import {
  type CacheHost,
  cacheHost,
  defaultCacheDir,
} from "../src/cache/directory.ts";
import { wrapKubeconfig } from "../src/cache/kubeconfig_wrap.ts";
import { runCachedPlugin } from "../src/cache/cached_plugin.ts";
import { parseCertificatePem } from "../src/tls/x509.ts";
import type {
  ExecRunCacheEvent,
  ExecRunIdentity,
  ExecRunLoader,
} from "../src/exec/run_cache.ts";
import { getRuntimeAdapter } from "../src/runtime/mod.ts";
import { ExecAuthenticator } from "../src/exec/authenticator.ts";
import type { RuntimeAdapter } from "../src/runtime/types.ts";
import type { KubeauthError } from "../src/errors.ts";
import { makeTempDir } from "./support/harness.ts";
import { createCa, issueCertificate } from "./support/pki.ts";

const HOUR = 3_600_000;
const T0 = Date.parse("2030-01-01T00:00:00Z");

let adapter: RuntimeAdapter;
let host: CacheHost;
let tmp: { path: string; remove(): Promise<void> };
let n = 0;

before(async () => {
  adapter = await getRuntimeAdapter();
  host = cacheHost(adapter)!;
  tmp = await makeTempDir("kubeauth-cache-");
});
after(async () => {
  await tmp?.remove();
});

function freshDir(): string {
  return join(tmp.path, `c${++n}`, "kubeauth");
}

/**
 * An exec stanza running testdata/plugins/cache_slow_plugin.sh with its own
 * state dir (`runs` counts its runs, `exec-info` holds its last
 * KUBERNETES_EXEC_INFO) and a fresh cache dir.
 */
function slowPlugin(interactiveMode: "IfAvailable" | "Always") {
  const state = join(tmp.path, `s${++n}`);
  mkdirSync(state);
  const dir = freshDir();
  const exec = {
    apiVersion: "client.authentication.k8s.io/v1",
    command: join(
      process.cwd(),
      "testdata",
      "plugins",
      "cache_slow_plugin.sh",
    ),
    args: [],
    env: [{ name: "CACHE_TEST_STATE", value: state }],
    interactiveMode,
  };
  return { state, dir, exec };
}

/** The runtime adapter, with stdin a terminal or not. */
function withTerminal(isTerminal: boolean): RuntimeAdapter {
  return { ...adapter, stdinIsTerminal: () => isTerminal };
}

const identity: ExecRunIdentity = {
  command: "/opt/plugins/get-token",
  args: ["--cluster", "prod"],
  env: { AWS_PROFILE: "prod" },
  request: {
    kind: "ExecCredential",
    apiVersion: "client.authentication.k8s.io/v1",
    spec: { interactive: false },
  },
};

/** A loader whose runs answer "token-<run>" valid for `ttlMs` from the clock. */
function counting(clock: { t: number }, ttlMs: number | null = HOUR) {
  const state = { runs: 0 };
  const enc = (s: string) => new TextEncoder().encode(s);
  const loader: ExecRunLoader<string> = {
    run: () => {
      state.runs++;
      const expiresAt = ttlMs === null ? undefined : new Date(clock.t + ttlMs);
      const body = JSON.stringify({
        token: `token-${state.runs}`,
        exp: expiresAt?.toISOString() ?? null,
      });
      return Promise.resolve({
        stdout: enc(body),
        value: `token-${state.runs}`,
        expiresAt,
      });
    },
    decode: (stdout) => {
      const o = JSON.parse(new TextDecoder().decode(stdout));
      if (typeof o.token !== "string") throw new Error("not ours");
      return Promise.resolve({
        value: o.token as string,
        expiresAt: o.exp ? new Date(o.exp) : undefined,
      });
    },
  };
  return { loader, state };
}

function entryPath(dir: string): string {
  return join(
    dir,
    `${
      cacheKey({
        ...identity,
        command: host.resolveCommandPath(identity.command, identity.env) ??
          identity.command,
      })
    }.json`,
  );
}

function events() {
  const list: ExecRunCacheEvent[] = [];
  return { list, onEvent: (e: ExecRunCacheEvent) => void list.push(e) };
}

describe("credential cache", { timeout: 60_000 }, () => {
  test("key: every input counts except volatile env; file names reveal nothing", () => {
    const k = cacheKey(identity);
    assert.match(k, /^[0-9a-f]{64}$/);
    const variants: ExecRunIdentity[] = [
      { ...identity, command: "/opt/other" },
      { ...identity, args: ["--cluster", "dev"] },
      { ...identity, env: { AWS_PROFILE: "dev" } },
      {
        ...identity,
        request: { ...identity.request as object, apiVersion: "x/v1beta1" },
      },
      {
        ...identity,
        request: {
          kind: "ExecCredential",
          apiVersion: "client.authentication.k8s.io/v1",
          spec: { cluster: { server: "https://a" }, interactive: false },
        },
      },
    ];
    for (const v of variants) assert.notEqual(cacheKey(v), k);
    // Neither interactivity nor a v1alpha1 401 response nor the shell's
    // volatile variables change what the plugin returns.
    assert.equal(
      cacheKey({
        ...identity,
        env: {
          ...identity.env,
          PWD: "/x",
          SHLVL: "3",
          npm_lifecycle_event: "t",
        },
        request: {
          kind: "ExecCredential",
          apiVersion: "client.authentication.k8s.io/v1",
          spec: { interactive: true, response: { code: 401 } },
        },
      }),
      k,
    );
  });

  test("default directory: $KUBECACHEDIR/kubeauth, else ~/.kube/cache/kubeauth", () => {
    const env: Record<string, string> = {};
    const a = { getEnv: (k: string) => env[k], homeDir: () => "/home/u" };
    assert.equal(defaultCacheDir(a), "/home/u/.kube/cache/kubeauth");
    env.KUBECACHEDIR = "/var/kc";
    assert.equal(defaultCacheDir(a), "/var/kc/kubeauth");
    assert.equal(
      defaultCacheDir({ getEnv: () => undefined, homeDir: () => undefined }),
      undefined,
    );
  });

  test("stores, answers from disk in another instance, respects the refresh margin", async () => {
    const dir = freshDir();
    const clock = { t: T0 };
    const { loader, state } = counting(clock);
    const ev = events();
    const a = new CredentialCache({ adapter, dir, now: () => clock.t });
    const first = await a.obtain(identity, loader, ev);
    assert.equal(first.cached, false);
    assert.equal(first.value, "token-1");
    assert.deepEqual(ev.list, [{ outcome: "stored" }]);
    // Another instance (as another process would): a hit, no run.
    const b = new CredentialCache({ adapter, dir, now: () => clock.t });
    const second = await b.obtain(identity, loader);
    assert.equal(second.cached, true);
    assert.equal(second.value, "token-1");
    assert.equal(state.runs, 1);
    // Lifetime 1 h: margin min(60 s, 10 %) = 60 s.
    clock.t = T0 + HOUR - 60_001;
    assert.equal((await b.obtain(identity, loader)).cached, true);
    clock.t = T0 + HOUR - 60_000;
    const third = await b.obtain(identity, loader);
    assert.equal(third.cached, false);
    assert.equal(third.value, "token-2");
    assert.equal(state.runs, 2);
  });

  test("short lifetimes: margin is 10 % of the lifetime; no expiry or too short: not stored", async () => {
    const dir = freshDir();
    const clock = { t: T0 };
    const short = counting(clock, 100_000);
    const cache = new CredentialCache({ adapter, dir, now: () => clock.t });
    await cache.obtain(identity, short.loader);
    clock.t = T0 + 89_999;
    assert.equal((await cache.obtain(identity, short.loader)).cached, true);
    clock.t = T0 + 90_000;
    assert.equal((await cache.obtain(identity, short.loader)).cached, false);
    assert.equal(short.state.runs, 2);

    const dir2 = freshDir();
    const none = counting(clock, null);
    const ev = events();
    const c2 = new CredentialCache({ adapter, dir: dir2, now: () => clock.t });
    await c2.obtain(identity, none.loader, ev);
    await c2.obtain(identity, none.loader, ev);
    assert.equal(none.state.runs, 2);
    assert.equal(ev.list[0].outcome, "not-stored");
    assert.match(ev.list[0].reason!, /no expiry/);
    assert.deepEqual(readdirSync(dir2), []);
    const past = counting(clock, -1000);
    const ev3 = events();
    await c2.obtain(identity, past.loader, ev3);
    assert.match(ev3.list[0].reason!, /expires too soon/);
    assert.deepEqual(readdirSync(dir2), []);
  });

  test("a 401 drops the entry; a newer entry from another process is used", async () => {
    const dir = freshDir();
    const clock = { t: T0 };
    const { loader, state } = counting(clock);
    const cache = new CredentialCache({ adapter, dir, now: () => clock.t });
    const first = await cache.obtain(identity, loader);
    const ev = events();
    const after401 = await cache.obtain(identity, loader, {
      rejected: first.stdout,
      ...ev,
    });
    assert.equal(after401.cached, false);
    assert.equal(after401.value, "token-2");
    assert.equal(state.runs, 2);
    assert.match(ev.list[0].reason!, /401/);
    // A process still holding token-1 gets a 401: the entry (token-2) is
    // newer, so it is used without a run.
    const other = await cache.obtain(identity, loader, {
      rejected: first.stdout,
    });
    assert.equal(other.cached, true);
    assert.equal(other.value, "token-2");
    assert.equal(state.runs, 2);
  });

  test("corrupt, truncated, foreign, undecodable entries: ignored with a reason, replaced", async () => {
    const clock = { t: T0 };
    const cases: [string, (path: string, good: string) => void, RegExp][] = [
      [
        "corrupt",
        (p) => writeFileSync(p, "\u0000\u0001garbage", { mode: 0o600 }),
        /corrupt/,
      ],
      [
        "truncated",
        (p, good) =>
          writeFileSync(p, good.slice(0, good.length / 2), { mode: 0o600 }),
        /truncated/,
      ],
      [
        "foreign format",
        (p) => writeFileSync(p, JSON.stringify({ hello: 1 }), { mode: 0o600 }),
        /foreign/,
      ],
      [
        "another key",
        (p, good) =>
          writeFileSync(
            p,
            good.replace(/"key":"[0-9a-f]+"/, `"key":"${"0".repeat(64)}"`),
            { mode: 0o600 },
          ),
        /another key/,
      ],
      [
        "undecodable",
        (p, good) =>
          writeFileSync(p, good.replace(/\\"token\\"/, '\\"nottoken\\"'), {
            mode: 0o600,
          }),
        /not a valid ExecCredential/,
      ],
      ["empty", (p) => writeFileSync(p, "", { mode: 0o600 }), /truncated/],
    ];
    for (const [name, damage, reason] of cases) {
      const dir = freshDir();
      const { loader, state } = counting(clock);
      const cache = new CredentialCache({ adapter, dir, now: () => clock.t });
      await cache.obtain(identity, loader);
      const path = entryPath(dir);
      damage(path, readFileSync(path, "utf8"));
      const ev = events();
      const got = await cache.obtain(identity, loader, ev);
      assert.equal(got.cached, false, name);
      assert.equal(state.runs, 2, name);
      assert.equal(ev.list[0].outcome, "ignored", name);
      assert.match(ev.list[0].reason!, reason, name);
      assert.equal(ev.list[1].outcome, "stored", name);
      assert.equal((await cache.obtain(identity, loader)).cached, true, name);
    }
  });

  test("a symlink where the entry should be is never followed; wide modes and other owners are refused", async () => {
    const clock = { t: T0 };
    // Symlink to a good-looking entry elsewhere.
    const dir = freshDir();
    const { loader, state } = counting(clock);
    const cache = new CredentialCache({ adapter, dir, now: () => clock.t });
    await cache.obtain(identity, loader);
    const path = entryPath(dir);
    const elsewhere = join(tmp.path, `target-${n}.json`);
    writeFileSync(elsewhere, readFileSync(path), { mode: 0o600 });
    const targetBefore = readFileSync(elsewhere, "utf8");
    spawnSync("rm", [path]);
    symlinkSync(elsewhere, path);
    const ev = events();
    const got = await cache.obtain(identity, loader, ev);
    assert.equal(got.cached, false);
    assert.match(ev.list[0].reason!, /symlink/);
    assert.equal(lstatSync(path).isSymbolicLink(), false);
    assert.equal(
      readFileSync(elsewhere, "utf8"),
      targetBefore,
      "target untouched",
    );
    assert.equal(state.runs, 2);

    // Mode wider than 0600.
    chmodSync(path, 0o644);
    const ev2 = events();
    assert.equal((await cache.obtain(identity, loader, ev2)).cached, false);
    assert.match(ev2.list[0].reason!, /mode 0644 is wider than 0600/);
    assert.equal(lstatSync(path).mode & 0o777, 0o600);

    // Owned by another user (only root can arrange that).
    if (process.getuid?.() === 0) {
      chownSync(path, 4242, 4242);
      const ev3 = events();
      assert.equal((await cache.obtain(identity, loader, ev3)).cached, false);
      assert.match(ev3.list[0].reason!, /owned by user 4242/);
      assert.equal(lstatSync(path).uid, 0);
    }
  });

  test("unsafe directories are refused (plugin runs uncached, an event says why)", async () => {
    const clock = { t: T0 };
    const setups: [string, (dir: string) => void, RegExp][] = [
      ["writable by others", (d) => {
        mkdirSync(d, { recursive: true });
        chmodSync(d, 0o777);
      }, /writable by others \(mode 0777\)/],
      ["symlink", (d) => {
        const real = `${d}-real`;
        mkdirSync(real, { recursive: true, mode: 0o700 });
        symlinkSync(real, d);
      }, /is a symlink/],
      ["a file", (d) => {
        mkdirSync(join(d, ".."), { recursive: true });
        writeFileSync(d, "x");
      }, /not a directory/],
    ];
    if (process.getuid?.() === 0) {
      setups.push(["owned by another user", (d) => {
        mkdirSync(d, { recursive: true, mode: 0o700 });
        chownSync(d, 4242, 4242);
      }, /owned by user 4242/]);
    }
    for (const [name, setup, reason] of setups) {
      const dir = freshDir();
      setup(dir);
      const { loader, state } = counting(clock);
      const cache = new CredentialCache({ adapter, dir, now: () => clock.t });
      const ev = events();
      await cache.obtain(identity, loader, ev);
      await cache.obtain(identity, loader, ev);
      assert.equal(state.runs, 2, name);
      assert.equal(ev.list[0].outcome, "refused", name);
      assert.match(ev.list[0].reason!, reason, name);
    }
  });

  test("permissions: directory 0700 (tightened from 0755), files 0600, no temp files left", async () => {
    const clock = { t: T0 };
    const dir = freshDir();
    const { loader } = counting(clock);
    const cache = new CredentialCache({ adapter, dir, now: () => clock.t });
    const old = process.umask(0);
    try {
      await cache.obtain(identity, loader);
    } finally {
      process.umask(old);
    }
    assert.equal(lstatSync(dir).mode & 0o777, 0o700);
    const files = readdirSync(dir);
    assert.equal(files.length, 1);
    assert.match(files[0], /^[0-9a-f]{64}\.json$/);
    assert.equal(lstatSync(join(dir, files[0])).mode & 0o777, 0o600);
    const dir2 = freshDir();
    mkdirSync(dir2, { recursive: true, mode: 0o755 });
    chmodSync(dir2, 0o755);
    await new CredentialCache({ adapter, dir: dir2, now: () => clock.t })
      .obtain(identity, loader);
    assert.equal(lstatSync(dir2).mode & 0o777, 0o700);
  });

  test("concurrent writers never leave a torn file", async () => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const key = "ab".repeat(32);
    const path = join(dir, `${key}.json`);
    const big = (i: number) =>
      new TextEncoder().encode(
        JSON.stringify({ i, pad: "x".repeat(200_000 + i) }),
      );
    const writes = Array.from(
      { length: 24 },
      (_, i) =>
        writeEntry(host, dir, key, {
          stdout: big(i),
          obtainedAt: T0,
          expiresAt: T0 + HOUR,
        }),
    );
    let reads = 0;
    let done = false;
    const all = Promise.all(writes).then(() => (done = true));
    while (!done || reads === 0) {
      const r = await readEntry(host, path, key);
      if (r.kind === "ignored") assert.fail(`torn entry: ${r.reason}`);
      if (r.kind === "entry") {
        const o = JSON.parse(new TextDecoder().decode(r.entry.stdout));
        assert.equal(o.pad.length, 200_000 + o.i);
      }
      reads++;
      if (reads > 10_000) break;
    }
    await all;
    assert.equal((await readEntry(host, path, key)).kind, "entry");
    assert.deepEqual(readdirSync(dir), [`${key}.json`]);
  });

  test("a lock whose holder died is recovered at once", async () => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const child = spawnSync(process.execPath, ["--version"]);
    assert.equal(child.status, 0);
    const deadPid = child.pid!;
    assert.equal(host.processAlive(deadPid), false);
    const clock = { t: T0 };
    const { loader, state } = counting(clock);
    const key = cacheKey({
      ...identity,
      command: host.resolveCommandPath(identity.command, identity.env) ??
        identity.command,
    });
    writeFileSync(
      join(dir, `${key}.lock`),
      JSON.stringify({ pid: deadPid, nonce: "dead" }),
      { mode: 0o600 },
    );
    const ev = events();
    const cache = new CredentialCache({ adapter, dir, now: () => clock.t });
    const got = await cache.obtain(identity, loader, ev);
    assert.equal(got.value, "token-1");
    assert.equal(state.runs, 1);
    assert.deepEqual(ev.list.map((e) => e.outcome), [
      "lock-recovered",
      "stored",
    ]);
    assert.match(ev.list[0].reason!, new RegExp(`pid ${deadPid}`));
    assert.equal(existsSync(join(dir, `${key}.lock`)), false);
  });

  test("a lock held by a live process waits; an unreadable lock is stale only after its age", async () => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const lock = join(dir, "k.lock");
    const mine = await tryLock(host, lock, Date.now);
    assert.equal(mine.kind, "acquired");
    const other = await tryLock(host, lock, Date.now);
    assert.deepEqual(other, { kind: "held", pid: process.pid });
    if (mine.kind === "acquired") await mine.lock.release();
    assert.equal(existsSync(lock), false);
    // A creator that died between create and write leaves an empty file.
    writeFileSync(lock, "", { mode: 0o600 });
    const mtime = lstatSync(lock).mtimeMs;
    const young = await tryLock(host, lock, () => mtime + 10);
    assert.equal(young.kind, "held");
    const old = await tryLock(
      host,
      lock,
      () => mtime + UNREADABLE_LOCK_STALE_MS + 1,
    );
    assert.equal(old.kind, "recovered");
    const again = await tryLock(host, lock, Date.now);
    assert.equal(again.kind, "acquired");
    if (again.kind === "acquired") await again.lock.release();
  });

  test("a lock that cannot be removed (a directory): the plugin runs uncached, an event says why", async () => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const key = cacheKey({
      ...identity,
      command: host.resolveCommandPath(identity.command, identity.env) ??
        identity.command,
    });
    mkdirSync(join(dir, `${key}.lock`));
    writeFileSync(join(dir, `${key}.lock`, "x"), "");
    const clock = { t: T0 };
    const { loader, state } = counting(clock);
    const ev = events();
    const cache = new CredentialCache({
      adapter,
      dir,
      now: () => clock.t,
      pollMinMs: 1,
      pollMaxMs: 1,
    });
    const got = await cache.obtain(identity, loader, ev);
    assert.equal(got.value, "token-1");
    assert.equal(state.runs, 1);
    const last = ev.list.at(-1)!;
    assert.equal(last.outcome, "refused");
    assert.match(last.reason!, /cannot take the lock/);
  });

  test("waiting for another holder: the holder's entry is used, no second run", async () => {
    const dir = freshDir();
    const clock = { t: T0 };
    const { loader, state } = counting(clock);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inRun = new Promise<void>((r) => (entered = r));
    const slow: ExecRunLoader<string> = {
      run: async () => {
        entered();
        await gate;
        return loader.run();
      },
      decode: loader.decode,
    };
    const a = new CredentialCache({
      adapter,
      dir,
      now: () => clock.t,
      pollMinMs: 1,
      pollMaxMs: 5,
    });
    const b = new CredentialCache({
      adapter,
      dir,
      now: () => clock.t,
      pollMinMs: 1,
      pollMaxMs: 5,
    });
    const first = a.obtain(identity, slow);
    await inRun;
    const second = b.obtain(identity, slow);
    release();
    const [x, y] = await Promise.all([first, second]);
    assert.equal(state.runs, 1);
    assert.equal(x.cached, false);
    assert.equal(y.cached, true);
    assert.equal(y.value, "token-1");
    // An aborted wait rejects with the signal's reason.
    const lockHeld = await tryLock(
      host,
      join(
        dir,
        `${
          cacheKey({
            ...identity,
            command: host.resolveCommandPath(identity.command, identity.env) ??
              identity.command,
          })
        }.lock`,
      ),
      Date.now,
    );
    clock.t = T0 + HOUR; // entry stale: must wait for the lock
    const ac = new AbortController();
    const waiting = b.obtain(identity, loader, { signal: ac.signal });
    ac.abort(new Error("stop"));
    await assert.rejects(waiting, /stop/);
    if (lockHeld.kind === "acquired") await lockHeld.lock.release();
  });

  test("exec authenticator: an interactive run is stored; a new authenticator (non-interactive) uses it", async () => {
    const { state, dir, exec } = slowPlugin("IfAvailable");
    const terminal = withTerminal(true);
    const first = new ExecAuthenticator(exec, undefined, {
      adapter: terminal,
      cache: new CredentialCache({ adapter: terminal, dir }),
    });
    const a = await first.get();
    await first.close();
    assert.equal(
      JSON.parse(readFileSync(join(state, "exec-info"), "utf8")).spec
        .interactive,
      true,
    );
    const seen: string[] = [];
    const second = new ExecAuthenticator(exec, undefined, {
      adapter,
      cache: new CredentialCache({ adapter, dir }),
      onEvent: (e) =>
        seen.push(e.type === "credential-cache" ? e.outcome : e.type),
    });
    const b = await second.get();
    await second.close();
    assert.equal(b.token, a.token);
    assert.match(a.token!, /^slow-token-/);
    assert.equal(readFileSync(join(state, "runs"), "utf8"), "run\n");
    assert.ok(seen.includes("hit"), seen.join(","));
    assert.ok(!seen.includes("plugin-run"), seen.join(","));
  });

  test("exec authenticator, interactiveMode Always: a stored credential serves a command without a terminal; an empty cache refuses before any run, with no backoff", async () => {
    const { state, dir, exec } = slowPlugin("Always");
    const noTerminal = withTerminal(false);
    const empty = new ExecAuthenticator(exec, undefined, {
      adapter: noTerminal,
      cache: new CredentialCache({ adapter: noTerminal, dir }),
    });
    for (let i = 0; i < 2; i++) {
      await assert.rejects(empty.get(), (err: KubeauthError) => {
        assert.equal(err.code, "EXEC_INTERACTIVE_UNAVAILABLE");
        assert.equal(
          err.message,
          "exec plugin cannot support interactive mode: standard input is not a terminal",
        );
        return true;
      });
    }
    await empty.close();
    assert.equal(existsSync(join(state, "runs")), false);
    const terminal = withTerminal(true);
    const login = new ExecAuthenticator(exec, undefined, {
      adapter: terminal,
      cache: new CredentialCache({ adapter: terminal, dir }),
    });
    const a = await login.get();
    await login.close();
    const script = new ExecAuthenticator(exec, undefined, {
      adapter: noTerminal,
      cache: new CredentialCache({ adapter: noTerminal, dir }),
    });
    const b = await script.get();
    await script.close();
    assert.equal(b.token, a.token);
    assert.equal(readFileSync(join(state, "runs"), "utf8"), "run\n");
  });

  test("kubeauth cached: a certificate answer is stored until its NotAfter; a key that does not match is passed on, never stored", async () => {
    const info = JSON.stringify({
      kind: "ExecCredential",
      apiVersion: "client.authentication.k8s.io/v1",
      spec: { interactive: false },
    });
    const withInfo: RuntimeAdapter = {
      ...adapter,
      getEnv: (name) =>
        name === "KUBERNETES_EXEC_INFO" ? info : adapter.getEnv(name),
      env: () => ({ ...adapter.env(), KUBERNETES_EXEC_INFO: info }),
    };
    const ca = await createCa();
    const a = await issueCertificate(ca, { commonName: "a", usage: "client" });
    const b = await issueCertificate(ca, { commonName: "b", usage: "client" });
    const credential = (certPem: string, keyPem: string) => {
      const file = join(tmp.path, `cred${++n}.json`);
      writeFileSync(
        file,
        JSON.stringify({
          apiVersion: "client.authentication.k8s.io/v1",
          kind: "ExecCredential",
          status: { clientCertificateData: certPem, clientKeyData: keyPem },
        }),
      );
      return file;
    };
    const cached = (file: string, cacheDir: string) =>
      runCachedPlugin({
        adapter: withInfo,
        command: "cat",
        args: [file],
        cacheDir,
      });

    const good = credential(a.certPem, a.keyPem);
    const dir = freshDir();
    const first = await cached(good, dir);
    const second = await cached(good, dir);
    assert.deepEqual([first.cached, second.cached], [false, true]);
    assert.equal(
      new TextDecoder().decode(second.stdout),
      readFileSync(good, "utf8"),
    );
    const [name] = readdirSync(dir).filter((f) => f.endsWith(".json"));
    const read = await readEntry(host, join(dir, name), name.slice(0, -5));
    assert.equal(read.kind, "entry");
    const notAfter = parseCertificatePem(a.certPem)[0].notAfter.getTime();
    assert.equal(read.kind === "entry" && read.entry.expiresAt, notAfter);

    // b's key with a's certificate: kubectl gets the plugin's answer (and
    // its own error from it); the cache keeps nothing.
    const broken = credential(a.certPem, b.keyPem);
    const dir2 = freshDir();
    const runs = [await cached(broken, dir2), await cached(broken, dir2)];
    assert.deepEqual(runs.map((r) => r.cached), [false, false]);
    assert.equal(
      new TextDecoder().decode(runs[1].stdout),
      readFileSync(broken, "utf8"),
    );
    assert.deepEqual(readdirSync(dir2).filter((f) => f.endsWith(".json")), []);
  });

  test("kubeconfig wrap: exec users go through kubeauth cached, relative commands made absolute", () => {
    const text = [
      "apiVersion: v1",
      "kind: Config",
      "users:",
      "- name: a",
      "  user:",
      "    exec:",
      "      apiVersion: client.authentication.k8s.io/v1",
      "      command: aws",
      "      args: [eks, get-token, --cluster-name, prod]",
      "      env: [{name: AWS_PROFILE, value: prod}]",
      "      interactiveMode: Never",
      "- name: b",
      "  user:",
      "    exec:",
      "      apiVersion: client.authentication.k8s.io/v1",
      "      command: ./bin/tok",
      "      provideClusterInfo: true",
      "- name: c",
      "  user: {token: abc}",
      "",
    ].join("\n");
    const out = wrapKubeconfig(text, {
      path: "/home/me/.kube/config",
      flavor: "posix",
      cacheDir: "/tmp/kc",
    });
    assert.match(out, /command: kubeauth/);
    const wrapped = wrapKubeconfig(out, {
      path: "/home/me/.kube/config",
      flavor: "posix",
    });
    assert.equal(wrapped, out, "wrapping twice changes nothing");
    assert.ok(
      out.includes(
        "- cached\n          - '--cache-dir'\n          - /tmp/kc\n          - '--'\n          - aws\n          - eks",
      ),
      out,
    );
    assert.ok(out.includes("- /home/me/.kube/bin/tok"), out);
    assert.ok(out.includes("provideClusterInfo: true"), out);
    assert.ok(out.includes("token: abc"), out);
    assert.ok(out.includes("AWS_PROFILE"), out);
  });
});
