import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import process from "node:process";
import { getRuntimeAdapter } from "../src/runtime/mod.ts";
import { execProbe, probeCommand, runProbe } from "./support/runtime_probe.ts";

const fixture = (name: string) =>
  join(process.cwd(), "testdata", "spawn", name);

test("env() and getEnv() read the process environment", async () => {
  const adapter = await getRuntimeAdapter();
  assert.equal(adapter.getEnv("PATH"), process.env.PATH);
  assert.equal(adapter.getEnv("KUBEAUTH_SURELY_UNSET_VAR"), undefined);
  const env = adapter.env();
  assert.equal(env.PATH, process.env.PATH);
  assert.equal(env.HOME, process.env.HOME);
  // A snapshot: changing it does not change the process.
  env.KUBEAUTH_SNAPSHOT_TEST = "1";
  assert.equal(adapter.getEnv("KUBEAUTH_SNAPSHOT_TEST"), undefined);
});

test("cwd(), homeDir() and os describe the process", async () => {
  const adapter = await getRuntimeAdapter();
  assert.equal(adapter.cwd(), process.cwd());
  assert.equal(adapter.homeDir(), process.env.HOME);
  assert.equal(adapter.os, "linux");
});

test("readFile() reads bytes and rejects with the runtime's error", async () => {
  const adapter = await getRuntimeAdapter();
  const bytes = await adapter.readFile(fixture("exit_code.sh"));
  assert.ok(bytes instanceof Uint8Array);
  assert.match(new TextDecoder().decode(bytes), /^#!\/bin\/sh/);
  await assert.rejects(
    adapter.readFile(fixture("missing-file")),
    (err: unknown) => {
      const e = err as { code?: string; name?: string };
      return e.code === "ENOENT" || e.name === "NotFound";
    },
  );
});

test("stdinIsTerminal() is false under the test runner and true under a pty", {
  timeout: 60_000,
}, async () => {
  const adapter = await getRuntimeAdapter();
  assert.equal(adapter.stdinIsTerminal(), false);
  const { argv, cleanup } = await probeCommand("testdata/spawn/tty_probe.ts");
  try {
    const cmd = argv.map((a) => `'${a}'`).join(" ");
    const r = await execProbe("script", ["-qec", cmd, "/dev/null"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /stdinIsTerminal=true/);
    // Without a pty: false.
    const plain = await execProbe(argv[0], argv.slice(1));
    assert.match(plain.stdout, /stdinIsTerminal=false/);
  } finally {
    cleanup();
  }
});

test("writeStderr() writes every byte, in order, before exit", {
  timeout: 60_000,
}, async () => {
  const r = await runProbe("testdata/spawn/stderr_probe.ts");
  assert.equal(r.code, 0, r.stderr.slice(0, 200));
  assert.equal(r.stdout, "done\n");
  assert.equal(r.stderrBytes.byteLength, 256 + (1 << 20));
  for (let i = 0; i < 256; i++) assert.equal(r.stderrBytes[i], i);
  assert.ok(r.stderrBytes.subarray(256).every((b) => b === 0x78));
});
