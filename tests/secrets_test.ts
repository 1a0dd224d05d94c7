// Secrets never leak. A broad run of failure scenarios — bad kubeconfigs
// holding tokens, passwords and keys; plugins printing tokens in invalid
// answers or on stderr; 401s; bad PEM keys; `kubeauth credential` without
// --show-secrets; CLI error lines (in-process and from a real CLI process);
// authedFetch events; the fake API server's request records — and every
// text produced is checked for every secret the tests used. Errors and
// credentials are also printed the ways a user would print them
// (console.log/inspect, JSON, String, the `cause` chain).
//
// And credentials never go to another origin: an absolute URL (string, URL,
// Request, protocol-relative) of another origin is refused with
// ORIGIN_REFUSED, and a redirect to another origin is not followed with the
// credentials — a second fake API server sees no request at all.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { inspect } from "node:util";
import { issueCertificate } from "./support/pki.ts";
import { createAuthedFetch } from "../src/fetch/authed_fetch.ts";
import type { AuthedFetchEvent } from "../src/fetch/authed_fetch.ts";
import { main } from "../src/cli.ts";
import { createCredentialSource } from "../src/fetch/credential_source.ts";
import { KubeauthError } from "../src/errors.ts";
import { resolveDefaultContext } from "../src/kubeconfig/mod.ts";
import { detectRuntime } from "../src/runtime/detect.ts";
import { getRuntimeAdapter } from "../src/runtime/mod.ts";
import type { ProcessIo } from "../src/runtime/process_io.ts";
import { makeTempDir, startCluster } from "./support/harness.ts";
import type { TestCluster } from "./support/harness.ts";
import { probeCommand } from "./support/runtime_probe.ts";

const ROOT = process.cwd();
const PLUGIN = join(ROOT, "testdata", "plugins", "test_plugin.sh");
const V1 = "client.authentication.k8s.io/v1";

// Every secret of this file. None may appear in anything checked.
const STATIC_TOKEN = "SEKRIT-static-token-a1";
const PLUGIN_TOKEN = "SEKRIT-plugin-token-b2";
const REJECTED_TOKEN = "SEKRIT-rejected-token-c3";
const PASSWORD = "SEKRIT-password-d4";
const ID_TOKEN = "SEKRIT-id-token-e5";
const CLIENT_SECRET = "SEKRIT-client-secret-f6";
const GARBAGE_KEY = "SEKRIT-garbage-key-g7";
const URL_PASSWORD = "SEKRIT-url-password-h8";
const FILE_TOKEN = "SEKRIT-file-token-i9";
const TAGGED = "SEKRIT-tagged-token-j0";
const SECRETS = [
  STATIC_TOKEN,
  PLUGIN_TOKEN,
  REJECTED_TOKEN,
  PASSWORD,
  ID_TOKEN,
  CLIENT_SECRET,
  GARBAGE_KEY,
  URL_PASSWORD,
  FILE_TOKEN,
  TAGGED,
];

let cluster: TestCluster;
let other: TestCluster;
let tmp: { path: string; remove(): Promise<void> };
let keyPem = "";
let certPem = "";
let otherKeyPem = "";
/** 20-character pieces of the private keys' base64: none may appear. */
const keyFragments: string[] = [];

before(async () => {
  [cluster, other, tmp] = await Promise.all([
    startCluster({
      tokens: { [PLUGIN_TOKEN]: "alice", [STATIC_TOKEN]: "alice" },
      basic: [{ username: "bob", password: PASSWORD }],
    }),
    startCluster({ tokens: { [PLUGIN_TOKEN]: "mallory" } }),
    makeTempDir("kubeauth-secrets-"),
  ]);
  const [a, b] = await Promise.all([
    issueCertificate(cluster.ca, { commonName: "carol", usage: "client" }),
    issueCertificate(cluster.ca, { commonName: "dave", usage: "client" }),
  ]);
  certPem = a.certPem;
  keyPem = a.keyPem;
  otherKeyPem = b.keyPem;
  for (const pem of [keyPem, otherKeyPem]) {
    const body = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
    for (let i = 0; i + 20 <= body.length; i += 20) {
      keyFragments.push(body.slice(i, i + 20));
    }
  }
});

after(async () => {
  await Promise.all([cluster?.close(), other?.close()]);
  await tmp?.remove();
});

/** Everything produced by the running test, with where it came from. */
let seen: { where: string; text: string }[] = [];

function record(where: string, text: string): void {
  seen.push({ where, text });
}

/** The ways a user prints an error or a credential. */
function printed(value: unknown): string {
  const parts = [
    inspect(value, { depth: 20, showHidden: false }),
    inspect(value, { depth: 20, showHidden: true }),
    String(value),
  ];
  try {
    parts.push(JSON.stringify(value) ?? "");
  } catch {
    // circular: inspect covers it
  }
  const g = globalThis as {
    Deno?: { inspect(v: unknown, o?: unknown): string };
    Bun?: { inspect(v: unknown, o?: unknown): string };
  };
  if (g.Deno) parts.push(g.Deno.inspect(value, { depth: 20 }));
  if (g.Bun) parts.push(g.Bun.inspect(value, { depth: 20 }));
  for (
    let e = (value as { cause?: unknown })?.cause, i = 0;
    e !== undefined && e !== null && i < 10;
    e = (e as { cause?: unknown }).cause, i++
  ) {
    parts.push(inspect(e, { depth: 20 }), String(e));
    if (e instanceof Error) parts.push(e.message, e.stack ?? "");
  }
  if (value instanceof Error) parts.push(value.message, value.stack ?? "");
  return parts.join("\n");
}

function assertClean(): void {
  const leaks: string[] = [];
  const all = seen;
  seen = [];
  for (const { where, text } of all) {
    for (const s of [...SECRETS, ...keyFragments]) {
      if (text.includes(s)) {
        const i = text.indexOf(s);
        leaks.push(
          `${where}: contains ${
            s.startsWith("SEKRIT") ? s : "private key material"
          } … ${JSON.stringify(text.slice(Math.max(0, i - 80), i + 40))}`,
        );
        break;
      }
    }
  }
  assert.deepEqual(leaks, [], `secrets leaked:\n${leaks.join("\n")}`);
}

const b64 = (s: string) => btoa(s);

/** A kubeconfig (YAML text) around a user block (YAML, indented 4). */
function yamlKubeconfig(userYaml: string, server = cluster.url): string {
  return `apiVersion: v1
kind: Config
current-context: c
clusters:
- name: c
  cluster:
    server: ${server}
    certificate-authority-data: ${b64(cluster.caPem)}
contexts:
- name: c
  context: {cluster: c, user: u}
users:
- name: u
  user:
${userYaml}
`;
}

function pluginUser(output: string, extra = ""): string {
  return `    exec:
      command: ${PLUGIN}
      apiVersion: ${V1}
      interactiveMode: Never
      env:
      - name: TEST_OUTPUT
        value: ${JSON.stringify(output)}
${extra}`;
}

function captureIo(): ProcessIo & { out: () => string; err: () => string } {
  const dec = new TextDecoder();
  let out = "";
  let err = "";
  return {
    args: () => [],
    writeStdout: (c) => {
      out += dec.decode(c);
      return Promise.resolve();
    },
    writeStderr: (c) => {
      err += dec.decode(c);
      return Promise.resolve();
    },
    stdin: () => new ReadableStream({ start: (c) => c.close() }),
    exit: () => Promise.reject(new Error("exit() not expected")),
    out: () => out,
    err: () => err,
  };
}

let fileCounter = 0;
function writeConfig(text: string): string {
  const dir = join(tmp.path, `s${++fileCounter}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "kubeconfig");
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

/**
 * Uses a kubeconfig every way a user would: createAuthedFetch + a request
 * (errors, events, response bodies), the credential source directly, and
 * the CLI's fetch and credential commands in-process. Records everything.
 */
async function exercise(
  name: string,
  file: string,
  messagesOnly = false,
): Promise<void> {
  // A plugin that logs its own secret to stderr: its stderr is passed
  // through and kept (as ExecPluginError.stderrTail) on purpose, so only the
  // messages are checked then.
  const show = (err: unknown) =>
    messagesOnly
      ? [err instanceof Error ? err.message : String(err), String(err)].join(
        "\n",
      )
      : printed(err);
  const events: AuthedFetchEvent[] = [];
  try {
    const kube = await createAuthedFetch({
      kubeconfig: file,
      onEvent: (e) => events.push(e),
    });
    try {
      const res = await kube("/version");
      record(`${name}: response`, `${res.status} ${await res.text()}`);
    } catch (err) {
      record(`${name}: request error`, show(err));
    } finally {
      await kube.close();
    }
  } catch (err) {
    record(`${name}: createAuthedFetch error`, show(err));
  }
  record(`${name}: events`, printed(events));
  try {
    const ctx = await resolveDefaultContext({ kubeconfig: file });
    const source = createCredentialSource(ctx, {
      adapter: await getRuntimeAdapter(),
    });
    try {
      record(`${name}: credentials`, printed(await source.get()));
    } catch (err) {
      record(`${name}: source error`, show(err));
    } finally {
      await source.close();
    }
  } catch (err) {
    record(`${name}: resolve error`, show(err));
  }
  for (const argv of [["fetch", "/version"], ["credential"]]) {
    const io = captureIo();
    const code = await main([...argv, "--kubeconfig", file], io);
    record(`${name}: cli ${argv[0]} (exit ${code})`, io.out() + io.err());
    if (code !== 0) {
      assert.match(io.err(), /^error: [^\n]*\n$/, `${name}: one error line`);
    }
  }
}

test(
  "no secret in any error, event, log line or output of a broad run of failures",
  {
    timeout: 120_000,
  },
  async () => {
    const tokenFile = join(tmp.path, "token-file");
    writeFileSync(tokenFile, `${FILE_TOKEN}\nsecond line\n`);
    const scenarios: [string, string][] = [
      // Bad kubeconfigs holding secrets.
      [
        "YAML: bad indentation after a token",
        yamlKubeconfig(`    token: ${STATIC_TOKEN}\n   password: ${PASSWORD}`),
      ],
      [
        "YAML: unterminated quote in a token",
        yamlKubeconfig(`    token: "${STATIC_TOKEN}\n    username: x`),
      ],
      [
        "YAML: broken flow mapping",
        yamlKubeconfig(`    {token: ${STATIC_TOKEN}, password: [${PASSWORD}}`),
      ],
      [
        "YAML: duplicated key",
        yamlKubeconfig(
          `    token: ${STATIC_TOKEN}\n    token: ${STATIC_TOKEN}`,
        ),
      ],
      [
        "YAML: a token that reads as a tag",
        yamlKubeconfig(`    token: !${TAGGED}`),
      ],
      [
        "YAML: a token of the wrong type",
        yamlKubeconfig(`    token: [${STATIC_TOKEN}]`),
      ],
      [
        "token and basic auth together",
        yamlKubeconfig(
          `    token: ${STATIC_TOKEN}\n    username: bob\n    password: ${PASSWORD}`,
        ),
      ],
      [
        "password without username",
        yamlKubeconfig(`    password: ${PASSWORD}`),
      ],
      [
        "client-key-data that is not base64",
        yamlKubeconfig(
          `    client-certificate-data: ${
            b64(certPem)
          }\n    client-key-data: "${GARBAGE_KEY}!!"`,
        ),
      ],
      [
        "client-key-data that is not a key",
        yamlKubeconfig(
          `    client-certificate-data: ${b64(certPem)}\n    client-key-data: ${
            b64(
              `-----BEGIN PRIVATE KEY-----\n${
                btoa(GARBAGE_KEY)
              }\n-----END PRIVATE KEY-----\n`,
            )
          }`,
        ),
      ],
      [
        "client-key-data of another certificate",
        yamlKubeconfig(
          `    client-certificate-data: ${b64(certPem)}\n    client-key-data: ${
            b64(otherKeyPem)
          }`,
        ),
      ],
      [
        "client key without certificate",
        yamlKubeconfig(`    client-key-data: ${b64(keyPem)}`),
      ],
      [
        "auth-provider with tokens in its config",
        yamlKubeconfig(
          `    auth-provider:\n      name: oidc\n      config:\n        id-token: ${ID_TOKEN}\n        client-secret: ${CLIENT_SECRET}\n        refresh-token: ${ID_TOKEN}`,
        ),
      ],
      [
        "auth-provider and exec together",
        yamlKubeconfig(
          `    auth-provider: {name: gcp, config: {access-token: ${ID_TOKEN}}}\n${
            pluginUser("{}")
          }`,
        ),
      ],
      [
        "a server URL with a password",
        yamlKubeconfig(
          `    token: ${STATIC_TOKEN}`,
          cluster.url.replace("https://", `https://admin:${URL_PASSWORD}@`),
        ),
      ],
      [
        "an invalid server URL with a password",
        yamlKubeconfig(
          `    token: ${STATIC_TOKEN}`,
          `https://admin:${URL_PASSWORD}@exa mple.com`,
        ),
      ],
      [
        "a static token with a line feed",
        yamlKubeconfig(`    token: "${STATIC_TOKEN}\\nx"`),
      ],
      [
        "a token file with two lines",
        yamlKubeconfig(`    tokenFile: ${tokenFile}`),
      ],
      // 401s.
      [
        "a static token the server rejects",
        yamlKubeconfig(`    token: ${REJECTED_TOKEN}`),
      ],
      [
        "a basic-auth password the server rejects",
        yamlKubeconfig(`    username: bob\n    password: ${PASSWORD}-wrong`),
      ],
      [
        "a plugin token the server rejects (refresh returns it again)",
        yamlKubeconfig(
          pluginUser(
            JSON.stringify({
              apiVersion: V1,
              status: { token: REJECTED_TOKEN },
            }),
          ),
        ),
      ],
      // Plugins printing tokens in invalid answers, or on stderr.
      [
        "plugin: truncated JSON with a token",
        yamlKubeconfig(
          pluginUser(
            `{"apiVersion":"${V1}","status":{"token":"${PLUGIN_TOKEN}`,
          ),
        ),
      ],
      [
        "plugin: a token then garbage",
        yamlKubeconfig(
          pluginUser(
            `{"apiVersion":"${V1}","status":{"token":"${PLUGIN_TOKEN}"}} ${PLUGIN_TOKEN}`,
          ),
        ),
      ],
      [
        "plugin: another apiVersion",
        yamlKubeconfig(
          pluginUser(
            JSON.stringify({
              apiVersion: "client.authentication.k8s.io/v1beta1",
              status: { token: PLUGIN_TOKEN },
            }),
          ),
        ),
      ],
      [
        "plugin: another apiVersion value holding nothing secret, token in kind",
        yamlKubeconfig(
          pluginUser(
            JSON.stringify({
              apiVersion: V1,
              kind: "ExecCredential",
              status: { token: PLUGIN_TOKEN, expirationTimestamp: "soon" },
            }),
          ),
        ),
      ],
      [
        "plugin: a token with CR LF",
        yamlKubeconfig(
          pluginUser(
            JSON.stringify({
              apiVersion: V1,
              status: { token: `${PLUGIN_TOKEN}\r\nX-Evil: 1` },
            }),
          ),
        ),
      ],
      [
        "plugin: invalid YAML with a token",
        yamlKubeconfig(
          pluginUser(`apiVersion: ${V1}\nstatus: {token: ${PLUGIN_TOKEN}, [`),
        ),
      ],
      [
        "plugin: a garbage key",
        yamlKubeconfig(
          pluginUser(
            JSON.stringify({
              apiVersion: V1,
              status: {
                clientCertificateData: certPem,
                clientKeyData:
                  `-----BEGIN PRIVATE KEY-----\n${GARBAGE_KEY}\n-----END PRIVATE KEY-----\n`,
              },
            }),
          ),
        ),
      ],
      [
        "plugin: another certificate's key",
        yamlKubeconfig(
          pluginUser(
            JSON.stringify({
              apiVersion: V1,
              status: {
                clientCertificateData: certPem,
                clientKeyData: otherKeyPem,
              },
            }),
          ),
        ),
      ],
      [
        "plugin: a key without certificate",
        yamlKubeconfig(
          pluginUser(
            JSON.stringify({
              apiVersion: V1,
              status: { clientKeyData: keyPem },
            }),
          ),
        ),
      ],
      // A plugin printing secrets on stderr: tests/plugin_stderr_mask_test.ts
      // (with a quiet adapter, so nothing reaches the test output).
      // Successes: the credential command shows no secret without --show-secrets.
      [
        "plugin: a good token",
        yamlKubeconfig(
          pluginUser(
            JSON.stringify({ apiVersion: V1, status: { token: PLUGIN_TOKEN } }),
          ),
        ),
      ],
      [
        "plugin: a good certificate",
        yamlKubeconfig(
          pluginUser(
            JSON.stringify({
              apiVersion: V1,
              status: {
                token: PLUGIN_TOKEN,
                clientCertificateData: certPem,
                clientKeyData: keyPem,
              },
            }),
          ),
        ),
      ],
      [
        "basic auth",
        yamlKubeconfig(`    username: bob\n    password: ${PASSWORD}`),
      ],
      ["a static token", yamlKubeconfig(`    token: ${STATIC_TOKEN}`)],
    ];
    for (const [name, text] of scenarios) {
      await exercise(name, writeConfig(text), name.includes("on stderr"));
    }
    // --show-secrets does show them (so the checks above are meaningful).
    const io = captureIo();
    assert.equal(
      await main([
        "credential",
        "--show-secrets",
        "--kubeconfig",
        writeConfig(yamlKubeconfig(`    token: ${STATIC_TOKEN}`)),
      ], io),
      0,
    );
    assert.ok(io.out().includes(STATIC_TOKEN));
    // The server's request records.
    record("server records", JSON.stringify(await cluster.requests()));
    record("server connections", JSON.stringify(await cluster.connections()));
    assert.ok(seen.length > 5 * scenarios.length);
    assertClean();
  },
);

/** Runs the CLI as a real process under the current runtime. */
async function runCli(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const runtime = detectRuntime();
  let argv: string[];
  let cleanup = () => {};
  if (runtime === "deno") {
    argv = [process.execPath, "run", "-A", join(ROOT, "src", "cli.ts")];
  } else if (runtime === "bun") {
    argv = [process.execPath, join(ROOT, "src", "cli.ts")];
  } else {
    const cmd = await probeCommand("testdata/parity/cli_entry.ts");
    argv = cmd.argv;
    cleanup = cmd.cleanup;
  }
  try {
    return await new Promise((resolve, reject) => {
      const child = spawn(argv[0], [...argv.slice(1), ...args], {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (d) => (stdout += d));
      child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      child.on("error", reject);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  } finally {
    cleanup();
  }
}

test(
  "the CLI as a real process: error lines and credential output hold no secret",
  {
    timeout: 60_000,
  },
  async () => {
    const cases: [string, string, string[], boolean][] = [
      [
        "plugin: truncated JSON with a token",
        yamlKubeconfig(
          pluginUser(
            `{"apiVersion":"${V1}","status":{"token":"${PLUGIN_TOKEN}`,
          ),
        ),
        ["fetch", "/version"],
        false,
      ],
      [
        "a static token with a line feed",
        yamlKubeconfig(`    token: "${STATIC_TOKEN}\\nx"`),
        ["fetch", "/version"],
        false,
      ],
      [
        "credential without --show-secrets",
        yamlKubeconfig(
          pluginUser(
            JSON.stringify({
              apiVersion: V1,
              status: {
                token: PLUGIN_TOKEN,
                clientCertificateData: certPem,
                clientKeyData: keyPem,
              },
            }),
          ),
        ),
        ["credential"],
        true,
      ],
    ];
    seen = [];
    await Promise.all(cases.map(async ([name, text, args, ok]) => {
      const r = await runCli([...args, "--kubeconfig", writeConfig(text)]);
      assert.equal(r.code === 0, ok, `${name}: exit ${r.code}\n${r.stderr}`);
      if (!ok) assert.match(r.stderr, /(^|\n)error: [^\n]+\n$/, name);
      record(`real CLI, ${name}`, r.stdout + r.stderr);
    }));
    assert.equal(seen.length, cases.length);
    assertClean();
  },
);

test(
  "credentials never go to another origin: refused URLs, unfollowed redirects",
  {
    timeout: 60_000,
  },
  async () => {
    seen = [];
    const events: AuthedFetchEvent[] = [];
    const kube = await createAuthedFetch({
      kubeconfig: writeConfig(
        yamlKubeconfig(
          pluginUser(
            JSON.stringify({ apiVersion: V1, status: { token: PLUGIN_TOKEN } }),
          ),
        ),
      ),
      onEvent: (e) => events.push(e),
    });
    try {
      const elsewhere = `${other.url}/version`;
      const refused: [string, () => Promise<Response>][] = [
        ["absolute URL string", () => kube(elsewhere)],
        ["URL object", () => kube(new URL(elsewhere))],
        ["Request object", () => kube(new Request(elsewhere))],
        [
          "Request with init",
          () => kube(new Request(elsewhere), { method: "POST", body: "x" }),
        ],
        [
          "protocol-relative",
          () => kube(`//${new URL(other.url).host}/version`),
        ],
        [
          "localhost alias",
          () =>
            kube(cluster.url.replace("127.0.0.1", "localhost") + "/version"),
        ],
        [
          "http instead of https",
          () => kube(cluster.url.replace("https:", "http:") + "/version"),
        ],
      ];
      for (const [what, call] of refused) {
        await assert.rejects(call(), (err) => {
          assert.ok(err instanceof KubeauthError, `${what}: ${err}`);
          assert.equal(err.code, "ORIGIN_REFUSED", what);
          record(`refused ${what}`, printed(err));
          return true;
        });
      }
      // Same-origin requests work (the credentials are fine).
      const ok = await kube("/version");
      assert.equal(ok.status, 200);
      await ok.body?.cancel();
      // Redirects to the other server: handed back, not followed.
      for (const status of [301, 302, 303, 307, 308]) {
        for (const redirect of ["follow", undefined] as const) {
          const res = await kube(
            `/redirect?status=${status}&to=${encodeURIComponent(elsewhere)}`,
            redirect ? { redirect } : undefined,
          );
          assert.equal(res.status, status, `redirect ${status} was followed`);
          assert.equal(res.headers.get("location"), elsewhere);
          await res.body?.cancel();
        }
      }
      // A same-origin redirect to a path is followed, with the credentials.
      const same = await kube(
        `/redirect?status=307&to=${encodeURIComponent("/echo")}`,
      );
      assert.equal(same.status, 200);
      assert.equal((await same.json()).user, "alice");
    } finally {
      await kube.close();
    }
    // The CLI refuses too.
    const io = captureIo();
    const code = await main([
      "fetch",
      `${other.url}/version`,
      "--kubeconfig",
      writeConfig(yamlKubeconfig(`    token: ${STATIC_TOKEN}`)),
    ], io);
    assert.equal(code, 1);
    assert.match(
      io.err(),
      /^error: refusing to send a request to https:\/\/127\.0\.0\.1:\d+/,
    );
    record("cli refused", io.err());
    // The other server saw nothing at all: no request, no connection.
    assert.deepEqual(await other.requests(), []);
    assert.deepEqual(await other.connections(), []);
    record("events", printed(events));
    assertClean();
  },
);
