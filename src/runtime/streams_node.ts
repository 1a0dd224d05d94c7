/**
 * {@linkcode StreamsSupport} on Node and Bun: `node:net` listeners,
 * `process.stdin.setRawMode`, `process.stdout.columns/rows`, process signals.
 *
 * @module
 */
import type { AddressInfo, Socket } from "node:net";
import process from "node:process";
import type { Readable, Writable } from "node:stream";
import type { StreamsSupport, TcpConnection, TcpListener } from "./types.ts";

/** The stream classes `wrap` needs. */
interface StreamClasses {
  Readable: typeof Readable;
  Writable: typeof Writable;
}

/**
 * Creates the Node/Bun streams support.
 *
 * @example Usage
 * ```ts
 * import { createNodeStreamsSupport } from "./streams_node.ts";
 * const s = createNodeStreamsSupport();
 * const l = await s.listenTcp({ hostname: "127.0.0.1", port: 0 });
 * if (!(l.port > 0)) throw new Error("not as shown");
 * await l.close();
 * ```
 *
 * @returns The support object.
 */
export function createNodeStreamsSupport(): StreamsSupport {
  return {
    listenTcp,
    setRawMode(raw) {
      const stdin = process.stdin as {
        isTTY?: boolean;
        setRawMode?(r: boolean): void;
      };
      if (stdin.isTTY && stdin.setRawMode) stdin.setRawMode(raw);
    },
    terminalSize() {
      const out = process.stdout as {
        isTTY?: boolean;
        columns?: number;
        rows?: number;
      };
      if (!out.isTTY || !out.columns || !out.rows) return undefined;
      return { columns: out.columns, rows: out.rows };
    },
    onSignal(signal, listener) {
      process.on(signal, listener);
      return () => void process.off(signal, listener);
    },
  };
}

/**
 * `node:net` and `node:stream` load here, on the first listener: loaded
 * with the adapter they cost every command ~15 ms of Bun start-up.
 */
async function listenTcp(
  options: { hostname: string; port: number },
): Promise<TcpListener> {
  const [{ default: net }, streams] = await Promise.all([
    import("node:net"),
    import("node:stream"),
  ]);
  return await new Promise((resolve, reject) => {
    const queue: Socket[] = [];
    let wake: (() => void) | undefined;
    let closed = false;
    const server = net.createServer((socket) => {
      queue.push(socket);
      wake?.();
    });
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => {
      server.off("error", reject);
      const address = server.address() as AddressInfo;
      resolve({
        port: address.port,
        hostname: address.address,
        async *accept() {
          while (!closed) {
            const next = queue.shift();
            if (next !== undefined) {
              yield wrap(next, streams);
              continue;
            }
            await new Promise<void>((r) => (wake = r));
            wake = undefined;
          }
        },
        close() {
          if (closed) return Promise.resolve();
          closed = true;
          wake?.();
          for (const s of queue) s.destroy();
          return new Promise((r) => server.close(() => r()));
        },
      });
    });
  });
}

function wrap(
  socket: Socket,
  { Readable, Writable }: StreamClasses,
): TcpConnection {
  socket.on("error", () => {});
  return {
    readable: Readable.toWeb(socket) as unknown as ReadableStream<Uint8Array>,
    writable: Writable.toWeb(socket) as unknown as WritableStream<Uint8Array>,
    close: () => void socket.destroy(),
  };
}
