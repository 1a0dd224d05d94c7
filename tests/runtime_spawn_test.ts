import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { assertAllGone, processAlive } from "./support/process.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { getRuntimeAdapter, SpawnError } from "../src/runtime/mod.ts";
import { runProbe } from "./support/runtime_probe.ts";
import type { ChildProcess, SpawnOptions } from "../src/runtime/mod.ts";

const root = process.cwd();
const fixture = (name: string) => join(root, "testdata", "spawn", name);
const PATH = process.env.PATH ?? "/usr/bin:/bin";

async function start(
  command: string,
  args: string[] = [],
  extra: Partial<SpawnOptions> = {},
): Promise<ChildProcess> {
  const adapter = await getRuntimeAdapter();
  return adapter.spawn({
    command,
    args,
    env: { PATH },
    stdin: "null",
    stderr: "piped",
    ...extra,
  });
}

async function readAll(
  stream: ReadableStream<Uint8Array>,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    chunks.push(chunk);
    size += chunk.byteLength;
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

async function run(
  command: string,
  args: string[] = [],
  extra: Partial<SpawnOptions> = {},
) {
  const child = await start(command, args, extra);
  const [stdout, stderr, status] = await Promise.all([
    readAll(child.stdout),
    child.stderr === null ? Promise.resolve(null) : readAll(child.stderr),
    child.status,
  ]);
  const text = new TextDecoder();
  return {
    stdout: text.decode(stdout),
    stdoutBytes: stdout,
    stderr: stderr === null ? null : text.decode(stderr),
    status,
  };
}

async function spawnError(promise: Promise<unknown>): Promise<SpawnError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof SpawnError, `expected SpawnError, got ${err}`);
    return err;
  }
  assert.fail("spawn resolved, expected a SpawnError");
}

/** True once `pid` is gone or a zombie (dead, waiting for a reaper). */
const isDead = (pid: number): boolean => !processAlive(pid);

test("spawn() reports exit codes 0 and 73", async () => {
  assert.deepEqual((await run(fixture("exit_code.sh"), ["0"])).status, {
    code: 0,
    signal: null,
  });
  assert.deepEqual((await run(fixture("exit_code.sh"), ["73"])).status, {
    code: 73,
    signal: null,
  });
});

test("spawn() reports death by signal with the signal's name", async () => {
  for (const sig of ["TERM", "KILL"]) {
    const { status } = await run(fixture("self_signal.sh"), [sig]);
    assert.deepEqual(status, { code: null, signal: `SIG${sig}` });
  }
});

test("spawn() passes stdout bytes 0..255 intact", async () => {
  const { stdoutBytes } = await run(fixture("bytes.sh"));
  assert.equal(stdoutBytes.byteLength, 256);
  for (let i = 0; i < 256; i++) assert.equal(stdoutBytes[i], i);
});

test(
  "spawn() streams 21 MB of stdout intact",
  { timeout: 60_000 },
  async () => {
    const n = 2_800_000;
    const child = await start(fixture("large.sh"), [String(n)]);
    const hash = createHash("sha256");
    let size = 0;
    for await (const chunk of child.stdout) {
      hash.update(chunk);
      size += chunk.byteLength;
    }
    assert.deepEqual(await child.status, { code: 0, signal: null });
    const expected = createHash("sha256");
    let lines: string[] = [];
    let expectedSize = 0;
    for (let i = 1; i <= n; i++) {
      lines.push(String(i));
      if (lines.length === 10_000 || i === n) {
        const block = lines.join("\n") + "\n";
        expected.update(block);
        expectedSize += block.length;
        lines = [];
      }
    }
    assert.equal(size, expectedSize);
    assert.equal(hash.digest("hex"), expected.digest("hex"));
  },
);

test("spawn() pipes stderr when asked", async () => {
  const r = await run(fixture("stderr.sh"));
  assert.equal(r.stdout, "out");
  assert.equal(r.stderr, "err");
  assert.deepEqual(r.status, { code: 3, signal: null });
});

test("spawn() with stderr inherit gives no stderr stream", async () => {
  const child = await start(fixture("exit_code.sh"), ["0"], {
    stderr: "inherit",
  });
  assert.equal(child.stderr, null);
  await readAll(child.stdout);
  assert.deepEqual(await child.status, { code: 0, signal: null });
});

test("spawn() gives the child exactly the env given", async () => {
  // A bare name: looked up on the PATH of the given env.
  const r = await run("env", [], {
    env: { PATH, KUBEAUTH_A: "1", KUBEAUTH_B: "two words=x" },
  });
  const vars = r.stdout.trim().split("\n").sort();
  assert.deepEqual(vars, [
    "KUBEAUTH_A=1",
    "KUBEAUTH_B=two words=x",
    `PATH=${PATH}`,
  ]);
});

test("spawn() looks a bare name up on the PATH of the given env", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kubeauth-path-"));
  try {
    const script = join(dir, "kubeauth-probe-cmd");
    writeFileSync(script, "#!/bin/sh\necho found-in-env-path\n", {
      mode: 0o755,
    });
    const r = await run("kubeauth-probe-cmd", [], {
      env: { PATH: `${dir}:${PATH}` },
    });
    assert.equal(r.stdout, "found-in-env-path\n");
    // Not on the PATH given: not found, even though the parent could see it.
    const err = await spawnError(
      start("kubeauth-probe-cmd", [], { env: { PATH: "/nonexistent" } }),
    );
    assert.equal(err.reason, "not-found");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("spawn() honours cwd", async () => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), "kubeauth-cwd-")));
  try {
    const r = await run("sh", ["-c", "pwd -P"], { cwd: dir });
    assert.equal(r.stdout, dir + "\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("spawn() passes args verbatim (no shell)", async () => {
  const args = ["a b", "$HOME", "'q'", "*", ""];
  const r = await run("sh", [
    "-c",
    'for a in "$@"; do printf "[%s]" "$a"; done',
    "sh",
    ...args,
  ]);
  assert.equal(r.stdout, "[a b][$HOME]['q'][*][]");
});

test("spawn() with stdin null gives the child EOF at once", async () => {
  const r = await run("cat");
  assert.equal(r.stdout, "");
  assert.deepEqual(r.status, { code: 0, signal: null });
});

test("spawn() rejects with not-found for a bare name not on PATH", async () => {
  const err = await spawnError(start("kubeauth-no-such-command-xyz"));
  assert.equal(err.reason, "not-found");
  assert.equal(err.command, "kubeauth-no-such-command-xyz");
});

test("spawn() rejects with not-found for a path that does not exist", async () => {
  const err = await spawnError(start("/nonexistent/dir/kubeauth-plugin"));
  assert.equal(err.reason, "not-found");
});

test("spawn() rejects with permission-denied for a non-executable file", async () => {
  const err = await spawnError(start(fixture("not_executable.sh")));
  assert.equal(err.reason, "permission-denied");
});

test("kill() kills the child and its grandchild holding stdout", {
  timeout: 30_000,
}, async () => {
  const child = await start(fixture("grandchild.sh"));
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    assert.ok(!done, "stdout ended before the grandchild pid");
    text += new TextDecoder().decode(value);
  }
  const grandchild = Number(text.trim());
  assert.ok(grandchild > 0);
  assert.ok(!isDead(grandchild));
  child.kill("SIGKILL");
  // stdout ends only once the grandchild (which holds it) has died.
  while (!(await reader.read()).done);
  assert.deepEqual(await child.status, { code: null, signal: "SIGKILL" });
  // Its stdout closes a moment before the kernel marks it dead: poll (bounded).
  await assertAllGone([grandchild], `grandchild ${grandchild}`);
});

test(
  "kill() with the default signal sends SIGTERM",
  { timeout: 30_000 },
  async () => {
    const child = await start(fixture("sleep.sh"));
    const reader = child.stdout.getReader();
    await reader.read(); // "ready"
    child.kill();
    while (!(await reader.read()).done);
    assert.deepEqual(await child.status, { code: null, signal: "SIGTERM" });
  },
);

test("kill() after exit does nothing", async () => {
  const child = await start(fixture("exit_code.sh"), ["0"]);
  await readAll(child.stdout);
  await child.status;
  child.kill("SIGKILL");
  assert.deepEqual(await child.status, { code: 0, signal: null });
});

test("spawn() signal: aborting kills the process group with SIGKILL", {
  timeout: 30_000,
}, async () => {
  const controller = new AbortController();
  const child = await start(fixture("grandchild.sh"), [], {
    signal: controller.signal,
  });
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  const grandchild = Number(new TextDecoder().decode(value).trim());
  controller.abort();
  while (!(await reader.read()).done);
  assert.deepEqual(await child.status, { code: null, signal: "SIGKILL" });
  await assertAllGone([grandchild], `grandchild ${grandchild}`);
});

test("spawn() with an already aborted signal kills at once", {
  timeout: 30_000,
}, async () => {
  const child = await start(fixture("sleep.sh"), [], {
    signal: AbortSignal.abort(),
  });
  await readAll(child.stdout);
  assert.deepEqual(await child.status, { code: null, signal: "SIGKILL" });
});

test(
  "a child whose stdout is cancelled is still reaped",
  { timeout: 30_000 },
  async () => {
    const child = await start(fixture("large.sh"), ["2800000"]);
    const reader = child.stdout.getReader();
    await reader.read();
    await reader.cancel();
    const status = await child.status;
    // The writer dies of SIGPIPE (or reports the write error and exits).
    assert.ok(
      status.signal === "SIGPIPE" ||
        (status.code !== null && status.code !== 0),
      JSON.stringify(status),
    );
  },
);

test(
  "an un-awaited child does not keep the runtime alive",
  { timeout: 60_000 },
  async () => {
    // A runtime that waited for its children would wait for the killed
    // child's grandchild (`sleep 300`, holding the pipe): the test's own
    // timeout catches that, no clock needed here.
    const r = await runProbe("testdata/spawn/unawaited_probe.ts");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /started \d+ \d+ \d+/);
  },
);
