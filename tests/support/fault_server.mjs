// A misbehaving API server for tests/faults_test.ts, run as a child Node
// process (so it behaves the same whichever runtime runs the test). Reads one
// JSON line on stdin: { certPem, keyPem }. Prints one JSON line:
// { tls, hang, closed } ports, then serves until stdin ends.
//
// - `tls`: a TLS server (the given certificate). GET /reset answers 200 with
//   `content-length: 100000`, sends a few bytes of the body and destroys the
//   socket; GET /hang reads the request and never answers; anything else
//   answers 200 `{"kind":"Status"}`.
// - `hang`: a plain TCP listener that accepts and never says anything (a TLS
//   handshake that never completes).
// - `closed`: a port that was bound and closed again (connection refused).
import { createServer as createTcpServer } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import process from "node:process";

const sockets = new Set();

function track(socket) {
  sockets.add(socket);
  socket.on("close", () => sockets.delete(socket));
  socket.on("error", () => {});
}

function onTlsConnection(socket) {
  track(socket);
  let head = "";
  socket.on("data", (chunk) => {
    if (head.includes("\r\n\r\n")) return;
    head += chunk.toString("latin1");
    if (!head.includes("\r\n\r\n")) return;
    const path = head.split(" ")[1] ?? "/";
    if (path.startsWith("/hang")) return;
    if (path.startsWith("/reset")) {
      socket.write(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n" +
          '{"kind":"PodList","items":[',
        () => setImmediate(() => socket.destroy()),
      );
      return;
    }
    const body = '{"kind":"Status"}';
    socket.end(
      `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
}

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server.address().port));
  });
}

async function main() {
  let input = "";
  await new Promise((resolve) => {
    const onData = (chunk) => {
      input += chunk;
      if (!input.includes("\n")) return;
      process.stdin.off("data", onData);
      resolve();
    };
    process.stdin.on("data", onData);
  });
  const config = JSON.parse(input.slice(0, input.indexOf("\n")));
  const tls = createTlsServer(
    { cert: config.certPem, key: config.keyPem },
    onTlsConnection,
  );
  tls.on("tlsClientError", () => {});
  const hang = createTcpServer(track);
  const probe = createTcpServer();
  const ports = {
    tls: await listen(tls),
    hang: await listen(hang),
    closed: await listen(probe),
  };
  await new Promise((resolve) => probe.close(resolve));
  process.stdout.write(JSON.stringify(ports) + "\n");
  process.stdin.on("data", () => {});
  process.stdin.on("end", () => {
    for (const s of sockets) s.destroy();
    tls.close();
    hang.close();
    process.exit(0);
  });
}

main().catch((err) => {
  process.stderr.write(`fault server: ${err?.stack ?? err}\n`);
  process.exit(1);
});
