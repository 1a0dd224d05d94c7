/**
 * Process checks shared by the tests that watch plugin processes come and go.
 *
 * @module
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import process from "node:process";

/**
 * True while `pid` runs: it exists and is not a zombie (dead, waiting for a
 * reaper). Reads /proc (Linux); a pid that vanishes between the two checks
 * counts as gone.
 *
 * @example Usage
 * ```ts ignore
 * import { processAlive } from "./process.ts";
 * if (!processAlive(process.pid)) throw new Error("this process runs");
 * ```
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/**
 * Waits until none of `pids` runs (signals are delivered asynchronously, so
 * this polls), then asserts it; gives up after 5 s with the live pids named.
 *
 * @example Usage
 * ```ts ignore
 * import { assertAllGone } from "./process.ts";
 * await assertAllGone([], "plugin processes");
 * ```
 */
export async function assertAllGone(
  pids: number[],
  what = "processes",
): Promise<void> {
  const deadline = Date.now() + 5000;
  while (pids.some(processAlive) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.deepEqual(pids.filter(processAlive), [], `${what} still alive`);
}
