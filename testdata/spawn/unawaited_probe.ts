// Starts children without awaiting them: one killed, one that completes with
// its stdout never read, one whose stdout is cancelled. The runtime must
// still exit promptly (the test fails if this process lingers).
import { getRuntimeAdapter } from "../../src/runtime/mod.ts";

const adapter = await getRuntimeAdapter();
// Run with the repository root as the working directory.
const here = adapter.cwd() + "/testdata/spawn/";
const env = { PATH: adapter.getEnv("PATH") ?? "/usr/bin:/bin" };
const base = { env, stdin: "null", stderr: "piped" } as const;

const killed = await adapter.spawn({
  ...base,
  command: here + "grandchild.sh",
  args: [],
});
killed.kill("SIGKILL");

const unread = await adapter.spawn({
  ...base,
  command: here + "large.sh",
  args: ["1000"],
});

const cancelled = await adapter.spawn({
  ...base,
  command: here + "large.sh",
  args: ["2800000"],
});
await cancelled.stdout.cancel();

console.log(`started ${killed.pid} ${unread.pid} ${cancelled.pid}`);
