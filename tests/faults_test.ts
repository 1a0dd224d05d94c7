// Fault injection: each transport failure driven against a real server (a
// TLS server that resets mid-body or never answers, a listener that never
// completes a handshake, a closed port, a server certificate from another
// CA), through the library and the CLI. Every failure must be a
// KubeauthError with the same code and the same message on Deno, Bun and
// Node, naming host:port, the cause and what to check.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { createAuthedFetch } from "../src/fetch/authed_fetch.ts";
import { KubeauthError } from "../src/errors.ts";
import { detectRuntime } from "../src/runtime/detect.ts";
import { makeTempDir, writeKubeconfig } from "./support/harness.ts";
import { startFaultServer } from "./support/faults.ts";
import type { FaultServer } from "./support/faults.ts";
import { execProbe, probeCommand } from "./support/runtime_probe.ts";

let faults: FaultServer;
let tmp: { path: string; remove(): Promise<void> };
let cli: { argv: string[]; cleanup(): void };

before(async () => {
  faults = await startFaultServer();
  tmp = await makeTempDir("kubeauth-faults-");
  cli = await probeCommand(
    detectRuntime() === "node" ? "testdata/cli/node_entry.ts" : "src/cli.ts",
  );
});

after(async () => {
  cli?.cleanup();
  await faults?.close();
  await tmp?.remove();
});

function config(hostPort: string, caPem: string) {
  return {
    apiVersion: "v1",
    kind: "Config",
    "current-context": "faults",
    clusters: [{
      name: "faults",
      cluster: {
        server: `https://${hostPort}`,
        "certificate-authority-data": btoa(caPem),
      },
    }],
    users: [{ name: "faults", user: { token: "fault-token-0123456789" } }],
    contexts: [{
      name: "faults",
      context: { cluster: "faults", user: "faults" },
    }],
  };
}

let n = 0;
async function kubeconfigFile(
  hostPort: string,
  caPem: string,
): Promise<string> {
  const dir = join(tmp.path, String(++n));
  const { mkdirSync } = await import("node:fs");
  mkdirSync(dir, { recursive: true });
  return writeKubeconfig(dir, config(hostPort, caPem));
}

async function failure(p: Promise<unknown>): Promise<KubeauthError> {
  const err = await p.then(
    () => assert.fail("expected a failure"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof KubeauthError, `not a KubeauthError: ${err}`);
  return err;
}

const EXPECTED = {
  refused: (hp: string) =>
    `cannot connect to the cluster at ${hp}: connection refused; check the cluster's server address in the kubeconfig, that the API server is running and reachable from here, and any proxy in the way (proxy-url, HTTPS_PROXY)`,
  wrongCa: (hp: string) =>
    `the server at ${hp} presented a certificate that does not verify: it is not signed by the cluster's CA; check that the cluster's certificate-authority (or certificate-authority-data) is the CA that issued the server's certificate, that tls-server-name names the certificate's host if it differs from the server address, and any proxy in the way (proxy-url, HTTPS_PROXY)`,
  resetBody: (hp: string) =>
    `the connection to ${hp} was closed while the response body was being read (the response is cut off); send the request again, and check any proxy in the way (proxy-url, HTTPS_PROXY) or a load balancer that drops connections`,
  timeout: (hp: string, s: number) =>
    `the request to ${hp} got no answer within ${s} s (the requestTimeoutMs option); check that the API server is healthy and any proxy in the way (proxy-url, HTTPS_PROXY), or raise requestTimeoutMs`,
};

describe("transport faults, library", { timeout: 60_000 }, () => {
  test("a closed port: CONNECTION_FAILED naming host:port", async () => {
    const kube = await createAuthedFetch({
      kubeconfig: await kubeconfigFile(faults.closed, faults.caPem),
    });
    try {
      const err = await failure(kube("/version"));
      assert.equal(err.code, "CONNECTION_FAILED");
      assert.equal(err.message, EXPECTED.refused(faults.closed));
      assert.ok(err.cause !== undefined, "the runtime's error is the cause");
    } finally {
      await kube.close();
    }
  });

  test("a server certificate from another CA: TLS_VERIFY_FAILED", async () => {
    const kube = await createAuthedFetch({
      kubeconfig: await kubeconfigFile(faults.tls, faults.wrongCaPem),
    });
    try {
      const err = await failure(kube("/version"));
      assert.equal(err.code, "TLS_VERIFY_FAILED");
      assert.equal(err.message, EXPECTED.wrongCa(faults.tls));
      assert.ok(err.cause !== undefined);
    } finally {
      await kube.close();
    }
  });

  test("the right CA works (control)", async () => {
    const kube = await createAuthedFetch({
      kubeconfig: await kubeconfigFile(faults.tls, faults.caPem),
    });
    try {
      const res = await kube("/ok");
      assert.equal(res.status, 200);
      assert.equal((await res.json()).kind, "Status");
    } finally {
      await kube.close();
    }
  });

  test("a body cut off mid-response: CONNECTION_RESET from text() and from the stream", async () => {
    const kube = await createAuthedFetch({
      kubeconfig: await kubeconfigFile(faults.tls, faults.caPem),
    });
    try {
      const res = await kube("/reset");
      assert.equal(res.status, 200);
      const err = await failure(res.text());
      assert.equal(err.code, "CONNECTION_RESET");
      assert.equal(err.message, EXPECTED.resetBody(faults.tls));
      assert.ok(err.cause !== undefined);
      const res2 = await kube("/reset");
      const err2 = await failure((async () => {
        for await (const _ of res2.body!) { /* read on */ }
      })());
      assert.equal(err2.code, "CONNECTION_RESET");
      assert.equal(err2.message, EXPECTED.resetBody(faults.tls));
    } finally {
      await kube.close();
    }
  });

  test("a server that never answers: REQUEST_TIMEOUT (requestTimeoutMs)", async () => {
    for (const hp of [faults.tls, faults.hang]) {
      const kube = await createAuthedFetch({
        kubeconfig: await kubeconfigFile(hp, faults.caPem),
        requestTimeoutMs: 300,
      });
      try {
        const err = await failure(kube(hp === faults.tls ? "/hang" : "/x"));
        assert.equal(err.code, "REQUEST_TIMEOUT");
        assert.equal(err.message, EXPECTED.timeout(hp, 0.3));
      } finally {
        await kube.close();
      }
    }
  });

  test("the caller's own abort keeps its reason", async () => {
    const kube = await createAuthedFetch({
      kubeconfig: await kubeconfigFile(faults.tls, faults.caPem),
      requestTimeoutMs: 60_000,
    });
    try {
      const c = new AbortController();
      const reason = new Error("mine");
      const p = kube("/hang", { signal: c.signal });
      c.abort(reason);
      const err = await p.then(() => undefined, (e: unknown) => e);
      assert.ok(!(err instanceof KubeauthError), String(err));
    } finally {
      await kube.close();
    }
  });

  test("an invalid method is refused before sending: REQUEST_INVALID", async () => {
    const kube = await createAuthedFetch({
      kubeconfig: await kubeconfigFile(faults.tls, faults.caPem),
    });
    try {
      for (const method of ["BAD METHOD", "", "GET\r\n", "TRACE"]) {
        const err = await failure(kube("/ok", { method }));
        assert.equal(err.code, "REQUEST_INVALID", JSON.stringify(method));
        assert.match(err.message, /^invalid HTTP method /);
      }
    } finally {
      await kube.close();
    }
  });
});

describe("transport faults, CLI", { timeout: 120_000 }, () => {
  const run = (args: string[]) =>
    execProbe(cli.argv[0], [...cli.argv.slice(1), ...args]);

  test("each failure prints its one error line, the same on every runtime", async () => {
    const cases: [string, string, string, string[]][] = [
      [faults.closed, faults.caPem, EXPECTED.refused(faults.closed), [
        "/version",
      ]],
      [faults.tls, faults.wrongCaPem, EXPECTED.wrongCa(faults.tls), [
        "/version",
      ]],
      [faults.tls, faults.caPem, EXPECTED.resetBody(faults.tls), ["/reset"]],
      [
        faults.tls,
        faults.caPem,
        `the request to ${faults.tls} got no answer within 0.5 s (--timeout); check that the API server is healthy and any proxy in the way (proxy-url, HTTPS_PROXY), or raise --timeout`,
        ["/hang", "--timeout", "0.5"],
      ],
    ];
    for (const [hp, ca, expected, args] of cases) {
      const file = await kubeconfigFile(hp, ca);
      const r = await run(["fetch", ...args, "--kubeconfig", file]);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr.trimEnd().split("\n").at(-1), `error: ${expected}`);
    }
  });

  test("-X with an invalid method is refused, never sent as GET", async () => {
    const file = await kubeconfigFile(faults.tls, faults.caPem);
    for (const method of ["FOO BAR", ""]) {
      const r = await run(["fetch", "/ok", "-X", method, "--kubeconfig", file]);
      assert.equal(r.code, 1, r.stdout);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /^error: invalid HTTP method /);
    }
  });
});
