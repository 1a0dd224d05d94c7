// The kubeconfig's certificate-authority is the only root the API server's
// certificate may chain to, as in kubectl (client-go builds its root pool
// from that CA alone). The server here has a certificate from a CA that the
// runtime trusts by default (NODE_EXTRA_CA_CERTS for Node and Bun, DENO_CERT
// for Deno, set in the child's environment) but that is not the
// kubeconfig's CA: the CLI must refuse it before sending the token. With no
// certificate-authority in the kubeconfig the same CLI accepts it (the
// runtime's roots, which proves the root is trusted by default in that
// process), and kubectl refuses it as kubeauth does.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import {
  makeTempDir,
  type TestCluster,
  writeKubeconfig,
} from "./support/harness.ts";
import { kubeconfigFor } from "./support/authed_fetch.ts";
import { probeCommand } from "./support/runtime_probe.ts";
import { createCa, issueCertificate } from "./support/pki.ts";
import { detectRuntime } from "../src/runtime/detect.ts";

const TOKEN = "trust-token-0123456789abcdef";

let tmp: { path: string; remove(): Promise<void> };
let cli: { argv: string[]; cleanup(): void };
let server: Server;
let serverUrl: string;
let trustedRoot: string; // a file holding the default-trusted CA
let kubeconfigCa: string; // the kubeconfig's CA (did not sign the server)
const seen: string[] = []; // Authorization headers that reached the server

before(async () => {
  tmp = await makeTempDir("kubeauth-trust-");
  cli = await probeCommand(
    detectRuntime() === "node" ? "testdata/cli/node_entry.ts" : "src/cli.ts",
  );
  const root = await createCa({ commonName: "default-trusted root" });
  const other = await createCa({ commonName: "kubeconfig CA" });
  const pair = await issueCertificate(root, {
    commonName: "apiserver",
    usage: "server",
  });
  trustedRoot = join(tmp.path, "root.pem");
  writeFileSync(trustedRoot, root.certPem);
  kubeconfigCa = other.certPem;
  server = createServer(
    { cert: pair.certPem, key: pair.keyPem },
    (req, res) => {
      seen.push(String(req.headers.authorization ?? ""));
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ major: "1", minor: "32" }));
    },
  );
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  serverUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  cli?.cleanup();
  server?.closeAllConnections();
  await new Promise((r) => server ? server.close(r) : r(undefined));
  await tmp?.remove();
});

async function kubeconfig(name: string, ca: string | undefined) {
  const dir = join(tmp.path, name);
  mkdirSync(dir, { recursive: true });
  // kubeconfigFor needs only the server URL and the CA of a cluster.
  const server = { url: serverUrl, caPem: ca ?? "" } as TestCluster;
  const noCa = ca === undefined
    ? { "certificate-authority-data": undefined }
    : {};
  return await writeKubeconfig(
    dir,
    kubeconfigFor(server, { token: TOKEN }, noCa),
  );
}

function run(
  argv: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), {
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        NODE_EXTRA_CA_CERTS: trustedRoot,
        DENO_CERT: trustedRoot,
      },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

function kubeauthFetch(config: string) {
  return run([...cli.argv, "fetch", "/version", "--kubeconfig", config]);
}

test("a server certificate from a root the runtime trusts, but not from the kubeconfig's CA, is refused before the token is sent", async () => {
  // Control: without certificate-authority the runtime's roots apply, and
  // they include the server's root in this process.
  const noCa = await kubeconfig("no-ca", undefined);
  const open = await kubeauthFetch(noCa);
  assert.equal(open.code, 0, open.stderr);
  assert.match(open.stdout, /"minor":"32"/);
  assert.deepEqual(seen, [`Bearer ${TOKEN}`]);

  const pinned = await kubeconfig("pinned", kubeconfigCa);
  const refused = await kubeauthFetch(pinned);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /certificate|issuer|verify/i);
  assert.ok(!refused.stderr.includes(TOKEN));
  assert.deepEqual(seen, [`Bearer ${TOKEN}`]); // nothing more arrived

  // kubectl with the same kubeconfig refuses it too.
  const kubectl = await run([
    "kubectl",
    "--kubeconfig",
    pinned,
    "get",
    "--raw",
    "/version",
  ]);
  assert.notEqual(kubectl.code, 0);
  assert.match(kubectl.stderr, /x509: certificate signed by unknown authority/);
  assert.deepEqual(seen, [`Bearer ${TOKEN}`]);
});

test("the same server is refused for a WebSocket (kubeauth exec) before the token is sent", async () => {
  const pinned = await kubeconfig("pinned-ws", kubeconfigCa);
  const before = seen.length;
  const r = await run([
    ...cli.argv,
    "exec",
    "--kubeconfig",
    pinned,
    "web",
    "--",
    "true",
  ]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /certificate|issuer|verify/i);
  assert.ok(!r.stderr.includes(TOKEN));
  assert.equal(seen.length, before);
});
