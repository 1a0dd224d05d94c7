/**
 * The process facts a command-line program needs (arguments, stdout, stdin,
 * exit), per runtime. Used by the `kubeauth` CLI only; the library never
 * touches the process's own streams.
 *
 * @module
 */
import { detectRuntime } from "./detect.ts";

/** The command line's view of the process. */
export interface ProcessIo {
  /** The arguments after the program (and script) name. */
  args(): string[];
  /** Writes to stdout, resolving once the bytes are accepted (backpressure). */
  writeStdout(chunk: Uint8Array): Promise<void>;
  /** Writes to stderr. */
  writeStderr(chunk: Uint8Array): Promise<void>;
  /** The process's stdin as a stream. */
  stdin(): ReadableStream<Uint8Array>;
  /** Ends the process with a code, after stdout and stderr are flushed. */
  exit(code: number): Promise<never>;
}

interface DenoIo {
  args: string[];
  stdout: { write(p: Uint8Array): Promise<number> };
  stderr: { write(p: Uint8Array): Promise<number> };
  stdin: { readable: ReadableStream<Uint8Array> };
  exit(code: number): never;
}

interface NodeWritable {
  write(chunk: Uint8Array, cb: (err?: Error | null) => void): boolean;
}

interface NodeProcess {
  argv: string[];
  stdout: NodeWritable;
  stderr: NodeWritable;
  stdin: unknown;
  exit(code: number): never;
}

/**
 * Returns the process I/O of the running runtime.
 *
 * @example Usage
 * ```ts
 * import { getProcessIo } from "./process_io.ts";
 * const io = await getProcessIo();
 * if (!Array.isArray(io.args())) throw new Error("not as shown");
 * await io.writeStdout(new TextEncoder().encode("hello\n")); // resolves once written
 * ```
 *
 * @returns The process I/O.
 */
export async function getProcessIo(): Promise<ProcessIo> {
  if (detectRuntime() === "deno") {
    const d = (globalThis as unknown as { Deno: DenoIo }).Deno;
    const writeAll = async (
      w: { write(p: Uint8Array): Promise<number> },
      chunk: Uint8Array,
    ) => {
      let off = 0;
      while (off < chunk.length) off += await w.write(chunk.subarray(off));
    };
    return {
      args: () => [...d.args],
      writeStdout: (c) => writeAll(d.stdout, c),
      writeStderr: (c) => writeAll(d.stderr, c),
      stdin: () => d.stdin.readable,
      exit: (code) => Promise.resolve(d.exit(code)),
    };
  }
  const proc = (globalThis as unknown as { process: NodeProcess }).process;
  if (detectRuntime() === "bun") return await bunProcessIo(proc);
  const { Readable } = await import("node:stream");
  const write = (w: NodeWritable, chunk: Uint8Array) =>
    new Promise<void>((resolve, reject) => {
      w.write(chunk, (err) => (err ? reject(err) : resolve()));
    });
  return {
    args: () => proc.argv.slice(2),
    writeStdout: (c) => write(proc.stdout, c),
    writeStderr: (c) => write(proc.stderr, c),
    stdin: () =>
      Readable.toWeb(
        proc.stdin as InstanceType<typeof Readable>,
      ) as unknown as ReadableStream<Uint8Array>,
    exit: async (code) => {
      // Both writes resolve only once flushed; an empty write orders after them.
      await write(proc.stdout, new Uint8Array(0));
      await write(proc.stderr, new Uint8Array(0));
      return proc.exit(code);
    },
  };
}

/** Bun: its own writers, no `node:stream` (see bun_stdio.ts). */
async function bunProcessIo(proc: NodeProcess): Promise<ProcessIo> {
  const { bunStdin, flushBunStdio, writeBunStdio } = await import(
    "./bun_stdio.ts"
  );
  return {
    args: () => proc.argv.slice(2),
    writeStdout: (c) => writeBunStdio("stdout", c),
    writeStderr: (c) => writeBunStdio("stderr", c),
    stdin: bunStdin,
    exit: async (code) => {
      await flushBunStdio();
      return proc.exit(code);
    },
  };
}
