/**
 * A minimal HTTP proxy on 127.0.0.1 for the tests: CONNECT tunnels, and
 * plain-HTTP requests in absolute form (`GET http://host:port/path`), which
 * it forwards as they are. It records the `host:port` of each tunnel or
 * forwarded connection and closes them all in close().
 *
 * @module
 */
import { createServer } from "node:net";
import type { Socket } from "node:net";

/** A minimal HTTP CONNECT proxy on 127.0.0.1 that records its tunnels. */
export async function startConnectProxy(): Promise<
  { url: string; tunnels: string[]; close(): Promise<void> }
> {
  const tunnels: string[] = [];
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => s.destroy());
  };
  const server = createServer((client) => {
    track(client);
    let head = new Uint8Array(0);
    const onData = (chunk: Uint8Array) => {
      const joined = new Uint8Array(head.byteLength + chunk.byteLength);
      joined.set(head);
      joined.set(chunk, head.byteLength);
      head = joined;
      const text = new TextDecoder("latin1").decode(head);
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) return;
      client.off("data", onData);
      const m = /^CONNECT (\S+):(\d+) HTTP\/1\.[01]\r\n/.exec(text);
      const plain = /^[A-Z]+ http:\/\/([^/\s]+):(\d+)\S* HTTP\/1\.[01]\r\n/
        .exec(text);
      const target = m ?? plain;
      if (target === null) {
        client.end("HTTP/1.1 405 Method Not Allowed\r\n\r\n");
        return;
      }
      tunnels.push(`${target[1]}:${target[2]}`);
      // A tunnel starts after the CONNECT head; a plain request is forwarded whole.
      const rest = m !== null ? head.subarray(end + 4) : head;
      const upstream = new (client.constructor as typeof Socket)();
      track(upstream);
      const host = target[1].replace(/^\[|\]$/g, "");
      upstream.connect(Number(target[2]), host, () => {
        if (m !== null) {
          client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        }
        if (rest.byteLength > 0) upstream.write(rest);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      upstream.on("close", () => client.destroy());
      client.on("close", () => upstream.destroy());
    };
    client.on("data", onData);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    tunnels,
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
