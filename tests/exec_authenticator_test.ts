// The exec authenticator end to end with real plugin processes
// (testdata/plugins/test_plugin.sh, misbehave.sh): client-go's TestRefreshCreds
// and TestRoundTripper cases, caching and refresh margins on an injected
// clock, single-flight, backoff, 401 handling, the process-wide registry,
// events, interactive modes (faked and on a real terminal via `script`), and
// that no secret reaches an error message or an event.
//
// kubectl v1.32 with the same kind of plugin and kubeconfig (`kubectl
// --kubeconfig K get --raw /version`), for comparison:
//   KUBERNETES_EXEC_INFO with provideClusterInfo:
//     {"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"cluster":{"server":…,
//      "tls-server-name":"bar","certificate-authority-data":"LS0t…","config":{"apiVersion":"group/v1","kind":
//      "PluginConfig","spec":{"a":"\u003cx\u003e","audience":"snorlax","z":1}}},"interactive":false}}\n
//     (trailing newline; config keys sorted; <>& escaped. kubectl normalises the server URL
//      — `/foo<&>` became `/foo%3C\u0026%3E` — kubeauth sends it as written.)
//   interactiveMode Always, stdin not a terminal:
//     exec plugin cannot support interactive mode: standard input is not a terminal
//   v1 without interactiveMode: error: interactiveMode must be specified for u to use exec
//     authentication plugin (kubeconfig validation); kubeauth reports client-go's exec.go
//     message `exec plugin cannot support interactive mode: unknown interactiveMode: ""`.
//   a token with a newline: credentials accepted, then
//     net/http: invalid header field value for "Authorization"; kubeauth refuses it at once.
//   a failing plugin: kubectl runs it again on every request (and retries); kubeauth backs off.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import type { Credentials } from "../src/credentials/credentials.ts";
import { ExecPluginError, KubeauthError } from "../src/errors.ts";
import {
  ExecAuthenticator,
  getExecAuthenticator,
  sharedExecAuthenticatorCount,
} from "../src/exec/authenticator.ts";
import type { ExecEvent } from "../src/exec/events.ts";
import type { ExecConfig, ResolvedCluster } from "../src/kubeconfig/types.ts";
import { detectRuntime } from "../src/runtime/detect.ts";
import { getRuntimeAdapter } from "../src/runtime/mod.ts";
import type { ChildProcess, RuntimeAdapter } from "../src/runtime/types.ts";

const root = process.cwd();
const PLUGIN = join(root, "testdata", "plugins", "test_plugin.sh");
const MISBEHAVE = join(root, "testdata", "plugins", "misbehave.sh");
const V1 = "client.authentication.k8s.io/v1";
const B1 = "client.authentication.k8s.io/v1beta1";
const A1 = "client.authentication.k8s.io/v1alpha1";
const T0 = Date.parse("2030-01-01T00:00:00Z");

let base = "";
let real: RuntimeAdapter;
let counter = 0;
const pem: Record<string, string> = {};

before(async () => {
  base = mkdtempSync(join(tmpdir(), "kubeauth-auth-"));
  real = await getRuntimeAdapter();
  const ossl = (...args: string[]) =>
    execFileSync("openssl", args, {
      cwd: base,
      stdio: ["ignore", "pipe", "pipe"],
    });
  ossl(
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-out",
    "a.key",
  );
  ossl(
    "req",
    "-x509",
    "-new",
    "-key",
    "a.key",
    "-out",
    "a.crt",
    "-subj",
    "/O=devs/CN=alice",
    "-days",
    "1",
  );
  ossl(
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-out",
    "b.key",
  );
  ossl(
    "req",
    "-x509",
    "-new",
    "-key",
    "b.key",
    "-out",
    "b.crt",
    "-subj",
    "/CN=bob",
    "-days",
    "1",
  );
  ossl(
    "genpkey",
    "-algorithm",
    "RSA",
    "-pkeyopt",
    "rsa_keygen_bits:2048",
    "-out",
    "r.p8",
  );
  ossl("rsa", "-in", "r.p8", "-traditional", "-out", "r.p1");
  ossl(
    "req",
    "-x509",
    "-new",
    "-key",
    "r.p8",
    "-out",
    "r.crt",
    "-subj",
    "/CN=rsa-user",
    "-days",
    "1",
  );
  ossl("genpkey", "-algorithm", "ED25519", "-out", "e.key");
  ossl(
    "req",
    "-x509",
    "-new",
    "-key",
    "e.key",
    "-out",
    "e.crt",
    "-subj",
    "/CN=ed-user",
    "-days",
    "1",
  );
  for (
    const f of [
      "a.key",
      "a.crt",
      "b.key",
      "b.crt",
      "r.p1",
      "r.crt",
      "e.key",
      "e.crt",
    ]
  ) {
    pem[f] = readFileSync(join(base, f), "utf8");
  }
});

/** A fresh directory and file names for one test. */
function files() {
  const dir = join(base, `t${++counter}`);
  execFileSync("mkdir", ["-p", dir]);
  return {
    dir,
    out: join(dir, "out.json"),
    info: join(dir, "info.json"),
    runs: join(dir, "runs.log"),
    exit: join(dir, "exit"),
    pid: join(dir, "pid"),
  };
}

function runsIn(log: string): number {
  return existsSync(log)
    ? readFileSync(log, "utf8").split("\n").filter(Boolean).length
    : 0;
}

function cred(status: Record<string, unknown>, apiVersion = B1): string {
  return JSON.stringify({ kind: "ExecCredential", apiVersion, status });
}

function execConfig(
  f: ReturnType<typeof files>,
  over: Partial<ExecConfig> = {},
  extraEnv: { name: string; value: string }[] = [],
): ExecConfig {
  return {
    command: PLUGIN,
    apiVersion: B1,
    env: [
      { name: "TEST_OUTPUT_FILE", value: f.out },
      { name: "TEST_INFO_FILE", value: f.info },
      { name: "TEST_RUN_LOG", value: f.runs },
      { name: "TEST_EXIT_CODE_FILE", value: f.exit },
      ...extraEnv,
    ],
    ...over,
  };
}

function setOutput(f: ReturnType<typeof files>, text: string, exit = 0): void {
  writeFileSync(f.out, text);
  writeFileSync(f.exit, String(exit));
}

const CLUSTER: ResolvedCluster = {
  name: "c",
  server: "foo",
  tlsServerName: "bar",
  caPem: "baz",
  insecureSkipTlsVerify: false,
  disableCompression: false,
  execExtension: {
    apiVersion: "group/v1",
    kind: "PluginConfig",
    spec: { audience: "snorlax" },
  },
};

function withTerminal(tty: boolean): RuntimeAdapter {
  return { ...real, stdinIsTerminal: () => tty };
}

async function rejectsWith(
  p: Promise<unknown>,
  code: string,
  text: string,
): Promise<KubeauthError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof KubeauthError, `not a KubeauthError: ${caught}`);
  assert.equal(caught.code, code, caught.message);
  assert.ok(
    caught.message.includes(text),
    `${caught.message}\n  lacks: ${text}`,
  );
  return caught;
}

test(
  "client-go TestRefreshCreds: credentials, validation and the request sent",
  { timeout: 60_000 },
  async () => {
    type Case = {
      name: string;
      over?: Partial<ExecConfig>;
      output: string;
      cluster?: ResolvedCluster;
      tty?: boolean;
      wantToken?: string;
      wantSubject?: string;
      wantExpiry?: string;
      wantInput?: string;
      wantErr?: [string, string];
    };
    const input = (interactive: boolean, v = B1, cluster = "") =>
      `{"kind":"ExecCredential","apiVersion":"${v}","spec":{${cluster}"interactive":${interactive}}}\n`;
    const token = cred({ token: "foo-bar" });
    const cases: Case[] = [
      {
        name: "beta-with-TLS-credentials",
        output: cred({
          clientKeyData: pem["a.key"],
          clientCertificateData: pem["a.crt"],
        }),
        wantSubject: "CN=alice,O=devs",
        wantInput: input(false),
      },
      {
        name: "beta-with-bad-TLS-credentials",
        output: cred({ clientKeyData: "foo", clientCertificateData: "bar" }),
        wantErr: [
          "CERT_INVALID",
          "failed parsing client key/certificate: failed to find any PEM data in certificate input",
        ],
      },
      {
        name: "beta-cert-but-no-key",
        output: cred({ clientCertificateData: pem["a.crt"] }),
        wantErr: [
          "EXEC_OUTPUT_INVALID",
          "exec plugin returned only certificate or key, not both",
        ],
      },
      {
        name: "beta-basic-request",
        output: token,
        wantToken: "foo-bar",
        wantInput: input(false),
      },
      {
        name: "…-never-interactive-mode",
        over: { interactiveMode: "Never" },
        output: token,
        wantToken: "foo-bar",
        wantInput: input(false),
      },
      {
        name: "…-never-interactive-mode-and-terminal",
        over: { interactiveMode: "Never" },
        tty: true,
        output: token,
        wantToken: "foo-bar",
        wantInput: input(false),
      },
      {
        name: "…-if-available-interactive-mode",
        over: { interactiveMode: "IfAvailable" },
        output: token,
        wantToken: "foo-bar",
        wantInput: input(false),
      },
      {
        name: "…-if-available-interactive-mode-and-terminal",
        over: { interactiveMode: "IfAvailable" },
        tty: true,
        output: token,
        wantToken: "foo-bar",
        wantInput: input(true),
      },
      {
        name: "beta-basic-request-with-always-interactive-mode",
        over: { interactiveMode: "Always" },
        output: token,
        wantErr: [
          "EXEC_INTERACTIVE_UNAVAILABLE",
          "exec plugin cannot support interactive mode: standard input is not a terminal",
        ],
      },
      {
        name: "…-always-interactive-mode-and-terminal",
        over: { interactiveMode: "Always" },
        tty: true,
        output: token,
        wantToken: "foo-bar",
        wantInput: input(true),
      },
      {
        name: "beta-expiry",
        output: cred({
          token: "foo-bar",
          expirationTimestamp: "2006-01-02T15:04:05Z",
        }),
        wantToken: "foo-bar",
        wantExpiry: "2006-01-02T15:04:05.000Z",
      },
      {
        name: "beta-no-group-version",
        output: `{"kind":"ExecCredential","status":{"token":"foo-bar"}}`,
        wantErr: [
          "EXEC_OUTPUT_INVALID",
          `exec plugin is configured to use API version ${B1}, plugin returned version client.authentication.k8s.io/__internal`,
        ],
      },
      {
        name: "beta-no-status",
        output: `{"kind":"ExecCredential","apiVersion":"${B1}"}`,
        wantErr: [
          "EXEC_OUTPUT_INVALID",
          "exec plugin didn't return a status field",
        ],
      },
      {
        name: "beta-no-token",
        output: cred({}),
        wantErr: [
          "EXEC_OUTPUT_INVALID",
          "exec plugin didn't return a token or cert/key pair",
        ],
      },
      {
        name: "beta-with-cluster-and-provide-cluster-info-is-serialized",
        over: { provideClusterInfo: true },
        cluster: CLUSTER,
        output: token,
        wantToken: "foo-bar",
        wantInput: input(
          false,
          B1,
          `"cluster":{"server":"foo","tls-server-name":"bar","certificate-authority-data":"YmF6","config":{"apiVersion":"group/v1","kind":"PluginConfig","spec":{"audience":"snorlax"}}},`,
        ),
      },
      {
        name:
          "beta-with-cluster-and-without-provide-cluster-info-is-not-serialized",
        cluster: CLUSTER,
        output: token,
        wantToken: "foo-bar",
        wantInput: input(false),
      },
      {
        name: "v1-basic-request",
        over: { apiVersion: V1, interactiveMode: "IfAvailable" },
        output: cred({ token: "foo-bar" }, V1),
        wantToken: "foo-bar",
        wantInput: input(false, V1),
      },
      {
        name: "v1alpha1 (deprecated) still works",
        over: { apiVersion: A1 },
        output: cred({ token: "foo-bar" }, A1),
        wantToken: "foo-bar",
        wantInput: `{"kind":"ExecCredential","apiVersion":"${A1}","spec":{}}\n`,
      },
      {
        name: "YAML output",
        output:
          `apiVersion: ${B1}\nkind: ExecCredential\nstatus:\n  token: yaml-token\n  expirationTimestamp: 2099-01-01T00:00:00Z\n`,
        wantToken: "yaml-token",
        wantExpiry: "2099-01-01T00:00:00.000Z",
      },
      {
        name: "RSA PKCS#1 key",
        output: cred({
          clientKeyData: pem["r.p1"],
          clientCertificateData: pem["r.crt"],
          token: "both",
        }),
        wantToken: "both",
        wantSubject: "CN=rsa-user",
      },
      {
        name: "Ed25519 key",
        output: cred({
          clientKeyData: pem["e.key"],
          clientCertificateData: pem["e.crt"],
        }),
        wantSubject: "CN=ed-user",
      },
      {
        name: "mismatched key",
        output: cred({
          clientKeyData: pem["b.key"],
          clientCertificateData: pem["a.crt"],
        }),
        wantErr: [
          "CERT_INVALID",
          "failed parsing client key/certificate: private key does not match public key",
        ],
      },
      {
        name: "token with a line feed",
        output: cred({ token: "abc\ndef" }),
        wantErr: ["EXEC_OUTPUT_INVALID", "a line feed (LF)"],
      },
    ];
    for (const c of cases) {
      const f = files();
      setOutput(f, c.output);
      const auth = new ExecAuthenticator(execConfig(f, c.over), c.cluster, {
        adapter: withTerminal(c.tty ?? false),
      });
      try {
        if (c.wantErr) {
          await rejectsWith(auth.get(), c.wantErr[0], c.wantErr[1]);
          continue;
        }
        const creds = await auth.get();
        assert.equal(creds.token, c.wantToken, c.name);
        assert.equal(creds.clientCertificate?.subject, c.wantSubject, c.name);
        assert.equal(creds.expiresAt?.toISOString(), c.wantExpiry, c.name);
        if (c.wantInput !== undefined) {
          assert.equal(readFileSync(f.info, "utf8"), c.wantInput, c.name);
        }
      } finally {
        await auth.close();
      }
    }
  },
);

test(
  "the same certificate and key from fresh authenticators (validated once per process): identical results, a mismatch still refused",
  { timeout: 60_000 },
  async () => {
    const sec1 = execFileSync("openssl", ["ec", "-in", join(base, "a.key")], {
      stdio: ["ignore", "pipe", "ignore"],
    }).toString();
    const pairs: [string, string, string][] = [
      ["PKCS#8 EC", pem["a.crt"], pem["a.key"]],
      ["SEC1 EC", pem["a.crt"], sec1],
      ["PKCS#1 RSA", pem["r.crt"], pem["r.p1"]],
    ];
    const once = async (certPem: string, keyPem: string) => {
      const f = files();
      setOutput(
        f,
        cred({ clientCertificateData: certPem, clientKeyData: keyPem }),
      );
      const auth = new ExecAuthenticator(execConfig(f), undefined, {
        adapter: real,
      });
      try {
        return (await auth.get()).clientCertificate!;
      } finally {
        await auth.close();
      }
    };
    const seen = new Map<string, string>();
    for (let round = 0; round < 3; round++) {
      for (const [name, certPem, keyPem] of pairs) {
        const cc = await once(certPem, keyPem);
        assert.match(cc.keyPem, /^-----BEGIN PRIVATE KEY-----\n/, name);
        const got = JSON.stringify([cc.fingerprint, cc.certPem, cc.keyPem]);
        if (round === 0) seen.set(name, got);
        else assert.equal(got, seen.get(name), name);
      }
      // The same certificate with another key: refused every time.
      const f = files();
      setOutput(
        f,
        cred({
          clientCertificateData: pem["a.crt"],
          clientKeyData: pem["b.key"],
        }),
      );
      const auth = new ExecAuthenticator(execConfig(f), undefined, {
        adapter: real,
      });
      await rejectsWith(
        auth.get(),
        "CERT_INVALID",
        "private key does not match public key",
      );
      await auth.close();
    }
    // The EC key in SEC1 and in PKCS#8 is one identity.
    assert.equal(
      JSON.parse(seen.get("SEC1 EC")!)[0],
      JSON.parse(seen.get("PKCS#8 EC")!)[0],
    );
  },
);

test("v1-with-missing-interactive-mode and unknown apiVersions fail at construction", () => {
  const f = files();
  assert.throws(
    () =>
      new ExecAuthenticator(execConfig(f, { apiVersion: V1 }), undefined, {
        adapter: real,
      }),
    (err) =>
      err instanceof KubeauthError && err.code === "EXEC_CONFIG_INVALID" &&
      err.message ===
        'exec plugin cannot support interactive mode: unknown interactiveMode: ""',
  );
  assert.throws(
    () =>
      getExecAuthenticator(
        execConfig(f, { apiVersion: "client.authentication.k8s.io/v2" }),
        CLUSTER,
        { adapter: real },
      ),
    (err) =>
      err instanceof KubeauthError && err.code === "EXEC_CONFIG_INVALID" &&
      err.message ===
        'exec plugin: invalid apiVersion "client.authentication.k8s.io/v2"',
  );
  assert.equal(runsIn(f.runs), 0);
});

test("unknown-binary and binary-fails through the authenticator", {
  timeout: 30_000,
}, async () => {
  const f = files();
  const a = new ExecAuthenticator(
    {
      command: "does not exist",
      apiVersion: B1,
      installHint: "some install hint \x1b[1mbold",
    },
    undefined,
    { adapter: real },
  );
  const err = await rejectsWith(
    a.get(),
    "EXEC_NOT_FOUND",
    "some install hint U+001B[1mbold",
  );
  assert.ok(
    err.message.startsWith(
      "exec: executable does not exist not found\n\nIt looks like you are trying to use a client-go credential plugin that is not installed.",
    ),
  );
  await a.close();
  setOutput(f, "", 73);
  const passedThrough: string[] = [];
  const b = new ExecAuthenticator(
    execConfig(f, {}, [{ name: "TEST_STDERR", value: "plugin says no" }]),
    undefined,
    {
      adapter: {
        ...real,
        writeStderr: (c) =>
          void passedThrough.push(new TextDecoder().decode(c)),
      },
    },
  );
  const e2 = await rejectsWith(
    b.get(),
    "EXEC_FAILED",
    "failed with exit code 73",
  );
  assert.ok(e2 instanceof ExecPluginError);
  assert.equal(e2.exitCode, 73);
  assert.equal(e2.stderrTail, "plugin says no\n");
  assert.equal(passedThrough.join(""), "plugin says no\n");
  await b.close();
});

test(
  "environment: host env, then the config's env (last duplicate wins), then KUBERNETES_EXEC_INFO",
  { timeout: 30_000 },
  async () => {
    const f = files();
    setOutput(f, cred({ token: "t" }));
    const envFile = join(f.dir, "env.txt");
    const adapter: RuntimeAdapter = {
      ...real,
      env: () => ({
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        FOO: "host",
        BAR: "host",
        KUBERNETES_EXEC_INFO: "host",
      }),
    };
    const auth = new ExecAuthenticator(
      execConfig(f, {}, [
        { name: "FOO", value: "one" },
        { name: "FOO", value: "two" },
        { name: "KUBERNETES_EXEC_INFO", value: "from-config" },
        { name: "TEST_ENV_FILE", value: envFile },
        { name: "TEST_ENV_NAMES", value: "FOO BAR KUBERNETES_EXEC_INFO" },
      ]),
      undefined,
      { adapter },
    );
    await auth.get();
    assert.equal(
      readFileSync(envFile, "utf8"),
      `two\nhost\n{"kind":"ExecCredential","apiVersion":"${B1}","spec":{"interactive":false}}\n\n`,
    );
    await auth.close();
  },
);

test(
  "client-go TestRoundTripper: cached token, 401 → refresh, expiry → proactive refresh",
  { timeout: 60_000 },
  async () => {
    const f = files();
    let clock = T0;
    const auth = new ExecAuthenticator(execConfig(f), undefined, {
      adapter: real,
      now: () => clock,
    });
    let serverWants = "";
    const request = async (): Promise<
      { status: number; retry: Credentials | null }
    > => {
      const creds = await auth.get();
      if (creds.token === serverWants) return { status: 200, retry: null };
      const retry = await auth.refreshAfterUnauthorized(creds, {
        code: 401,
        header: {},
      });
      return { status: 401, retry };
    };
    setOutput(f, cred({ token: "token1" }));
    serverWants = "token1";
    assert.equal((await request()).status, 200);
    assert.equal(runsIn(f.runs), 1);
    setOutput(f, cred({ token: "token2" }));
    assert.equal((await request()).status, 200, "cached token1 still used");
    assert.equal(runsIn(f.runs), 1);
    serverWants = "token2";
    const r3 = await request();
    assert.equal(r3.status, 401);
    assert.equal(
      r3.retry?.token,
      "token2",
      "the refresh returns the newer credentials",
    );
    assert.equal(runsIn(f.runs), 2);
    assert.equal((await request()).status, 200);
    assert.equal(runsIn(f.runs), 2);
    setOutput(
      f,
      cred({
        token: "token3",
        expirationTimestamp: new Date(clock + 3600_000).toISOString(),
      }),
    );
    serverWants = "token3";
    assert.equal((await request()).status, 401);
    assert.equal((await request()).status, 200);
    assert.equal(runsIn(f.runs), 3);
    clock += 2 * 3600_000;
    setOutput(f, cred({ token: "token4" }));
    serverWants = "token4";
    assert.equal(
      (await request()).status,
      200,
      "expired: refreshed before sending, no 401",
    );
    assert.equal(runsIn(f.runs), 4);
    await auth.close();
  },
);

test(
  "refresh margin scales with the lifetime (10%, at most 60 s); failures before expiry keep the old credentials",
  { timeout: 60_000 },
  async () => {
    const f = files();
    let clock = T0;
    const events: ExecEvent[] = [];
    const auth = new ExecAuthenticator(execConfig(f), undefined, {
      adapter: real,
      now: () => clock,
      onEvent: (e) => events.push(e),
    });
    // 10 s lifetime: refreshed after 9 s.
    setOutput(
      f,
      cred({
        token: "short",
        expirationTimestamp: new Date(clock + 10_000).toISOString(),
      }),
    );
    const first = await auth.get();
    clock += 8_900;
    assert.equal(await auth.get(), first);
    clock += 200;
    setOutput(
      f,
      cred({
        token: "long",
        expirationTimestamp: new Date(clock + 3600_000).toISOString(),
      }),
    );
    const second = await auth.get();
    assert.equal(second.token, "long");
    assert.equal(runsIn(f.runs), 2);
    // 1 h lifetime: the margin is capped at 60 s.
    clock += 3600_000 - 61_000;
    assert.equal(await auth.get(), second);
    clock += 2_000; // 59 s before expiry: refresh, which fails…
    setOutput(f, "", 1);
    assert.equal(
      await auth.get(),
      second,
      "…but the old credentials are still valid",
    );
    assert.equal(runsIn(f.runs), 3);
    const failed = events.filter((e) => e.type === "plugin-run" && !e.ok);
    assert.equal(failed.length, 1);
    // During the backoff the still-valid credentials keep being served, no run.
    assert.equal(await auth.get(), second);
    assert.equal(runsIn(f.runs), 3);
    // Once expired, the failure shows.
    clock += 60_000;
    await rejectsWith(auth.get(), "EXEC_FAILED", "failed with exit code 1");
    await auth.close();
  },
);

test(
  "an expirationTimestamp already past (clock skew) is used for 10 s with a warning, not per request",
  { timeout: 30_000 },
  async () => {
    const f = files();
    let clock = T0;
    const events: ExecEvent[] = [];
    const auth = new ExecAuthenticator(execConfig(f), undefined, {
      adapter: real,
      now: () => clock,
      onEvent: (e) => events.push(e),
    });
    setOutput(
      f,
      cred({
        token: "skewed",
        expirationTimestamp: new Date(clock - 5000).toISOString(),
      }),
    );
    const c = await auth.get();
    for (let i = 0; i < 20; i++) assert.equal(await auth.get(), c);
    assert.equal(runsIn(f.runs), 1);
    const warning = events.find((e) => e.type === "warning");
    assert.ok(warning && warning.type === "warning");
    assert.equal(
      warning.message,
      `exec plugin returned an expirationTimestamp ${
        new Date(T0 - 5000).toISOString()
      } that is already past (local time ${
        new Date(T0).toISOString()
      }; clock skew?); using the credentials for 10s before running the plugin again`,
    );
    clock += 10_001;
    await auth.get();
    assert.equal(runsIn(f.runs), 2);
    await auth.close();
  },
);

// Issue 12, item 5: a credential that expired while a slow plugin was still
// running was reported as "clock skew?". The injected clock moves 30 s while
// the (real) plugin runs; its credential expires 10 s after the start.
test(
  "a credential that expired while a slow plugin ran: said so, not clock skew",
  { timeout: 30_000 },
  async () => {
    const f = files();
    let clock = T0;
    const events: ExecEvent[] = [];
    const slow: RuntimeAdapter = {
      ...real,
      spawn: async (o) => {
        const child = await real.spawn(o);
        clock += 30_000;
        return child;
      },
    };
    const auth = new ExecAuthenticator(execConfig(f), undefined, {
      adapter: slow,
      now: () => clock,
      onEvent: (e) => events.push(e),
    });
    setOutput(
      f,
      cred({
        token: "short-lived",
        expirationTimestamp: new Date(T0 + 10_000).toISOString(),
      }),
    );
    const c = await auth.get();
    assert.equal(c.token, "short-lived");
    const warnings = events.filter((e) => e.type === "warning");
    assert.equal(warnings.length, 1);
    const w = warnings[0];
    assert.ok(w.type === "warning");
    assert.equal(
      w.message,
      `exec plugin returned an expirationTimestamp ${
        new Date(T0 + 10_000).toISOString()
      } that expired while the plugin was still running (it took 30s; the credentials it returns live shorter than it runs); using the credentials for 10s before running the plugin again`,
    );
    assert.ok(!w.message.includes("skew"), w.message);
    // Used for the minimum validity, not re-run per request.
    for (let i = 0; i < 5; i++) assert.equal(await auth.get(), c);
    assert.equal(runsIn(f.runs), 1);
    await auth.close();
  },
);

test("500 concurrent get() on an empty cache: exactly one plugin run", {
  timeout: 60_000,
}, async () => {
  const f = files();
  setOutput(f, cred({ token: "shared" }));
  const auth = new ExecAuthenticator(execConfig(f), undefined, {
    adapter: real,
  });
  const all = await Promise.all(Array.from({ length: 500 }, () => auth.get()));
  assert.equal(runsIn(f.runs), 1);
  assert.ok(all.every((c) => c === all[0]));
  await auth.close();
});

test("aborting one caller rejects only that caller; the shared run goes on", {
  timeout: 30_000,
}, async () => {
  const f = files();
  setOutput(f, cred({ token: "shared" }));
  const auth = new ExecAuthenticator(execConfig(f), undefined, {
    adapter: real,
  });
  const ac = new AbortController();
  const a = auth.get(ac.signal);
  const b = auth.get();
  ac.abort(new Error("this caller gave up"));
  await assert.rejects(a, /this caller gave up/);
  assert.equal((await b).token, "shared");
  assert.equal(runsIn(f.runs), 1);
  // Aborted before calling: no run at all.
  const auth2 = new ExecAuthenticator(execConfig(files()), undefined, {
    adapter: real,
  });
  await assert.rejects(
    auth2.get(AbortSignal.abort(new Error("early"))),
    /early/,
  );
  await auth.close();
  await auth2.close();
});

test(
  "failures back off exponentially (1 s doubling, capped); waiters share the failure; success resets",
  { timeout: 60_000 },
  async () => {
    const f = files();
    let clock = T0;
    setOutput(f, "", 3);
    const auth = new ExecAuthenticator(execConfig(f), undefined, {
      adapter: real,
      now: () => clock,
      backoffMaxMs: 4000,
    });
    const errs = await Promise.allSettled(
      Array.from({ length: 10 }, () => auth.get()),
    );
    assert.equal(runsIn(f.runs), 1);
    const first = (errs[0] as PromiseRejectedResult).reason;
    assert.ok(
      errs.every((e) => e.status === "rejected" && e.reason === first),
      "one shared failure",
    );
    assert.ok(first instanceof ExecPluginError);
    assert.equal(first.retryAt?.getTime(), clock + 1000);
    // During the backoff: fail fast, say when, no run.
    const fast = await rejectsWith(
      auth.get(),
      "EXEC_FAILED",
      "failed with exit code 3",
    );
    assert.ok(fast.message.includes("next attempt in 1s"), fast.message);
    assert.ok(fast.message.includes(new Date(clock + 1000).toISOString()));
    assert.equal(runsIn(f.runs), 1);
    const delays: number[] = [];
    let last: ExecPluginError = first;
    for (let i = 0; i < 4; i++) {
      clock = last.retryAt!.getTime(); // the next allowed attempt
      const next = await auth.get().then(() => undefined, (e) => e);
      assert.ok(next instanceof ExecPluginError);
      last = next;
      delays.push(last.retryAt!.getTime() - clock);
    }
    // Delays after failures 2, 3, 4, 5: 2 s, 4 s (cap), 4 s, 4 s.
    assert.deepEqual(delays, [2000, 4000, 4000, 4000]);
    assert.equal(runsIn(f.runs), 5);
    // Success resets the backoff.
    setOutput(
      f,
      cred({
        token: "ok",
        expirationTimestamp: new Date(clock + 3_600_000).toISOString(),
      }),
    );
    clock += 4000;
    assert.equal((await auth.get()).token, "ok");
    clock += 3_600_000; // expired
    setOutput(f, "", 3);
    const again = await rejectsWith(auth.get(), "EXEC_FAILED", "exit code 3");
    assert.equal((again as ExecPluginError).retryAt?.getTime(), clock + 1000);
    await auth.close();
  },
);

test(
  "401: only the current credentials trigger a refresh; concurrent 401s share it; same token → null",
  { timeout: 60_000 },
  async () => {
    const f = files();
    setOutput(f, cred({ token: "one" }));
    let clock = Date.now();
    const auth = new ExecAuthenticator(execConfig(f), undefined, {
      adapter: real,
      now: () => clock,
    });
    const one = await auth.get();
    setOutput(f, cred({ token: "two" }));
    const results = await Promise.all(
      Array.from(
        { length: 20 },
        () => auth.refreshAfterUnauthorized(one, { code: 401, header: {} }),
      ),
    );
    assert.equal(runsIn(f.runs), 2);
    assert.ok(
      results.every((r) => r !== null && r.token === "two" && r === results[0]),
    );
    const two = results[0]!;
    // A late 401 for `one`: no run, the newer credentials are handed back.
    assert.equal(
      await auth.refreshAfterUnauthorized(one, { code: 401, header: {} }),
      two,
    );
    assert.equal(runsIn(f.runs), 2);
    // The plugin keeps returning the same token: nothing new, no retry.
    assert.equal(
      await auth.refreshAfterUnauthorized(two, { code: 401, header: {} }),
      null,
    );
    assert.equal(runsIn(f.runs), 3);
    // Issue 12: the plugin returned the rejected token again, so further
    // 401s do not run it until the backoff (1 s) has passed.
    const same = await auth.get();
    assert.equal(
      await auth.refreshAfterUnauthorized(same, { code: 401, header: {} }),
      null,
    );
    assert.equal(runsIn(f.runs), 3);
    clock += 1_001;
    // A refresh that fails: null, and get() reports the failure (no rejected token reused).
    // (The backoff over, get() re-runs the plugin for the rejected token: run 4.)
    const three = await auth.get();
    assert.equal(runsIn(f.runs), 4);
    setOutput(f, "", 9);
    assert.equal(
      await auth.refreshAfterUnauthorized(three, { code: 401, header: {} }),
      null,
    );
    await rejectsWith(auth.get(), "EXEC_FAILED", "exit code 9");
    assert.equal(
      runsIn(f.runs),
      5,
      "backoff: the get() after the failed refresh did not run the plugin",
    );
    await auth.close();
  },
);

test("v1alpha1: a refresh caused by a 401 sends spec.response", {
  timeout: 30_000,
}, async () => {
  const f = files();
  setOutput(f, cred({ token: "a" }, A1));
  const auth = new ExecAuthenticator(
    execConfig(f, { apiVersion: A1 }),
    undefined,
    {
      adapter: real,
    },
  );
  const a = await auth.get();
  setOutput(f, cred({ token: "b" }, A1));
  const b = await auth.refreshAfterUnauthorized(a, {
    code: 401,
    header: { "Www-Authenticate": ['Bearer realm="k8s"'] },
  });
  assert.equal(b?.token, "b");
  assert.equal(
    readFileSync(f.info, "utf8"),
    `{"kind":"ExecCredential","apiVersion":"${A1}","spec":{"response":{"header":{"Www-Authenticate":["Bearer realm=\\"k8s\\""]},"code":401}}}\n`,
  );
  await auth.close();
});

test(
  "events: plugin runs and rotations, certificateChanged only when the certificate changes, no secrets",
  { timeout: 60_000 },
  async () => {
    const f = files();
    let clock = T0;
    const events: ExecEvent[] = [];
    const auth = new ExecAuthenticator(execConfig(f), undefined, {
      adapter: real,
      now: () => clock,
      onEvent: (e) => events.push(e),
    });
    const exp = () => new Date(clock + 60_000).toISOString();
    setOutput(f, cred({ token: "tok-A-secret", expirationTimestamp: exp() }));
    await auth.get();
    clock += 120_000;
    setOutput(f, cred({ token: "tok-B-secret", expirationTimestamp: exp() }));
    await auth.get();
    clock += 120_000;
    setOutput(
      f,
      cred({
        clientCertificateData: pem["a.crt"],
        clientKeyData: pem["a.key"],
        expirationTimestamp: exp(),
      }),
    );
    await auth.get();
    clock += 120_000;
    await auth.get(); // same certificate again
    clock += 120_000;
    setOutput(
      f,
      cred({
        clientCertificateData: pem["b.crt"],
        clientKeyData: pem["b.key"],
        expirationTimestamp: exp(),
      }),
    );
    await auth.get();
    clock += 120_000;
    setOutput(f, cred({ token: "tok-C-secret", expirationTimestamp: exp() }));
    await auth.get();
    const rotations = events.filter((e) => e.type === "credentials-rotated");
    assert.deepEqual(
      rotations.map((e) =>
        e.type === "credentials-rotated" &&
        [e.certificateChanged, e.subject ?? null]
      ),
      [
        [false, null],
        [false, null],
        [true, "CN=alice,O=devs"],
        [false, "CN=alice,O=devs"],
        [true, "CN=bob"],
        [true, null],
      ],
    );
    const runs = events.filter((e) => e.type === "plugin-run");
    assert.equal(runs.length, 6);
    for (const r of runs) {
      assert.ok(
        r.type === "plugin-run" && r.ok && r.exitCode === 0 &&
          r.signal === null && r.command === PLUGIN,
      );
      assert.ok(r.type === "plugin-run" && r.durationMs >= 0);
    }
    const text = JSON.stringify(events);
    for (
      const secret of [
        "tok-A-secret",
        "tok-B-secret",
        "tok-C-secret",
        "PRIVATE KEY",
        pem["a.key"].split("\n")[1],
      ]
    ) {
      assert.ok(!text.includes(secret), secret);
    }
    await auth.close();
  },
);

test(
  "misbehaving plugins through the authenticator: no secret in any message",
  { timeout: 60_000 },
  async () => {
    const cases: [string[], string, string][] = [
      [
        ["partial"],
        "EXEC_OUTPUT_INVALID",
        "decoding stdout: couldn't get version/kind; json parse error: unexpected end of JSON input",
      ],
      [
        ["garbage-after"],
        "EXEC_OUTPUT_INVALID",
        "invalid character after top-level value",
      ],
      [
        ["empty"],
        "EXEC_OUTPUT_INVALID",
        "exec plugin exited successfully but wrote nothing to stdout",
      ],
      [["signal"], "EXEC_FAILED", "terminated by signal SIGTERM"],
    ];
    for (const [args, code, text] of cases) {
      const events: ExecEvent[] = [];
      const auth = new ExecAuthenticator(
        { command: MISBEHAVE, args, apiVersion: B1 },
        undefined,
        { adapter: real, onEvent: (e) => events.push(e) },
      );
      const err = await rejectsWith(auth.get(), code, text);
      assert.ok(!err.message.includes("SECRET"), err.message);
      assert.ok(!JSON.stringify(events).includes("SECRET"));
      const run = events.find((e) => e.type === "plugin-run");
      assert.ok(
        run && run.type === "plugin-run" && !run.ok && run.error === code,
      );
      await auth.close();
    }
    // Secrets in well-formed but invalid answers are not quoted either.
    const f = files();
    for (
      const out of [
        cred({ token: "SECRET-1\r\n" }),
        cred({ token: "SECRET-2" }, V1),
        cred({
          clientCertificateData: pem["a.crt"],
          clientKeyData: pem["b.key"],
        }),
        cred({ clientCertificateData: "SECRET-3", clientKeyData: "SECRET-4" }),
      ]
    ) {
      setOutput(f, out);
      const auth = new ExecAuthenticator(execConfig(f), undefined, {
        adapter: real,
      });
      let message = "";
      try {
        await auth.get();
      } catch (err) {
        message = (err as Error).message;
      }
      assert.ok(message !== "");
      for (const s of ["SECRET", pem["b.key"].split("\n")[1]]) {
        assert.ok(!message.includes(s), message);
      }
      await auth.close();
    }
  },
);

test(
  "process-wide sharing: one authenticator per key, own events and close() per handle",
  { timeout: 60_000 },
  async () => {
    const f = files();
    setOutput(f, cred({ token: "shared" }));
    const before = sharedExecAuthenticatorCount();
    const e1: ExecEvent[] = [];
    const e2: ExecEvent[] = [];
    const h1 = getExecAuthenticator(execConfig(f), CLUSTER, {
      adapter: real,
      onEvent: (e) => e1.push(e),
    });
    const h2 = getExecAuthenticator(execConfig(f), {
      ...CLUSTER,
      server: "other",
    }, { adapter: real, onEvent: (e) => e2.push(e) });
    assert.equal(h1.kind, "exec");
    assert.equal(
      sharedExecAuthenticatorCount(),
      before + 1,
      "no provideClusterInfo: shared across clusters (client-go)",
    );
    const [c1, c2] = await Promise.all([h1.get(), h2.get()]);
    assert.equal(c1, c2);
    assert.equal(runsIn(f.runs), 1);
    assert.equal(e1.length, 2);
    assert.equal(e2.length, 2, "each handle gets the shared events");
    // A different config is a different authenticator.
    const h3 = getExecAuthenticator(execConfig(f, { args: ["x"] }), CLUSTER, {
      adapter: real,
    });
    assert.equal(sharedExecAuthenticatorCount(), before + 2);
    // With provideClusterInfo the cluster is part of the key.
    const p1 = getExecAuthenticator(
      execConfig(f, { provideClusterInfo: true }),
      CLUSTER,
      { adapter: real },
    );
    const p2 = getExecAuthenticator(
      execConfig(f, { provideClusterInfo: true }),
      { ...CLUSTER, server: "other" },
      { adapter: real },
    );
    const p3 = getExecAuthenticator(
      execConfig(f, { provideClusterInfo: true }),
      { ...CLUSTER },
      { adapter: real },
    );
    assert.equal(sharedExecAuthenticatorCount(), before + 4);
    await h1.close();
    await h1.close(); // idempotent
    await assert.rejects(
      h1.get(),
      (err) => err instanceof KubeauthError && err.code === "CLOSED",
    );
    assert.equal(await h2.get(), c1, "the other handle still has the cache");
    assert.equal(sharedExecAuthenticatorCount(), before + 4);
    await h2.close();
    await Promise.all([h3.close(), p1.close(), p2.close(), p3.close()]);
    assert.equal(sharedExecAuthenticatorCount(), before);
    // A new handle after the last close starts from scratch.
    const h4 = getExecAuthenticator(execConfig(f), CLUSTER, {
      adapter: real,
    });
    await h4.get();
    assert.equal(runsIn(f.runs), 2);
    await h4.close();
  },
);

test(
  "close() of the last handle kills a running plugin and its child; waiting callers get CLOSED",
  { timeout: 30_000 },
  async () => {
    const f = files();
    let started!: (c: ChildProcess) => void;
    const spawned = new Promise<ChildProcess>((r) => (started = r));
    const adapter: RuntimeAdapter = {
      ...real,
      spawn: async (o) => {
        const child = await real.spawn(o);
        started(child);
        return child;
      },
    };
    const h = getExecAuthenticator(
      {
        command: MISBEHAVE,
        args: ["hang"],
        apiVersion: B1,
        env: [{ name: "TEST_PID_FILE", value: f.pid }],
      },
      CLUSTER,
      { adapter },
    );
    const pending = h.get();
    const child = await spawned;
    await h.close();
    await assert.rejects(
      pending,
      (err) => err instanceof KubeauthError && err.code === "CLOSED",
    );
    const gone = async (pid: number) => {
      const deadline = Date.now() + 5000;
      const alive = () => {
        try {
          process.kill(pid, 0);
          const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
          return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
        } catch {
          return false;
        }
      };
      while (alive() && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(alive(), false, `pid ${pid} alive`);
    };
    await gone(child.pid);
    if (existsSync(f.pid)) await gone(Number(readFileSync(f.pid, "utf8")));
  },
);

test(
  "a real terminal (under `script`): IfAvailable and Always hand stdin over, Never does not",
  { timeout: 120_000 },
  async (t) => {
    try {
      execFileSync("script", ["--version"], { stdio: "ignore" });
    } catch {
      t.skip("util-linux `script` not available");
      return;
    }
    const probe = join(root, "testdata", "plugins", "interactive_probe.ts");
    let argv: string[];
    let bundle: string | undefined;
    const runtime = detectRuntime();
    if (runtime === "deno") argv = [process.execPath, "run", "-A", probe];
    else if (runtime === "bun") argv = [process.execPath, probe];
    else {
      const out = join(root, ".cache", `exec-probe-${process.pid}.mjs`);
      execFileSync(join(root, "node_modules", ".bin", "esbuild"), [
        probe,
        "--bundle",
        "--platform=node",
        "--format=esm",
        "--packages=external",
        "--log-level=warning",
        `--outfile=${out}`,
      ]);
      argv = [process.execPath, out];
      bundle = out;
    }
    const cmd = argv.map((a) => `'${a}'`).join(" ");
    // Async: the probes take a while; the event loop stays free.
    const spawnText = (
      file: string,
      args: string[],
      env: Record<string, string>,
    ) =>
      new Promise<string>((resolve, reject) => {
        execFile(file, args, {
          cwd: root,
          env: { ...process.env, NO_COLOR: "1", ...env },
          timeout: 60_000,
        }, (err, stdout) => (err ? reject(err) : resolve(String(stdout))));
      });
    const probeRun = async (
      mode: string,
      extra: Record<string, string> = {},
    ) => {
      const out = await spawnText("script", ["-qec", cmd, "/dev/null"], {
        PROBE_MODE: mode,
        PROBE_DIR: files().dir,
        ...extra,
      });
      const line = out.split(/\r?\n/).find((l) => l.startsWith("{"));
      assert.ok(line, out);
      return JSON.parse(line);
    };
    const unavailable = { PROBE_STDIN_UNAVAILABLE: "used by a request body" };
    assert.deepEqual(await probeRun("IfAvailable"), {
      interactive: true,
      pluginStdin: "tty",
    });
    assert.deepEqual(await probeRun("Always"), {
      interactive: true,
      pluginStdin: "tty",
    });
    assert.deepEqual(await probeRun("Never"), {
      interactive: false,
      pluginStdin: "notty",
    });
    assert.deepEqual(await probeRun("IfAvailable", unavailable), {
      interactive: false,
      pluginStdin: "notty",
    });
    assert.equal(
      (await probeRun("Always", unavailable)).message,
      "exec plugin cannot support interactive mode: standard input is unavailable: used by a request body",
    );
    // And without a terminal (this test process has none).
    const noTty = await spawnText(argv[0], argv.slice(1), {
      PROBE_MODE: "Always",
      PROBE_DIR: files().dir,
    });
    assert.match(noTty, /standard input is not a terminal/);
    if (bundle) rmSync(bundle, { force: true });
  },
);

test("base directory cleanup", () => {
  rmSync(base, { recursive: true, force: true });
});
