// What a transport sends and hands back, beyond the fake API server's
// endpoints: request bodies of every kind, compressed and large response
// bodies, and the Response's own contract (clone, bodyUsed, blob). Run
// against every transport: Node's node:https pool with its light responses,
// Deno's createHttpClient and its node:https pool (tls-server-name), Bun's
// FetchSession. The server is a small node:https server in this process.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:https";
import type { Server } from "node:https";
import { gzipSync } from "node:zlib";
import { getRuntimeAdapter } from "../src/runtime/mod.ts";
import type { RuntimeAdapter, Transport } from "../src/runtime/mod.ts";
import { createCa, issueCertificate } from "./support/pki.ts";

const BIG = 300_000;
let server: Server;
let base: string;
let caPem: string;
let adapter: RuntimeAdapter;

before(async () => {
  adapter = await getRuntimeAdapter();
  const ca = await createCa({ commonName: "bodies-ca" });
  caPem = ca.certPem;
  const cert = await issueCertificate(ca, {
    commonName: "bodies",
    usage: "server",
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1"],
  });
  server = createServer(
    { cert: cert.certPem, key: cert.keyPem },
    (req, res) => {
      const chunks: Uint8Array[] = [];
      req.on("data", (c: Uint8Array) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        if (req.url === "/gzip") {
          res.writeHead(200, {
            "content-encoding": "gzip",
            "content-type": "text/plain",
          });
          res.end(gzipSync("hello, compressed"));
        } else if (req.url === "/big") {
          res.writeHead(200, { "content-type": "application/octet-stream" });
          for (let i = 0; i < BIG / 1000; i++) res.write(Buffer.alloc(1000, i));
          res.end();
        } else if (req.url === "/multi") {
          res.setHeader("set-cookie", ["a=1", "b=2"]);
          res.setHeader("x-list", ["1", "2"]);
          res.end("multi");
        } else {
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify({
            method: req.method,
            type: req.headers["content-type"] ?? null,
            body: body.toString("latin1"),
            acceptEncoding: req.headers["accept-encoding"] ?? null,
          }));
        }
      });
    },
  );
  await new Promise<void>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve())
  );
  base = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
});

after(async () => {
  server.closeAllConnections?.();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const VARIANTS = [
  { name: "certificate-authority", extra: {} },
  { name: "tls-server-name", extra: { serverName: "localhost" } },
];

for (const variant of VARIANTS) {
  describe(`transport bodies, ${variant.name}`, () => {
    let t: Transport;
    before(() => {
      t = adapter.createTransport({ ca: caPem, ...variant.extra });
    });
    after(async () => {
      await t.close();
    });

    test("request bodies: string, bytes, form, stream", {
      timeout: 30_000,
    }, async () => {
      const send = async (body: BodyInit, extra: RequestInit = {}) =>
        await (await t.fetch(`${base}/echo`, {
          method: "POST",
          body,
          ...extra,
        })).json();
      let r = await send("h\u00e9llo");
      assert.equal(r.body, "h\u00c3\u00a9llo"); // UTF-8 bytes
      // Bun's FetchSession sends a string without a content-type.
      if (adapter.name !== "bun") {
        assert.equal(r.type, "text/plain;charset=UTF-8");
      }
      r = await send(new Uint8Array([1, 2, 255]));
      assert.equal(r.body, "\u0001\u0002\u00ff");
      r = await send(new URLSearchParams({ a: "1", b: "x y" }));
      assert.equal(r.body, "a=1&b=x+y");
      assert.match(r.type, /^application\/x-www-form-urlencoded/);
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(new TextEncoder().encode("part1-"));
          c.enqueue(new TextEncoder().encode("part2"));
          c.close();
        },
      });
      r = await send(stream, { duplex: "half" } as RequestInit);
      assert.equal(r.body, "part1-part2");
      r = await send("x", {
        method: "PATCH",
        headers: { "content-type": "application/merge-patch+json" },
      });
      assert.equal(r.method, "PATCH");
      assert.equal(r.type, "application/merge-patch+json");
      assert.equal(t.inFlight, 0);
    });

    test("a gzip body is decoded; identity is sent when asked", {
      timeout: 30_000,
    }, async () => {
      const res = await t.fetch(`${base}/gzip`, {});
      assert.equal(await res.text(), "hello, compressed");
      const r = await (await t.fetch(`${base}/echo`, {
        headers: { "accept-encoding": "identity" },
      })).json();
      assert.equal(r.acceptEncoding, "identity");
    });

    test("a large body arrives whole, as a stream or at once", {
      timeout: 30_000,
    }, async () => {
      const res = await t.fetch(`${base}/big`, {});
      let size = 0;
      for await (const chunk of res.body!) size += chunk.byteLength;
      assert.equal(size, BIG);
      const again = await t.fetch(`${base}/big`, {});
      assert.equal((await again.arrayBuffer()).byteLength, BIG);
      assert.equal(t.inFlight, 0);
    });

    test("the Response: instance, clone, bodyUsed, blob, repeated headers", {
      timeout: 30_000,
    }, async () => {
      const res = await t.fetch(`${base}/echo`, {});
      assert.ok(res instanceof Response);
      assert.equal(res.ok, true);
      assert.equal(res.status, 200);
      assert.equal(res.url, `${base}/echo`);
      const copy = res.clone();
      assert.equal((await copy.json()).method, "GET");
      assert.equal(res.bodyUsed, false);
      const blob = await res.blob();
      assert.match(blob.type, /^application\/json/);
      assert.equal(res.bodyUsed, true);
      await assert.rejects(res.text(), TypeError);
      const multi = await t.fetch(`${base}/multi`, {});
      assert.equal(multi.headers.get("x-list"), "1, 2");
      assert.deepEqual(multi.headers.getSetCookie(), ["a=1", "b=2"]);
      assert.equal(await multi.text(), "multi");
      const big = await t.fetch(`${base}/big`, {});
      const twin = big.clone();
      const [a, b] = await Promise.all([big.arrayBuffer(), twin.arrayBuffer()]);
      assert.equal(a.byteLength, BIG);
      assert.equal(b.byteLength, BIG);
      assert.equal(t.inFlight, 0);
    });
  });
}
