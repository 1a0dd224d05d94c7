// Runs a small probe script (testdata/spawn/*_probe.ts) in a fresh process
// of the runtime running the tests. Node 20 cannot run TypeScript, so for
// Node the probe is bundled with esbuild first (into .cache/, so that npm
// packages resolve from the repository's node_modules).
import { execFile } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { detectRuntime } from "../../src/runtime/detect.ts";

/** What a finished process printed. */
export interface ProbeResult {
  code: number;
  stdout: string;
  stderr: string;
  stderrBytes: Uint8Array;
}

/** Runs a file with arguments; never rejects. */
export function execProbe(
  file: string,
  args: string[],
  timeoutMs = 60_000,
): Promise<ProbeResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        cwd: process.cwd(),
        timeout: timeoutMs,
        encoding: "buffer",
        maxBuffer: 64 << 20,
      },
      (err, stdout, stderr) => {
        const code = err === null
          ? 0
          : typeof err.code === "number"
          ? err.code
          : 1;
        resolve({
          code,
          stdout: stdout.toString("utf8"),
          stderr: stderr.toString("utf8"),
          stderrBytes: new Uint8Array(stderr),
        });
      },
    );
  });
}

/**
 * The command line running `probe` (a path relative to the repository
 * root) under the current runtime, and a cleanup function.
 */
export async function probeCommand(
  probe: string,
): Promise<{ argv: string[]; cleanup(): void }> {
  const root = process.cwd();
  const runtime = detectRuntime();
  if (runtime === "deno") {
    return {
      argv: [process.execPath, "run", "-A", join(root, probe)],
      cleanup() {},
    };
  }
  if (runtime === "bun") {
    return { argv: [process.execPath, join(root, probe)], cleanup() {} };
  }
  mkdirSync(join(root, ".cache"), { recursive: true });
  const out = join(
    root,
    ".cache",
    `probe-${process.pid}-${Math.random().toString(36).slice(2)}.mjs`,
  );
  const r = await execProbe(join(root, "node_modules", ".bin", "esbuild"), [
    join(root, probe),
    "--bundle",
    "--platform=node",
    "--format=esm",
    "--target=node20",
    "--packages=external",
    "--log-level=warning",
    `--outfile=${out}`,
  ]);
  if (r.code !== 0) throw new Error(`esbuild failed: ${r.stderr}`);
  return {
    argv: [process.execPath, out],
    cleanup: () => rmSync(out, { force: true }),
  };
}

/** Runs a probe under the current runtime. */
export async function runProbe(probe: string): Promise<ProbeResult> {
  const { argv, cleanup } = await probeCommand(probe);
  try {
    return await execProbe(argv[0], argv.slice(1));
  } finally {
    cleanup();
  }
}
