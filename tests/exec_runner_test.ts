// runExecPlugin with real plugin processes (testdata/plugins/*.sh): exit
// codes, signals, not found, permission denied, timeouts that kill the whole
// process group, bounded stdout and stderr, grandchildren holding stdout,
// cancellation.
//
// kubectl v1.32 for comparison (same plugins, `kubectl get --raw /version`):
//   exit 73  → getting credentials: exec: executable /tmp/kx/plugin.sh failed with exit code 73
//              (the plugin's stderr went to the terminal, twice: kubectl retried)
//   SIGKILL  → getting credentials: exec: executable /tmp/kx/sig.sh failed with exit code -1
//   bare name not on PATH → exec: executable does-not-exist not found + the
//              "It looks like you are trying to use a client-go credential plugin…" paragraph
//              + the install hint with ESC shown as U+001B
//   missing explicit path → exec: fork/exec /tmp/kx/nothere.sh: no such file or directory
//   not executable        → exec: fork/exec /tmp/kx/kc.yaml: permission denied
//   a hanging plugin      → kubectl hangs forever (client-go has no timeout)
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
} from "node:fs";
import { assertAllGone } from "./support/process.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Buffer } from "node:buffer";
import process from "node:process";
import { ExecPluginError } from "../src/errors.ts";
import { INSTALL_HINT_HELP, runExecPlugin } from "../src/exec/runner.ts";
import type { RunExecPluginOptions } from "../src/exec/runner.ts";
import { getRuntimeAdapter } from "../src/runtime/mod.ts";
import type { ChildProcess, RuntimeAdapter } from "../src/runtime/types.ts";

const root = process.cwd();
const PLUGIN = join(root, "testdata", "plugins", "test_plugin.sh");
const MISBEHAVE = join(root, "testdata", "plugins", "misbehave.sh");
const NOT_EXECUTABLE = join(root, "testdata", "plugins", "not_executable.sh");
const PATH = process.env.PATH ?? "/usr/bin:/bin";
let dir = "";
let real: RuntimeAdapter;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "kubeauth-runner-"));
  real = await getRuntimeAdapter();
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** An adapter that records what passes through stderr and every child. */
function recording(): {
  adapter: RuntimeAdapter;
  stderr: Uint8Array[];
  children: ChildProcess[];
  stdoutBytes: () => number;
} {
  const stderr: Uint8Array[] = [];
  const children: ChildProcess[] = [];
  let stdoutBytes = 0;
  const adapter: RuntimeAdapter = {
    ...real,
    writeStderr: (chunk) => {
      stderr.push(chunk.slice());
    },
    spawn: async (o) => {
      const child = await real.spawn(o);
      children.push(child);
      // Count what the runner actually pulls from stdout.
      const counted = child.stdout.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            stdoutBytes += chunk.byteLength;
            controller.enqueue(chunk);
          },
        }),
        { preventCancel: false },
      );
      return {
        pid: child.pid,
        stdout: counted,
        stderr: child.stderr,
        status: child.status,
        kill: (s) => child.kill(s),
      };
    },
  };
  return { adapter, stderr, children, stdoutBytes: () => stdoutBytes };
}

function run(
  over: Partial<RunExecPluginOptions> & { env?: Record<string, string> },
) {
  return runExecPlugin({
    adapter: real,
    command: PLUGIN,
    args: [],
    interactive: false,
    timeoutMs: 20_000,
    ...over,
    env: { PATH, ...over.env },
  });
}

async function rejectsPlugin(
  p: Promise<unknown>,
  code: string,
  text: string,
): Promise<ExecPluginError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(
    caught instanceof ExecPluginError,
    `not an ExecPluginError: ${caught}`,
  );
  assert.equal(caught.code, code, caught.message);
  assert.ok(
    caught.message.includes(text),
    `${caught.message}\n  lacks: ${text}`,
  );
  return caught;
}

/** SIGKILL is delivered asynchronously: poll (bounded) until the pid is gone. */
const assertGone = (pid: number) => assertAllGone([pid]);

function readPid(file: string): number {
  assert.ok(existsSync(file), `${file} was not written`);
  return Number(readFileSync(file, "utf8").trim());
}

test(
  "a plugin's stdout is returned; its stderr passes through and its tail is kept",
  { timeout: 30_000 },
  async () => {
    const rec = recording();
    const r = await run({
      adapter: rec.adapter,
      env: { TEST_OUTPUT: "hello", TEST_STDERR: "a log line" },
    });
    assert.equal(new TextDecoder().decode(r.stdout), "hello");
    assert.equal(r.exitCode, 0);
    assert.equal(r.stderrTail, "a log line\n");
    assert.equal(
      new TextDecoder().decode(Buffer.concat(rec.stderr)),
      "a log line\n",
    );
  },
);

test("the plugin gets exactly the environment and arguments given", {
  timeout: 30_000,
}, async () => {
  const envFile = join(dir, "env.txt");
  const argsFile = join(dir, "args.txt");
  await run({
    args: ["a b", "", '--x="y"'],
    env: {
      TEST_ENV_FILE: envFile,
      TEST_ENV_NAMES: "FOO HOME",
      TEST_ARGS_FILE: argsFile,
      FOO: "bar baz",
    },
  });
  assert.equal(readFileSync(envFile, "utf8"), "bar baz\n<unset>\n");
  assert.equal(readFileSync(argsFile, "utf8"), 'a b\n\n--x="y"\n');
});

test("binary-fails: exit code 73 is in the message, with the stderr tail", {
  timeout: 30_000,
}, async () => {
  const rec = recording();
  const err = await rejectsPlugin(
    run({
      adapter: rec.adapter,
      env: { TEST_EXIT_CODE: "73", TEST_STDERR: "boom: bad credentials file" },
    }),
    "EXEC_FAILED",
    `exec: executable ${PLUGIN} failed with exit code 73`,
  );
  assert.equal(err.exitCode, 73);
  assert.equal(err.command, PLUGIN);
  assert.equal(err.stderrTail, "boom: bad credentials file\n");
  assert.ok(err.message.includes("boom: bad credentials file"));
  assert.equal(rec.stderr.length > 0, true);
});

test("unknown-binary: client-go's not-found message with the install hint", {
  timeout: 30_000,
}, async () => {
  const err = await rejectsPlugin(
    run({ command: "does not exist", installHint: "some install hint" }),
    "EXEC_NOT_FOUND",
    "exec: executable does not exist not found",
  );
  assert.equal(
    err.message,
    `exec: executable does not exist not found\n\n${INSTALL_HINT_HELP}\n\nsome install hint`,
  );
  assert.equal(err.installHint, "some install hint");
  assert.ok(
    INSTALL_HINT_HELP.includes(
      "It looks like you are trying to use a client-go credential plugin that is not installed.",
    ),
  );
  // An explicit path that does not exist is "not found" too (client-go: fork/exec … no such file).
  await rejectsPlugin(
    run({ command: join(dir, "nothere.sh") }),
    "EXEC_NOT_FOUND",
    `exec: executable ${join(dir, "nothere.sh")} not found`,
  );
});

test("a multi-line installHint stays multi-line in the library's message", {
  timeout: 30_000,
}, async () => {
  const hint = "Install the plugin:\n  brew install example\n\nThen log in.";
  const err = await rejectsPlugin(
    run({ command: "kubeauth-missing-multiline", installHint: hint }),
    "EXEC_NOT_FOUND",
    `\n\n${INSTALL_HINT_HELP}\n\n${hint}`,
  );
  assert.ok(err.message.endsWith(hint), err.message);
  assert.equal(err.installHint, hint);
});

test("a plugin file that is not executable: permission denied is said", {
  timeout: 30_000,
}, async () => {
  await rejectsPlugin(
    run({ command: NOT_EXECUTABLE }),
    "EXEC_FAILED",
    "permission denied",
  );
});

// Issue 12, item 5: a command that is a directory was told "chmod +x, or on
// Deno --allow-run" on every runtime. kubectl says `fork/exec /d: permission
// denied` for a path, and "not found" + the install hint for a bare name
// found on PATH only as a directory (Go's LookPath skips directories).
test("a plugin path that is a directory: EXEC_FAILED saying so", {
  timeout: 30_000,
}, async () => {
  const plugins = join(dir, "plugins-dir");
  mkdirSync(plugins, { recursive: true });
  const err = await rejectsPlugin(
    run({ command: plugins, installHint: "get the plugin" }),
    "EXEC_FAILED",
    `exec: executable ${plugins} could not be started: ${plugins} is a directory, not an executable file; set command to the plugin's executable file`,
  );
  assert.ok(!err.message.includes("chmod"), err.message);
  assert.ok(!err.message.includes("--allow-run"), err.message);
  assert.ok(err.message.endsWith("\n\nget the plugin"), err.message);
  // Relative to the process's working directory, as any relative command.
  const rel = await rejectsPlugin(
    run({ command: "./testdata" }),
    "EXEC_FAILED",
    `${join(root, "testdata")} is a directory, not an executable file`,
  );
  assert.ok(!rel.message.includes("chmod"), rel.message);
});

test(
  "a bare plugin name found on PATH only as a directory: EXEC_NOT_FOUND saying so",
  {
    timeout: 30_000,
  },
  async () => {
    const bin = join(dir, "bin-with-dir");
    mkdirSync(join(bin, "kube-plugin-x"), { recursive: true });
    const err = await rejectsPlugin(
      run({
        command: "kube-plugin-x",
        installHint: "get the plugin",
        env: { PATH: `${bin}:${PATH}` },
      }),
      "EXEC_NOT_FOUND",
      `exec: executable kube-plugin-x not found (${
        join(bin, "kube-plugin-x")
      } on $PATH is a directory)\n\n${INSTALL_HINT_HELP}\n\nget the plugin`,
    );
    assert.ok(!err.message.includes("chmod"), err.message);
  },
);

test(
  "a plugin killed by a signal: the signal is named",
  { timeout: 30_000 },
  async () => {
    const err = await rejectsPlugin(
      run({ command: MISBEHAVE, args: ["signal"] }),
      "EXEC_FAILED",
      "terminated by signal SIGTERM",
    );
    assert.equal(err.signal, "SIGTERM");
    assert.equal(err.exitCode, undefined);
  },
);

test("a hanging plugin is killed at the timeout together with its child", {
  timeout: 30_000,
}, async () => {
  const pidFile = join(dir, "hang.pid");
  const rec = recording();
  const started = Date.now();
  const err = await rejectsPlugin(
    run({
      adapter: rec.adapter,
      command: MISBEHAVE,
      args: ["hang"],
      timeoutMs: 1000,
      timeoutHint: "raise execTimeoutMs",
      env: { TEST_PID_FILE: pidFile },
    }),
    "EXEC_TIMEOUT",
    "did not finish within 1s and was killed together with its child processes; raise execTimeoutMs",
  );
  assert.ok(Date.now() - started >= 1000);
  assert.equal(err.signal, "SIGKILL");
  await assertGone(rec.children[0].pid);
  await assertGone(readPid(pidFile));
});

test("a plugin that closes stdout and keeps running is killed at the timeout", {
  timeout: 30_000,
}, async () => {
  const rec = recording();
  await rejectsPlugin(
    run({
      adapter: rec.adapter,
      command: MISBEHAVE,
      args: ["close-stdout"],
      timeoutMs: 500,
      env: { TEST_OUTPUT: "{}" },
    }),
    "EXEC_TIMEOUT",
    "did not finish within 500ms",
  );
  await assertGone(rec.children[0].pid);
});

test(
  "a plugin that exits but leaves a grandchild holding stdout: the output is used, the grandchild killed",
  { timeout: 30_000 },
  async () => {
    const pidFile = join(dir, "grandchild.pid");
    // Waiting for the grandchild (it sleeps for minutes) would hit the test's timeout.
    const r = await run({
      command: MISBEHAVE,
      args: ["grandchild"],
      stdoutGraceMs: 200,
      env: { TEST_OUTPUT: "the-output", TEST_PID_FILE: pidFile },
    });
    assert.equal(new TextDecoder().decode(r.stdout), "the-output");
    await assertGone(readPid(pidFile));
  },
);

test("100 MB of output is refused without reading it all (stdout is capped)", {
  timeout: 60_000,
}, async () => {
  const rec = recording();
  const err = await rejectsPlugin(
    run({ adapter: rec.adapter, command: MISBEHAVE, args: ["big"] }),
    "EXEC_OUTPUT_TOO_LARGE",
    "wrote more than 16 MiB to stdout and was killed",
  );
  // The runner stopped reading right after the cap: at most one chunk more.
  assert.ok(
    rec.stdoutBytes() <= 16 * 1024 * 1024 + 1024 * 1024,
    String(rec.stdoutBytes()),
  );
  assert.equal(err.code, "EXEC_OUTPUT_TOO_LARGE");
  await assertGone(rec.children[0].pid);
  const small = recording();
  await rejectsPlugin(
    run({
      adapter: small.adapter,
      command: MISBEHAVE,
      args: ["big"],
      maxOutputBytes: 1024 * 1024,
    }),
    "EXEC_OUTPUT_TOO_LARGE",
    "more than 1 MiB",
  );
  assert.ok(small.stdoutBytes() <= 2 * 1024 * 1024);
});

test(
  "stderr: passed through in full, its tail bounded to 4 KiB and in the error",
  { timeout: 30_000 },
  async () => {
    const rec = recording();
    const err = await rejectsPlugin(
      run({ adapter: rec.adapter, command: MISBEHAVE, args: ["stderr-flood"] }),
      "EXEC_FAILED",
      "failed with exit code 1",
    );
    const tail = err.stderrTail ?? "";
    assert.ok(
      new TextEncoder().encode(tail).byteLength <= 4096,
      String(tail.length),
    );
    assert.ok(tail.length >= 4000);
    assert.ok(tail.endsWith("END-OF-STDERR\n"));
    assert.ok(err.message.includes("END-OF-STDERR"));
    const all = Buffer.concat(rec.stderr).toString();
    assert.equal(all.length, 10_000 + "END-OF-STDERR\n".length);
  },
);

test("an AbortSignal kills the plugin and rejects with the signal's reason", {
  timeout: 30_000,
}, async () => {
  const ac = new AbortController();
  const rec = recording();
  const spawn = rec.adapter.spawn;
  rec.adapter.spawn = async (o) => {
    const child = await spawn(o);
    queueMicrotask(() => ac.abort(new Error("caller went away")));
    return child;
  };
  const pidFile = join(dir, "abort.pid");
  await assert.rejects(
    run({
      adapter: rec.adapter,
      command: MISBEHAVE,
      args: ["hang"],
      signal: ac.signal,
      env: { TEST_PID_FILE: pidFile },
    }),
    /caller went away/,
  );
  await assertGone(rec.children[0].pid);
  if (existsSync(pidFile)) await assertGone(readPid(pidFile));
  // Already aborted: nothing is started.
  const before = rec.children.length;
  await assert.rejects(
    run({ adapter: rec.adapter, signal: ac.signal }),
    /caller went away/,
  );
  assert.equal(rec.children.length, before);
});
