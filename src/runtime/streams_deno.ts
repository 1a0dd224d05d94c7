/**
 * {@linkcode StreamsSupport} on Deno: `Deno.listen`, `Deno.stdin.setRaw`,
 * `Deno.consoleSize`, `Deno.addSignalListener`.
 *
 * @module
 */
import type { StreamsSupport, TcpConnection, TcpListener } from "./types.ts";

interface DenoConn {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
  close(): void;
}

interface DenoStreams {
  listen(options: { hostname: string; port: number; transport: "tcp" }): {
    addr: { hostname: string; port: number };
    accept(): Promise<DenoConn>;
    close(): void;
  };
  stdin: {
    isTerminal(): boolean;
    setRaw(raw: boolean, o?: { cbreak: boolean }): void;
  };
  stdout: { isTerminal(): boolean };
  consoleSize(): { columns: number; rows: number };
  addSignalListener(signal: string, listener: () => void): void;
  removeSignalListener(signal: string, listener: () => void): void;
}

/**
 * Creates the Deno streams support.
 *
 * @example Usage
 * ```ts
 * import { createDenoStreamsSupport } from "./streams_deno.ts";
 * const s = createDenoStreamsSupport();
 * const l = await s.listenTcp({ hostname: "127.0.0.1", port: 0 });
 * if (!(l.port > 0)) throw new Error("not as shown");
 * await l.close();
 * ```
 *
 * @returns The support object.
 */
export function createDenoStreamsSupport(): StreamsSupport {
  const D = (globalThis as unknown as { Deno: DenoStreams }).Deno;
  return {
    listenTcp: (options) => Promise.resolve(listenTcp(D, options)),
    setRawMode(raw) {
      if (D.stdin.isTerminal()) D.stdin.setRaw(raw);
    },
    terminalSize() {
      if (!D.stdout.isTerminal()) return undefined;
      try {
        return D.consoleSize();
      } catch {
        return undefined;
      }
    },
    onSignal(signal, listener) {
      D.addSignalListener(signal, listener);
      return () => D.removeSignalListener(signal, listener);
    },
  };
}

function listenTcp(
  D: DenoStreams,
  options: { hostname: string; port: number },
): TcpListener {
  const listener = D.listen({ ...options, transport: "tcp" });
  let closed = false;
  return {
    port: listener.addr.port,
    hostname: listener.addr.hostname,
    async *accept() {
      while (!closed) {
        let conn: DenoConn;
        try {
          conn = await listener.accept();
        } catch (err) {
          if (closed) return;
          throw err;
        }
        yield wrap(conn);
      }
    },
    close() {
      if (!closed) {
        closed = true;
        listener.close();
      }
      return Promise.resolve();
    },
  };
}

function wrap(conn: DenoConn): TcpConnection {
  let done = false;
  return {
    readable: conn.readable,
    writable: conn.writable,
    close() {
      if (done) return;
      done = true;
      try {
        conn.close();
      } catch {
        // Already closed by its streams.
      }
    },
  };
}
