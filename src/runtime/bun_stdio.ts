/**
 * Bun's own stdout and stderr writers (`Bun.write(Bun.stdout, …)`), for the
 * CLI's output and the plugin stderr the Bun adapter passes through.
 * `process.stdout`/`process.stderr` would load Bun's `node:stream` layer,
 * ~20 ms of every command's start-up (measured: a compiled script that
 * writes one line takes 41 ms of CPU with `process.stdout.write`, 19 ms with
 * `Bun.write`), and a `process.exit()` right after a `process.stderr.write`
 * drops what a pipe had not taken yet. Writes go out in call order.
 *
 * @module
 */

interface BunStdio {
  write(destination: unknown, data: Uint8Array): Promise<number>;
  stdout: unknown;
  stderr: unknown;
  stdin: { stream(): ReadableStream<Uint8Array> };
}

function bun(): BunStdio {
  return (globalThis as unknown as { Bun: BunStdio }).Bun;
}

let tail: Promise<unknown> = Promise.resolve();

/**
 * Writes a chunk to stdout or stderr after every earlier write.
 *
 * @example Usage
 * ```ts ignore
 * import { flushBunStdio, writeBunStdio } from "./bun_stdio.ts";
 * await writeBunStdio("stdout", new TextEncoder().encode("hello\n"));
 * await flushBunStdio();
 * ```
 *
 * @param stream Which one.
 * @param chunk The bytes.
 * @returns Resolves once all of them are written.
 */
export function writeBunStdio(
  stream: "stdout" | "stderr",
  chunk: Uint8Array,
): Promise<void> {
  const B = bun();
  const done = tail.then(() =>
    B.write(stream === "stdout" ? B.stdout : B.stderr, chunk)
  );
  tail = done.catch(() => {});
  return done.then(() => {});
}

/**
 * Resolves once every write started so far has ended.
 *
 * @example Usage
 * ```ts ignore
 * import { flushBunStdio } from "./bun_stdio.ts";
 * await flushBunStdio();
 * ```
 *
 * @returns Resolves when flushed.
 */
export function flushBunStdio(): Promise<void> {
  return tail.then(() => {});
}

/**
 * The process's stdin as a web stream.
 *
 * @example Usage
 * ```ts ignore
 * import { bunStdin } from "./bun_stdio.ts";
 * const stdin = bunStdin();
 * ```
 *
 * @returns The stream.
 */
export function bunStdin(): ReadableStream<Uint8Array> {
  return bun().stdin.stream();
}
