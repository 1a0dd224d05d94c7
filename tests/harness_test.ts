// Tests of the shared test infrastructure: tests/support/pki.ts,
// tests/support/cluster_server.mjs, tests/support/plugin.ts, tests/support/harness.ts.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import https from "node:https";
import { join } from "node:path";
import process from "node:process";
import { createCa, issueCertificate, loadCa } from "./support/pki.ts";
import type { KeyFormat, KeyType } from "./support/pki.ts";
import {
  BUN,
  demoPluginExec,
  demoTokens,
  DENO,
  makeTempDir,
  NODE,
  pluginRuns,
  pluginTokens,
  repoPath,
  startCluster,
  writeKubeconfig,
} from "./support/harness.ts";
import type { TestCluster } from "./support/harness.ts";

function openssl(args: string[], input?: string): string {
  return execFileSync("openssl", args, {
    input,
    encoding: "utf8",
    stdio: ["pipe", "pipe", "pipe"],
  });
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTPS request with node:https (works on Deno, Bun and Node). */
function request(
  url: string,
  opts: https.RequestOptions & { body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, opts, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => body += c);
      res.on(
        "end",
        () => resolve({ status: res.statusCode!, headers: res.headers, body }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

function run(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { env: { ...process.env, ...env }, encoding: "utf8" },
      (err, stdout, stderr) => {
        const code = err ? (err as { code?: unknown }).code : 0;
        resolve({
          code: typeof code === "number" ? code : 1,
          stdout,
          stderr,
        });
      },
    );
  });
}

describe("pki", () => {
  let dir: { path: string; remove(): Promise<void> };
  before(async () => {
    dir = await makeTempDir("kubeauth-pki-");
  });
  after(async () => {
    await dir.remove();
  });
  const file = (name: string, text: string) => {
    const p = join(dir.path, name);
    writeFileSync(p, text);
    return p;
  };

  test("CA and server/client certificates verify with openssl", async () => {
    const ca = await createCa({ commonName: "test-ca" });
    const server = await issueCertificate(ca, {
      commonName: "srv",
      usage: "server",
      dnsNames: ["localhost", "kube.example"],
      ipAddresses: ["127.0.0.1", "::1"],
    });
    const client = await issueCertificate(ca, {
      commonName: "alice",
      organizations: ["devs", "system:masters"],
      usage: "client",
      validSeconds: 3,
    });
    const caFile = file("ca.crt", ca.certPem);
    const srvFile = file("srv.crt", server.certPem);
    const cliFile = file("cli.crt", client.certPem);
    assert.match(
      openssl(["verify", "-CAfile", caFile, srvFile, cliFile]),
      /srv\.crt: OK\n.*cli\.crt: OK/s,
    );
    assert.match(
      openssl(["verify", "-CAfile", caFile, "-purpose", "sslserver", srvFile]),
      /OK/,
    );
    assert.match(
      openssl(["verify", "-CAfile", caFile, "-purpose", "sslclient", cliFile]),
      /OK/,
    );

    const caText = openssl(["x509", "-in", caFile, "-text", "-noout"]);
    assert.match(caText, /CA:TRUE/);
    assert.match(caText, /Certificate Sign/);
    const srvText = openssl(["x509", "-in", srvFile, "-text", "-noout"]);
    assert.match(srvText, /Version: 3/);
    assert.match(srvText, /ecdsa-with-SHA256/);
    assert.match(srvText, /TLS Web Server Authentication/);
    assert.match(
      srvText,
      /DNS:localhost, DNS:kube\.example, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1/,
    );
    assert.match(srvText, /CA:FALSE/);
    assert.match(srvText, /Authority Key Identifier/);
    const cliText = openssl(["x509", "-in", cliFile, "-text", "-noout"]);
    assert.match(cliText, /TLS Web Client Authentication/);
    assert.doesNotMatch(cliText, /Subject Alternative Name/);
    const subject = openssl([
      "x509",
      "-in",
      cliFile,
      "-noout",
      "-subject",
      "-serial",
      "-dates",
    ]);
    assert.match(subject, /O = devs, O = system:masters, CN = alice/);
    assert.match(subject, new RegExp(`serial=${client.serial}`));
    assert.equal(client.serial.length, 32);
    const notAfter = Date.parse(/notAfter=(.*)/.exec(subject)![1]);
    assert.ok(Math.abs(notAfter - (Date.now() + 3000)) < 5000, subject);
  });

  test("every key type and format parses with openssl and matches its certificate", async () => {
    const ca = await createCa();
    const caFile = file("ca2.crt", ca.certPem);
    const combos: [KeyType, KeyFormat, string][] = [
      ["ec-p256", "pkcs8", "PRIVATE KEY"],
      ["ec-p256", "sec1", "EC PRIVATE KEY"],
      ["rsa-2048", "pkcs8", "PRIVATE KEY"],
      ["rsa-2048", "pkcs1", "RSA PRIVATE KEY"],
      ["ed25519", "pkcs8", "PRIVATE KEY"],
    ];
    for (const [keyType, keyFormat, label] of combos) {
      const pair = await issueCertificate(ca, {
        commonName: `${keyType}-${keyFormat}`,
        usage: "client",
        keyType,
        keyFormat,
      });
      assert.ok(
        pair.keyPem.startsWith(`-----BEGIN ${label}-----\n`),
        `${keyType}/${keyFormat}: ${pair.keyPem.slice(0, 40)}`,
      );
      const keyFile = file(`${keyType}-${keyFormat}.key`, pair.keyPem);
      const certFile = file(`${keyType}-${keyFormat}.crt`, pair.certPem);
      openssl(["pkey", "-in", keyFile, "-noout", "-check"].filter((a) =>
        // ed25519 keys have no -check in openssl 3.0's pkey for some builds
        a !== "-check" || keyType !== "ed25519"
      ));
      const fromKey = openssl(["pkey", "-in", keyFile, "-pubout"]);
      const fromCert = openssl(["x509", "-in", certFile, "-noout", "-pubkey"]);
      assert.equal(fromKey, fromCert, `${keyType}/${keyFormat} key matches`);
      assert.match(
        openssl(["verify", "-CAfile", caFile, certFile]),
        /OK/,
      );
    }
    await assert.rejects(
      issueCertificate(ca, {
        commonName: "x",
        usage: "client",
        keyType: "ec-p256",
        keyFormat: "pkcs1",
      }),
      /pkcs1 needs an RSA key/,
    );
    await assert.rejects(
      issueCertificate(ca, {
        commonName: "x",
        usage: "client",
        keyType: "rsa-2048",
        keyFormat: "sec1",
      }),
      /sec1 needs an EC key/,
    );
  });

  test("loadCa() reloads a CA from PEM; its certificates chain to the original", async () => {
    const ca = await createCa({ commonName: "reload-ca" });
    const loaded = await loadCa(ca.certPem, ca.keyPem);
    assert.deepEqual(loaded.subjectDer, ca.subjectDer);
    assert.deepEqual(loaded.keyId, ca.keyId);
    const pair = await issueCertificate(loaded, {
      commonName: "bob",
      usage: "client",
    });
    const caFile = file("reload-ca.crt", ca.certPem);
    const certFile = file("reload-bob.crt", pair.certPem);
    assert.match(openssl(["verify", "-CAfile", caFile, certFile]), /OK/);
  });

  // How fast minting is belongs to the benchmarks, not to an assertion.
  test("minting EC certificates in a row gives distinct ones", async () => {
    const ca = await createCa();
    const n = 20;
    const pems = new Set<string>();
    for (let i = 0; i < n; i++) {
      const pair = await issueCertificate(ca, {
        commonName: `c${i}`,
        usage: "client",
      });
      pems.add(pair.certPem);
    }
    assert.equal(pems.size, n);
  });
});

describe("cluster server", () => {
  let cluster: TestCluster;
  let clientPair: { certPem: string; keyPem: string };
  const TOKEN = "s3cr3t-t0ken-value-XYZ";
  const PASSWORD = "p4ssw0rd-VALUE-QRS";

  before(async () => {
    cluster = await startCluster({
      tokens: { [TOKEN]: "token-user" },
      basic: [{ username: "basic-user", password: PASSWORD }],
    });
    clientPair = await issueCertificate(cluster.ca, {
      commonName: "cert-user",
      organizations: ["team-a", "team-b"],
      usage: "client",
    });
  });
  after(async () => {
    await cluster.close();
  });

  test("startCluster() exposes urls, CA files and the CA", () => {
    assert.match(cluster.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.match(cluster.controlUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(
      readFileSync(join(cluster.dir, "ca.crt"), "utf8"),
      cluster.caPem,
    );
    assert.equal(
      readFileSync(join(cluster.dir, "ca.key"), "utf8"),
      cluster.ca.keyPem,
    );
    assert.equal(cluster.ca.certPem, cluster.caPem);
  });

  test("a client certificate authenticates; the connection records its CN", {
    timeout: 20_000,
  }, async () => {
    await cluster.reset();
    const agent = new https.Agent({
      keepAlive: true,
      ca: cluster.caPem,
      cert: clientPair.certPem,
      key: clientPair.keyPem,
    });
    try {
      const a = await request(cluster.url + "/echo", {
        agent,
        headers: { "x-request-id": "req-cert-1" },
      });
      assert.equal(a.status, 200, a.body);
      const echo = JSON.parse(a.body);
      assert.equal(echo.user, "cert-user");
      assert.equal(echo.cn, "cert-user");
      assert.equal(echo.authScheme, "cert");
      const b = await request(
        cluster.url + "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        {
          agent,
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            apiVersion: "authentication.k8s.io/v1",
            kind: "SelfSubjectReview",
          }),
        },
      );
      assert.equal(b.status, 201);
      const review = JSON.parse(b.body);
      assert.equal(review.kind, "SelfSubjectReview");
      assert.equal(review.status.userInfo.username, "cert-user");
      assert.deepEqual(review.status.userInfo.groups, [
        "team-a",
        "team-b",
        "system:authenticated",
      ]);
      const conns = await cluster.connections();
      const mine = conns.find((c) => c.id === echo.conn)!;
      assert.equal(mine.cn, "cert-user");
      assert.equal(mine.authorized, true);
      assert.equal(mine.requests, 2);
      assert.equal(mine.closedAt, null);
      assert.equal(mine.sessionReused, false);
      const reqs = await cluster.requests();
      const r1 = reqs.find((r) => r.id === "req-cert-1")!;
      assert.equal(r1.conn, echo.conn);
      assert.equal(r1.cn, "cert-user");
      assert.equal(r1.user, "cert-user");
      assert.equal(r1.authScheme, "cert");
      assert.equal(r1.status, 200);
      assert.equal(r1.path, "/echo");
    } finally {
      agent.destroy();
    }
  });

  test("no credentials: 401 with a Kubernetes Status body", async () => {
    const a = await request(cluster.url + "/api/v1/namespaces", {
      ca: cluster.caPem,
      agent: false,
    });
    assert.equal(a.status, 401);
    assert.match(String(a.headers["content-type"]), /^application\/json/);
    assert.deepEqual(JSON.parse(a.body), {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "Unauthorized",
      reason: "Unauthorized",
      code: 401,
    });
    const health = await request(cluster.url + "/healthz", {
      ca: cluster.caPem,
      agent: false,
    });
    assert.equal(health.status, 200);
  });

  test("bearer token and basic auth; setTokens/setBasic replace them", async () => {
    const get = (path: string, authorization?: string) =>
      request(cluster.url + path, {
        ca: cluster.caPem,
        agent: false,
        headers: authorization ? { authorization } : {},
      });
    const t = await get("/version", `Bearer ${TOKEN}`);
    assert.equal(t.status, 200);
    assert.equal(JSON.parse(t.body).gitVersion, "v1.32.0-kubeauth-demo");
    const ns = JSON.parse(
      (await get("/api/v1/namespaces", `Bearer ${TOKEN}`)).body,
    );
    assert.equal(ns.kind, "NamespaceList");
    assert.deepEqual(
      ns.items.map((i: { metadata: { name: string } }) => i.metadata.name),
      ["default", "kube-system", "kube-public"],
    );
    const pods = JSON.parse(
      (await get("/api/v1/namespaces/default/pods", `Bearer ${TOKEN}`)).body,
    );
    assert.equal(pods.kind, "PodList");
    assert.equal((await get("/version", "Bearer wrong")).status, 401);

    const basic = "Basic " + btoa(`basic-user:${PASSWORD}`);
    const b = JSON.parse((await get("/echo", basic)).body);
    assert.equal(b.user, "basic-user");
    assert.equal(b.authScheme, "basic");
    assert.equal(b.cn, null);
    assert.equal(
      (await get("/echo", "Basic " + btoa("basic-user:nope"))).status,
      401,
    );

    await cluster.setTokens({ "new-token": "newbie" });
    assert.equal((await get("/version", `Bearer ${TOKEN}`)).status, 401);
    assert.equal(
      JSON.parse((await get("/echo", "Bearer new-token")).body).user,
      "newbie",
    );
    await cluster.setBasic([]);
    assert.equal((await get("/echo", basic)).status, 401);
    await cluster.setTokens({ [TOKEN]: "token-user" });
    await cluster.setBasic([{ username: "basic-user", password: PASSWORD }]);
  });

  test("/echo redacts Authorization; no record contains a secret", async () => {
    await cluster.reset();
    const a = await request(cluster.url + "/echo?x=1", {
      ca: cluster.caPem,
      agent: false,
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "x-custom": "hello" },
      body: "payload-text",
    });
    const echo = JSON.parse(a.body);
    assert.equal(echo.headers.authorization, "Bearer");
    assert.equal(echo.headers["x-custom"], "hello");
    assert.equal(echo.method, "POST");
    assert.equal(echo.path, "/echo?x=1");
    assert.equal(echo.body, "payload-text");
    assert.equal(echo.user, "token-user");
    assert.equal(echo.authScheme, "bearer");
    assert.ok(!a.body.includes(TOKEN));
    await request(cluster.url + "/echo", {
      ca: cluster.caPem,
      agent: false,
      headers: { authorization: "Basic " + btoa(`basic-user:${PASSWORD}`) },
    });
    const dump = JSON.stringify([
      await cluster.requests(),
      await cluster.connections(),
      await cluster.stats(),
    ]);
    assert.ok(!dump.includes(TOKEN), dump);
    assert.ok(!dump.includes(PASSWORD), dump);
    assert.ok(!dump.includes(btoa(`basic-user:${PASSWORD}`)), dump);
    const stats = await cluster.stats();
    assert.equal(stats.requests, 2);
    assert.equal(stats.byStatus["200"], 2);
  });

  test("a watch streams one event line per interval; count ends it", {
    timeout: 20_000,
  }, async () => {
    const a = await request(
      cluster.url +
        "/api/v1/namespaces/default/pods?watch=true&intervalMs=10&count=3",
      {
        ca: cluster.caPem,
        agent: false,
        headers: { authorization: `Bearer ${TOKEN}` },
      },
    );
    assert.equal(a.status, 200);
    const events = a.body.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(events.length, 3);
    assert.deepEqual(events.map((e) => e.type), ["ADDED", "ADDED", "ADDED"]);
    assert.equal(events[2].object.metadata.name, "pod-3");
  });

  test(
    "an endless watch flushes events; closing the client closes the connection",
    {
      timeout: 20_000,
    },
    async () => {
      await cluster.reset();
      const lines: string[] = [];
      const connId = await new Promise<number>((resolve, reject) => {
        const req = https.request(
          cluster.url +
            "/api/v1/namespaces/default/pods?watch=true&intervalMs=20",
          {
            ca: cluster.caPem,
            agent: false,
            headers: { authorization: `Bearer ${TOKEN}`, "x-request-id": "w1" },
          },
          (res) => {
            let buf = "";
            res.setEncoding("utf8");
            res.on("data", (c: string) => {
              buf += c;
              const parts = buf.split("\n");
              buf = parts.pop()!;
              lines.push(...parts);
              if (lines.length >= 2) {
                req.destroy();
                cluster.requests().then((rs) =>
                  resolve(rs.find((r) => r.id === "w1")!.conn)
                ).catch(reject);
              }
            });
            res.on("error", () => {});
          },
        );
        req.on("error", () => {});
        req.end();
      });
      assert.ok(lines.length >= 2);
      assert.equal(JSON.parse(lines[0]).type, "ADDED");
      const closed = await cluster.waitClosed([connId], 5000);
      assert.deepEqual(closed, { ok: true, open: [] });
      const rec = (await cluster.requests()).find((r) => r.id === "w1")!;
      assert.equal(rec.status, 200);
      assert.equal(rec.completed, false);
      assert.ok(rec.endedAt !== null);
    },
  );

  test("waitClosed() times out while open, succeeds once the client closes", {
    timeout: 20_000,
  }, async () => {
    const agent = new https.Agent({
      keepAlive: true,
      ca: cluster.caPem,
      cert: clientPair.certPem,
      key: clientPair.keyPem,
    });
    const echo = JSON.parse(
      (await request(cluster.url + "/echo", { agent })).body,
    );
    const pending = await cluster.waitClosed([echo.conn], 50);
    assert.deepEqual(pending, { ok: false, open: [echo.conn] });
    const stats = await cluster.stats();
    assert.ok(stats.connectionsOpen >= 1);
    const waiting = cluster.waitClosed([echo.conn], 5000);
    agent.destroy();
    assert.deepEqual(await waiting, { ok: true, open: [] });
    const rec = (await cluster.connections()).find((c) => c.id === echo.conn)!;
    assert.ok(rec.closedAt !== null && rec.closedAt >= rec.openedAt);
  });

  test("destroyConnections() closes connections from the server side", {
    timeout: 20_000,
  }, async () => {
    const agent = new https.Agent({
      keepAlive: true,
      ca: cluster.caPem,
      cert: clientPair.certPem,
      key: clientPair.keyPem,
    });
    try {
      const echo = JSON.parse(
        (await request(cluster.url + "/echo", { agent })).body,
      );
      await cluster.destroyConnections();
      assert.deepEqual(await cluster.waitClosed([echo.conn], 5000), {
        ok: true,
        open: [],
      });
    } finally {
      agent.destroy();
    }
  });

  test("an expired or foreign client certificate does not authenticate", {
    timeout: 20_000,
  }, async () => {
    const expired = await issueCertificate(cluster.ca, {
      commonName: "expired-user",
      usage: "client",
      notBefore: new Date(Date.now() - 7200_000),
      validSeconds: -60,
    });
    const otherCa = await createCa({ commonName: "other-ca" });
    const foreign = await issueCertificate(otherCa, {
      commonName: "foreign-user",
      usage: "client",
    });
    for (
      const [pair, cn] of [[expired, "expired-user"], [
        foreign,
        "foreign-user",
      ]] as const
    ) {
      const a = await request(cluster.url + "/echo", {
        ca: cluster.caPem,
        cert: pair.certPem,
        key: pair.keyPem,
        agent: false,
      });
      assert.equal(a.status, 401, cn);
      // The same connection still accepts a token.
      const b = await request(cluster.url + "/echo", {
        ca: cluster.caPem,
        cert: pair.certPem,
        key: pair.keyPem,
        agent: false,
        headers: { authorization: `Bearer ${TOKEN}`, "x-request-id": cn },
      });
      const echo = JSON.parse(b.body);
      assert.equal(echo.user, "token-user");
      assert.equal(echo.cn, null);
      const conn = (await cluster.connections()).find((c) =>
        c.id === echo.conn
      )!;
      assert.equal(conn.authorized, false);
      assert.equal(conn.cn, null);
      assert.equal(conn.presentedCn, cn);
    }
  });

  test("/slow, /redirect and unknown paths", { timeout: 20_000 }, async () => {
    const opts = {
      ca: cluster.caPem,
      agent: false,
      headers: { authorization: `Bearer ${TOKEN}` },
    } as const;
    const started = Date.now();
    const slow = await request(cluster.url + "/slow?ms=100", opts);
    assert.equal(slow.status, 200);
    assert.ok(Date.now() - started >= 90);
    const redirect = await request(
      cluster.url + "/redirect?to=" + encodeURIComponent("/version") +
        "&status=307",
      opts,
    );
    assert.equal(redirect.status, 307);
    assert.equal(redirect.headers.location, "/version");
    const missing = await request(cluster.url + "/nope", opts);
    assert.equal(missing.status, 404);
    assert.equal(JSON.parse(missing.body).reason, "NotFound");
  });
});

describe("cluster server options", () => {
  test("requireClientCert rejects a handshake without a certificate", {
    timeout: 20_000,
  }, async () => {
    const cluster = await startCluster({ requireClientCert: true });
    try {
      await assert.rejects(
        request(cluster.url + "/healthz", { ca: cluster.caPem, agent: false }),
      );
      const pair = await issueCertificate(cluster.ca, {
        commonName: "strict-user",
        usage: "client",
      });
      const a = await request(cluster.url + "/echo", {
        ca: cluster.caPem,
        cert: pair.certPem,
        key: pair.keyPem,
        agent: false,
      });
      assert.equal(JSON.parse(a.body).user, "strict-user");
    } finally {
      await cluster.close();
    }
  });

  test("http2 negotiates h2 (curl) and records ALPN per connection", {
    timeout: 20_000,
  }, async () => {
    const cluster = await startCluster({
      http2: true,
      tokens: { tk: "h2-user" },
    });
    try {
      const pair = await issueCertificate(cluster.ca, {
        commonName: "h2-cert-user",
        usage: "client",
      });
      const certFile = join(cluster.dir, "client.crt");
      const keyFile = join(cluster.dir, "client.key");
      writeFileSync(certFile, pair.certPem);
      writeFileSync(keyFile, pair.keyPem);
      const out = await run("curl", [
        "-sS",
        "--http2",
        "--cacert",
        join(cluster.dir, "ca.crt"),
        "--cert",
        certFile,
        "--key",
        keyFile,
        cluster.url + "/echo",
        cluster.url + "/echo",
      ]);
      assert.equal(out.code, 0, out.stderr);
      const [first, second] = out.stdout.replace("}{", "}\n{").split("\n")
        .map((l) => JSON.parse(l));
      assert.equal(first.user, "h2-cert-user");
      assert.equal(first.conn, second.conn);
      const conn = (await cluster.connections()).find((c) =>
        c.id === first.conn
      )!;
      assert.equal(conn.alpn, "h2");
      assert.equal(conn.requests, 2);
      // HTTP/1.1 still works on the h2 server.
      const h1 = await request(cluster.url + "/echo", {
        ca: cluster.caPem,
        agent: false,
        headers: { authorization: "Bearer tk" },
      });
      assert.equal(JSON.parse(h1.body).user, "h2-user");
    } finally {
      await cluster.close();
    }
  });

  test("TLS sessions are not resumed unless sessionResumption is set", {
    timeout: 30_000,
  }, async () => {
    for (const sessionResumption of [false, true]) {
      const cluster = await startCluster({ sessionResumption });
      try {
        const files: Record<string, string> = {};
        for (const who of ["a", "b"]) {
          const pair = await issueCertificate(cluster.ca, {
            commonName: `user-${who}`,
            usage: "client",
          });
          files[`${who}.crt`] = join(cluster.dir, `${who}.crt`);
          files[`${who}.key`] = join(cluster.dir, `${who}.key`);
          writeFileSync(files[`${who}.crt`], pair.certPem);
          writeFileSync(files[`${who}.key`], pair.keyPem);
        }
        const sess = join(cluster.dir, "session.pem");
        const port = new URL(cluster.url).port;
        // -ign_eof: s_client exits when the server closes (Connection: close).
        const echo = async (who: string, sessArgs: string[]) => {
          const out = await new Promise<string>((resolve, reject) => {
            const child = execFile(
              "openssl",
              [
                "s_client",
                "-connect",
                `127.0.0.1:${port}`,
                "-CAfile",
                join(cluster.dir, "ca.crt"),
                "-cert",
                files[`${who}.crt`],
                "-key",
                files[`${who}.key`],
                "-quiet",
                "-ign_eof",
                ...sessArgs,
              ],
              { encoding: "utf8" },
              (err, stdout) => err ? reject(err) : resolve(stdout),
            );
            child.stdin!.end(
              "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            );
          });
          return JSON.parse(out.slice(out.indexOf("{")));
        };
        const first = await echo("a", ["-sess_out", sess]);
        assert.equal(first.user, "user-a");
        const second = await echo("b", ["-sess_in", sess]);
        const conn = (await cluster.connections()).find((c) =>
          c.id === second.conn
        )!;
        assert.equal(conn.sessionReused, sessionResumption);
        // A resumed session keeps the first identity: the hazard to avoid.
        assert.equal(second.user, sessionResumption ? "user-a" : "user-b");
      } finally {
        await cluster.close();
      }
    }
  });

  test(
    "close() ends the server process and removes its dir; a dead server fails fast",
    {
      timeout: 20_000,
    },
    async () => {
      const a = await startCluster();
      assert.doesNotThrow(() => process.kill(a.pid, 0));
      await a.close();
      assert.throws(() => process.kill(a.pid, 0), /ESRCH/);
      assert.equal(existsSync(a.dir), false);
      await a.close(); // idempotent

      const b = await startCluster();
      process.kill(b.pid, "SIGKILL");
      await b.close();
      await assert.rejects(b.stats(), /not running/);
    },
  );
});

describe("demo plugin", () => {
  let cluster: TestCluster;
  let state: { path: string; remove(): Promise<void> };
  before(async () => {
    cluster = await startCluster({ tokens: demoTokens(20) });
    state = await makeTempDir("kubeauth-plugin-");
  });
  after(async () => {
    await cluster.close();
    await state.remove();
  });

  function runPlugin(exec: ReturnType<typeof demoPluginExec>) {
    const env: Record<string, string> = {
      KUBERNETES_EXEC_INFO: JSON.stringify({
        apiVersion: exec.apiVersion,
        kind: "ExecCredential",
        spec: { interactive: false },
      }),
    };
    for (const e of exec.env) env[e.name] = e.value;
    return run(exec.command, exec.args, env);
  }

  test("prints a valid ExecCredential whose certificate the cluster accepts", {
    timeout: 30_000,
  }, async () => {
    const exec = demoPluginExec({
      stateDir: state.path,
      caDir: cluster.dir,
      ttlSeconds: 5,
      apiVersion: "client.authentication.k8s.io/v1beta1",
    });
    assert.equal(exec.command, BUN);
    assert.equal(exec.interactiveMode, "Never");
    assert.equal(await pluginRuns(state.path), 0);
    const out = await runPlugin(exec);
    assert.equal(out.code, 0, out.stderr);
    assert.match(
      out.stderr,
      /demo plugin: issued CN=demo-user-1, expires in 5s/,
    );
    const cred = JSON.parse(out.stdout);
    assert.equal(cred.apiVersion, "client.authentication.k8s.io/v1beta1");
    assert.equal(cred.kind, "ExecCredential");
    assert.equal(cred.status.token, undefined);
    const exp = Date.parse(cred.status.expirationTimestamp);
    assert.match(
      cred.status.expirationTimestamp,
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    );
    assert.ok(Math.abs(exp - (Date.now() + 5000)) < 4000);
    const certFile = join(state.path, "c.crt");
    writeFileSync(certFile, cred.status.clientCertificateData);
    assert.match(
      openssl(["x509", "-in", certFile, "-noout", "-subject"]),
      /O = demo, CN = demo-user-1/,
    );
    assert.match(
      openssl(["verify", "-CAfile", join(cluster.dir, "ca.crt"), certFile]),
      /OK/,
    );
    const a = await request(cluster.url + "/echo", {
      ca: cluster.caPem,
      cert: cred.status.clientCertificateData,
      key: cred.status.clientKeyData,
      agent: false,
    });
    assert.equal(JSON.parse(a.body).user, "demo-user-1");
    assert.equal(await pluginRuns(state.path), 1);
    const info = JSON.parse(
      readFileSync(join(state.path, "exec-info.json"), "utf8"),
    );
    assert.equal(info.apiVersion, "client.authentication.k8s.io/v1beta1");
  });

  test(
    "token mode returns <prefix>-<n>, which demoTokens() registers; runs are counted",
    {
      timeout: 30_000,
    },
    async () => {
      const exec = demoPluginExec({
        stateDir: state.path,
        caDir: cluster.dir,
        mode: "token",
      });
      const before = await pluginRuns(state.path);
      const out = await runPlugin(exec);
      assert.equal(out.code, 0, out.stderr);
      const cred = JSON.parse(out.stdout);
      const n = before + 1;
      assert.equal(cred.apiVersion, "client.authentication.k8s.io/v1");
      assert.equal(cred.status.token, `demo-token-${n}`);
      assert.equal(cred.status.clientCertificateData, undefined);
      assert.ok(!out.stderr.includes(cred.status.token));
      assert.equal(await pluginRuns(state.path), n);
      assert.deepEqual(await pluginTokens(state.path), {
        [`demo-token-${n}`]: `demo-user-${n}`,
      });
      const a = await request(cluster.url + "/echo", {
        ca: cluster.caPem,
        agent: false,
        headers: { authorization: `Bearer ${cred.status.token}` },
      });
      assert.equal(JSON.parse(a.body).user, `demo-user-${n}`);

      const both = await runPlugin(
        demoPluginExec({
          stateDir: state.path,
          caDir: cluster.dir,
          mode: "both",
        }),
      );
      const c2 = JSON.parse(both.stdout);
      assert.equal(c2.status.token, `demo-token-${n + 1}`);
      assert.match(c2.status.clientCertificateData, /BEGIN CERTIFICATE/);
      assert.equal(await pluginRuns(state.path), n + 1);

      const failing = await runPlugin(
        demoPluginExec({
          stateDir: state.path,
          caDir: cluster.dir,
          extraArgs: ["--exit-code", "3"],
        }),
      );
      assert.equal(failing.code, 3);
      assert.equal(failing.stdout, "");
      assert.equal(await pluginRuns(state.path), n + 2);
    },
  );
});

describe("helpers", () => {
  test("runtime paths, repoPath, writeKubeconfig", async () => {
    for (const bin of [BUN, DENO, NODE]) assert.ok(existsSync(bin), bin);
    const version = await run(NODE, [
      "-p",
      "process.version + typeof Bun + typeof Deno",
    ]);
    assert.match(version.stdout, /^v\d+\.\d+\.\d+undefinedundefined$/m);
    assert.equal(repoPath("tests"), join(process.cwd(), "tests"));
    const tmp = await makeTempDir();
    try {
      const path = await writeKubeconfig(tmp.path, { apiVersion: "v1" });
      assert.equal(path, join(tmp.path, "kubeconfig"));
      assert.deepEqual(JSON.parse(readFileSync(path, "utf8")), {
        apiVersion: "v1",
      });
    } finally {
      await tmp.remove();
    }
    assert.equal(existsSync(tmp.path), false);
  });
});
