// The ExecCredential protocol: KUBERNETES_EXEC_INFO encoding, answer decoding
// and validation, exec config validation. Pure functions; the same rules are
// exercised end to end with real plugin processes in exec_authenticator_test.
//
// Messages were compared with kubectl v1.32 (`kubectl --kubeconfig K get --raw
// /version` with testdata-like plugins printing the same output). kubectl said:
//   ""                      → exec plugin is configured to use API version client.authentication.k8s.io/v1beta1, plugin returned version client.authentication.k8s.io/__internal
//   truncated JSON          → decoding stdout: couldn't get version/kind; json parse error: unexpected end of JSON input
//   JSON + " garbage"       → decoding stdout: couldn't get version/kind; json parse error: invalid character 'g' after top-level value
//   kind "Foo"              → decoding stdout: no kind "Foo" is registered for version "client.authentication.k8s.io/v1beta1" in scheme "pkg/client/auth/exec/exec.go:62"
//   apiVersion v1 (cfg β1)  → exec plugin is configured to use API version client.authentication.k8s.io/v1beta1, plugin returned version client.authentication.k8s.io/v1
//   apiVersion "v1"         → decoding stdout: no kind "ExecCredential" is registered for version "v1" in scheme …
//   status null / missing   → exec plugin didn't return a status field
//   status {}               → exec plugin didn't return a token or cert/key pair
//   token 123               → decoding stdout: json: cannot unmarshal number into Go struct field ExecCredentialStatus.status.token of type string
//   expirationTimestamp ""  → decoding stdout: parsing time "" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "2006"
//   "hello world"           → decoding stdout: couldn't get version/kind; json parse error: json: cannot unmarshal string into Go value of type struct { APIVersion string "json:\"apiVersion,omitempty\""; Kind string "json:\"kind,omitempty\"" }
//   "null", "   "           → …plugin returned version client.authentication.k8s.io/__internal
//   token "a\nb"            → (credentials accepted) net/http: invalid header field value for "Authorization"
//   YAML (multi-doc too)    → accepted (first document)
//   v1alpha1 config         → error: exec plugin: invalid apiVersion "client.authentication.k8s.io/v1alpha1"
//   v1 without interactiveMode → error: interactiveMode must be specified for u to use exec authentication plugin
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  decideInteractive,
  escapeInstallHint,
  normalizeExecConfig,
} from "../src/exec/config.ts";
import {
  decodeExecCredential,
  encodeExecInfo,
  type ExecApiVersion,
  parseRfc3339,
} from "../src/exec/protocol.ts";
import { KubeauthError } from "../src/errors.ts";
import type { ResolvedCluster } from "../src/kubeconfig/types.ts";

const V1 = "client.authentication.k8s.io/v1";
const B1 = "client.authentication.k8s.io/v1beta1";
const A1 = "client.authentication.k8s.io/v1alpha1";

function rejects(fn: () => unknown, code: string, text: string): KubeauthError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof KubeauthError, `not a KubeauthError: ${err}`);
    assert.equal(err.code, code, err.message);
    assert.ok(
      err.message.includes(text),
      `message ${JSON.stringify(err.message)} lacks ${JSON.stringify(text)}`,
    );
    return err;
  }
  assert.fail("did not throw");
}

test("encodeExecInfo: client-go's request, key order and trailing newline", () => {
  assert.equal(
    encodeExecInfo({ apiVersion: B1, interactive: false }),
    `{"kind":"ExecCredential","apiVersion":"${B1}","spec":{"interactive":false}}\n`,
  );
  assert.equal(
    encodeExecInfo({ apiVersion: V1, interactive: true }),
    `{"kind":"ExecCredential","apiVersion":"${V1}","spec":{"interactive":true}}\n`,
  );
});

test("encodeExecInfo: cluster as client-go's beta-with-cluster test (CA baz → YmF6, config verbatim)", () => {
  const cluster: ResolvedCluster = {
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
  assert.equal(
    encodeExecInfo({ apiVersion: B1, interactive: false, cluster }),
    `{"kind":"ExecCredential","apiVersion":"${B1}","spec":{"cluster":{"server":"foo","tls-server-name":"bar","certificate-authority-data":"YmF6","config":{"apiVersion":"group/v1","kind":"PluginConfig","spec":{"audience":"snorlax"}}},"interactive":false}}\n`,
  );
});

test("encodeExecInfo: every cluster field, sorted config keys, Go HTML escaping, config null", () => {
  const cluster: ResolvedCluster = {
    name: "c",
    server: "https://k8s.example:6443/a?b=<c>&d",
    tlsServerName: "api",
    caPem: "-----BEGIN CERTIFICATE-----\n",
    insecureSkipTlsVerify: true,
    proxyUrl: "http://proxy:3128",
    disableCompression: true,
    execExtension: { spec: { z: 1, a: "<x>" }, kind: "K", apiVersion: "g/v1" },
  };
  const info = encodeExecInfo({ apiVersion: V1, interactive: false, cluster });
  // As kubectl printed for the same kubeconfig (keys sorted, <>& escaped).
  assert.ok(
    info.includes(
      `"config":{"apiVersion":"g/v1","kind":"K","spec":{"a":"\\u003cx\\u003e","z":1}}`,
    ),
    info,
  );
  assert.ok(
    info.includes(
      `"server":"https://k8s.example:6443/a?b=\\u003cc\\u003e\\u0026d"`,
    ),
  );
  const parsed = JSON.parse(info);
  assert.deepEqual(Object.keys(parsed.spec.cluster), [
    "server",
    "tls-server-name",
    "insecure-skip-tls-verify",
    "certificate-authority-data",
    "proxy-url",
    "disable-compression",
    "config",
  ]);
  assert.equal(
    atob(parsed.spec.cluster["certificate-authority-data"]),
    cluster.caPem,
  );
  const bare = encodeExecInfo({
    apiVersion: V1,
    interactive: false,
    cluster: {
      name: "",
      server: "https://x",
      insecureSkipTlsVerify: false,
      disableCompression: false,
    },
  });
  assert.equal(
    bare,
    `{"kind":"ExecCredential","apiVersion":"${V1}","spec":{"cluster":{"server":"https://x","config":null},"interactive":false}}\n`,
  );
});

test("encodeExecInfo: v1alpha1 (deprecated) sends spec.response after a 401, omits interactive=false", () => {
  assert.equal(
    encodeExecInfo({ apiVersion: A1, interactive: false }),
    `{"kind":"ExecCredential","apiVersion":"${A1}","spec":{}}\n`,
  );
  assert.equal(
    encodeExecInfo({
      apiVersion: A1,
      interactive: true,
      response: {
        code: 401,
        header: { "www-authenticate": ["Bearer"], "content-type": ["a"] },
      },
    }),
    `{"kind":"ExecCredential","apiVersion":"${A1}","spec":{"response":{"header":{"content-type":["a"],"www-authenticate":["Bearer"]},"code":401},"interactive":true}}\n`,
  );
});

test("encodeExecInfo: the memoised simple requests stay exact, whatever came before", () => {
  const simple = (v: ExecApiVersion, i: boolean) =>
    `{"kind":"ExecCredential","apiVersion":"${v}","spec":{"interactive":${i}}}\n`;
  const cluster: ResolvedCluster = {
    name: "c",
    server: "https://x",
    insecureSkipTlsVerify: false,
    disableCompression: false,
  };
  for (let round = 0; round < 3; round++) {
    for (const v of [V1, B1] as const) {
      for (const i of [false, true]) {
        assert.equal(
          encodeExecInfo({ apiVersion: v, interactive: i }),
          simple(v, i),
        );
        // A cluster or a 401 response is never answered from the memo.
        assert.ok(
          encodeExecInfo({ apiVersion: v, interactive: i, cluster }).includes(
            '"cluster":{"server":"https://x"',
          ),
        );
      }
    }
    assert.equal(
      encodeExecInfo({
        apiVersion: A1,
        interactive: false,
        response: { code: 401, header: {} },
      }),
      `{"kind":"ExecCredential","apiVersion":"${A1}","spec":{"response":{"code":401}}}\n`,
    );
    assert.equal(
      encodeExecInfo({ apiVersion: A1, interactive: false }),
      `{"kind":"ExecCredential","apiVersion":"${A1}","spec":{}}\n`,
    );
  }
});

const ok = (status: string, v = B1) =>
  `{"kind":"ExecCredential","apiVersion":"${v}","status":${status}}`;

test("decodeExecCredential: token, expiry, unknown fields ignored, kind optional", () => {
  assert.deepEqual(decodeExecCredential(ok(`{"token":"foo-bar"}`), B1), {
    token: "foo-bar",
  });
  const d = decodeExecCredential(
    ok(`{"token":"t","expirationTimestamp":"2006-01-02T15:04:05Z","extra":1}`),
    B1,
  );
  assert.equal(
    d.expirationTimestamp?.toISOString(),
    "2006-01-02T15:04:05.000Z",
  );
  assert.equal(
    decodeExecCredential(`{"apiVersion":"${V1}","status":{"token":"x"}}`, V1)
      .token,
    "x",
  );
  // Keys are case-sensitive: "Token" is an unknown field.
  rejects(
    () => decodeExecCredential(ok(`{"Token":"x"}`), B1),
    "EXEC_OUTPUT_INVALID",
    "exec plugin didn't return a token or cert/key pair",
  );
  // Duplicate keys: the last wins (as Go).
  assert.equal(
    decodeExecCredential(ok(`{"token":"a","token":"b"}`), B1).token,
    "b",
  );
  // expirationTimestamp null: no expiry.
  assert.equal(
    decodeExecCredential(ok(`{"token":"t","expirationTimestamp":null}`), B1)
      .expirationTimestamp,
    undefined,
  );
});

test("decodeExecCredential: YAML as client-go accepts it (first document, timestamps as strings)", () => {
  const y =
    `kind: ExecCredential\napiVersion: ${B1}\nstatus:\n  token: yamltok\n  expirationTimestamp: 2099-01-01T00:00:00Z\n`;
  const d = decodeExecCredential(y, B1);
  assert.equal(d.token, "yamltok");
  assert.equal(
    d.expirationTimestamp?.toISOString(),
    "2099-01-01T00:00:00.000Z",
  );
  assert.equal(
    decodeExecCredential(
      `---\napiVersion: ${B1}\nstatus: {token: a}\n---\nfoo: [\n`,
      B1,
    )
      .token,
    "a",
  );
  rejects(
    () =>
      decodeExecCredential(`apiVersion: ${B1}\nstatus: {token: 1234}\n`, B1),
    "EXEC_OUTPUT_INVALID",
    "decoding stdout: json: cannot unmarshal number into Go struct field ExecCredentialStatus.status.token of type string",
  );
  rejects(
    () => decodeExecCredential("a: b: c", B1),
    "EXEC_OUTPUT_INVALID",
    "decoding stdout: yaml:",
  );
});

test("decodeExecCredential: client-go's validation order and messages", () => {
  const cases: [string, string][] = [
    // Issue 12: nothing at all is said as such (client-go: "…/__internal").
    ["", "exec plugin exited successfully but wrote nothing to stdout"],
    ["   \n", "exec plugin exited successfully but wrote nothing to stdout"],
    ["null", "plugin returned version client.authentication.k8s.io/__internal"],
    [
      `{"kind":"ExecCredential","status":{"token":"foo-bar"}}`,
      "plugin returned version client.authentication.k8s.io/__internal",
    ],
    [
      `{"kind":"ExecCredential","apiVersion":"${B1}","status":{"token":"abc`,
      "decoding stdout: couldn't get version/kind; json parse error: unexpected end of JSON input",
    ],
    [
      `${ok('{"token":"abc"}')} garbage`,
      "decoding stdout: couldn't get version/kind; json parse error: invalid character after top-level value",
    ],
    [
      `{"kind":"Foo","apiVersion":"${B1}","status":{"token":"abc"}}`,
      `decoding stdout: no kind "Foo" is registered for version "${B1}"`,
    ],
    [
      ok('{"token":"abc"}', V1),
      `exec plugin is configured to use API version ${B1}, plugin returned version ${V1}`,
    ],
    [
      ok('{"token":"abc"}', A1),
      `exec plugin is configured to use API version ${B1}, plugin returned version ${A1}`,
    ],
    [
      ok('{"token":"abc"}', "v1"),
      `decoding stdout: no kind "ExecCredential" is registered for version "v1"`,
    ],
    [ok("null"), "exec plugin didn't return a status field"],
    [
      `{"kind":"ExecCredential","apiVersion":"${B1}"}`,
      "exec plugin didn't return a status field",
    ],
    [ok("{}"), "exec plugin didn't return a token or cert/key pair"],
    [ok('{"token":""}'), "exec plugin didn't return a token or cert/key pair"],
    [
      ok('{"token":123}'),
      "decoding stdout: json: cannot unmarshal number into Go struct field ExecCredentialStatus.status.token of type string",
    ],
    [
      ok('"x"'),
      "decoding stdout: json: cannot unmarshal string into Go struct field ExecCredential.status",
    ],
    [
      ok('{"token":"a","expirationTimestamp":""}'),
      `decoding stdout: parsing time "" as "2006-01-02T15:04:05Z07:00"`,
    ],
    [
      ok('{"token":"a","expirationTimestamp":"2020-01-01"}'),
      `parsing time "2020-01-01"`,
    ],
    [
      ok('{"token":"a","expirationTimestamp":"2099-01-01t00:00:00z"}'),
      `parsing time "2099-01-01t00:00:00z"`,
    ],
    [
      ok('{"token":"a","expirationTimestamp":12}'),
      "cannot unmarshal number into Go struct field ExecCredentialStatus.status.expirationTimestamp of type string",
    ],
    [
      ok('{"clientCertificateData":"a"}'),
      "exec plugin returned only certificate or key, not both",
    ],
    [
      ok('{"clientKeyData":"a"}'),
      "exec plugin returned only certificate or key, not both",
    ],
    [
      "hello world",
      `decoding stdout: couldn't get version/kind; json parse error: json: cannot unmarshal string into Go value of type struct`,
    ],
    ["[1,2]", "json: cannot unmarshal array into Go value"],
    [`{"apiVersion":7}`, "decoding stdout: couldn't get version/kind"],
  ];
  for (const [out, want] of cases) {
    rejects(() => decodeExecCredential(out, B1), "EXEC_OUTPUT_INVALID", want);
  }
  // Status type errors come before the version check (decoding first).
  rejects(
    () => decodeExecCredential(ok('{"token":1}', V1), B1),
    "EXEC_OUTPUT_INVALID",
    "decoding stdout",
  );
});

test("decodeExecCredential: a token with CR/LF or control characters is refused, never quoted", () => {
  for (
    const token of ["SECRET\nX", "SECRET\rX", "SECRET\u0000X", "SECRET\u007fX"]
  ) {
    const err = rejects(
      () => decodeExecCredential(ok(JSON.stringify({ token })), B1),
      "EXEC_OUTPUT_INVALID",
      "exec plugin returned a token that cannot be sent in an HTTP Authorization header",
    );
    assert.ok(!err.message.includes("SECRET"), err.message);
  }
  assert.match(
    rejects(
      () => decodeExecCredential(ok(JSON.stringify({ token: "ab\ncd" })), B1),
      "EXEC_OUTPUT_INVALID",
      "line feed (LF)",
    ).message,
    /character 3 of 5/,
  );
  // Tabs are legal header bytes; other characters go out as UTF-8 bytes.
  for (const token of ["a\tb\u00e9", "a\u2028b\u20ac\u{1f511}", "a\u0085b"]) {
    assert.equal(
      decodeExecCredential(ok(JSON.stringify({ token })), B1).token,
      token,
    );
  }
});

test("decodeExecCredential: no error message quotes the output", () => {
  const secret = "SUPERSECRET-TOKEN-VALUE";
  const outputs = [
    `{"kind":"ExecCredential","apiVersion":"${B1}","status":{"token":"${secret}`,
    `${ok(`{"token":"${secret}"}`)} ${secret}`,
    `${secret}: [`,
    `${secret}`,
    `{"${secret}": nope}`,
    `{"kind":"ExecCredential","apiVersion":"${V1}","status":{"token":"${secret}"}}`,
    ok(`{"token":"${secret}\\n"}`),
    ok(`{"clientCertificateData":"${secret}"}`),
  ];
  for (const out of outputs) {
    try {
      decodeExecCredential(out, B1);
      assert.fail("accepted");
    } catch (err) {
      assert.ok(err instanceof KubeauthError);
      assert.ok(!err.message.includes(secret), err.message);
    }
  }
});

test("parseRfc3339: Go's time.RFC3339 rules", () => {
  assert.equal(
    parseRfc3339("2006-01-02T15:04:05Z")?.toISOString(),
    "2006-01-02T15:04:05.000Z",
  );
  assert.equal(
    parseRfc3339("2006-01-02T15:04:05.123456789Z")?.toISOString(),
    "2006-01-02T15:04:05.123Z",
  );
  assert.equal(
    parseRfc3339("2006-01-02T15:04:05+02:00")?.toISOString(),
    "2006-01-02T13:04:05.000Z",
  );
  assert.equal(
    parseRfc3339("2006-01-02T15:04:05-07:30")?.toISOString(),
    "2006-01-02T22:34:05.000Z",
  );
  for (
    const bad of [
      "",
      "2006-01-02",
      "2006-01-02 15:04:05Z",
      "2006-01-02t15:04:05z",
      "2006-13-02T15:04:05Z",
      "2006-02-30T15:04:05Z",
      "2006-01-02T24:00:00Z",
      "2006-01-02T15:04:05",
      "2006-01-02T15:04:60Z",
    ]
  ) {
    assert.equal(parseRfc3339(bad), undefined, bad);
  }
});

test("normalizeExecConfig: apiVersions, defaults, client-go's messages", () => {
  const base = { command: "x" };
  assert.equal(
    normalizeExecConfig({ ...base, apiVersion: B1 }).interactiveMode,
    "IfAvailable",
  );
  assert.equal(
    normalizeExecConfig({ ...base, apiVersion: A1 }).interactiveMode,
    "IfAvailable",
  );
  assert.equal(
    normalizeExecConfig({ ...base, apiVersion: B1, interactiveMode: "" })
      .interactiveMode,
    "IfAvailable",
  );
  assert.equal(
    normalizeExecConfig({ ...base, apiVersion: V1, interactiveMode: "Never" })
      .interactiveMode,
    "Never",
  );
  // client-go's v1-with-missing-interactive-mode.
  rejects(
    () => normalizeExecConfig({ ...base, apiVersion: V1 }),
    "EXEC_CONFIG_INVALID",
    'exec plugin cannot support interactive mode: unknown interactiveMode: ""',
  );
  rejects(
    () =>
      normalizeExecConfig({
        ...base,
        apiVersion: V1,
        interactiveMode: "Bogus",
      }),
    "EXEC_CONFIG_INVALID",
    'unknown interactiveMode: "Bogus"',
  );
  rejects(
    () =>
      normalizeExecConfig({
        ...base,
        apiVersion: "client.authentication.k8s.io/v2",
      }),
    "EXEC_CONFIG_INVALID",
    'exec plugin: invalid apiVersion "client.authentication.k8s.io/v2"',
  );
  rejects(
    () => normalizeExecConfig({ command: "", apiVersion: B1 }),
    "EXEC_CONFIG_INVALID",
    "command must be specified",
  );
  rejects(
    () =>
      normalizeExecConfig({
        ...base,
        apiVersion: B1,
        env: [{ name: "", value: "x" }],
      }),
    "EXEC_CONFIG_INVALID",
    "env variable name must be specified",
  );
  // GKE writes args: null and env: null.
  const gke = normalizeExecConfig({
    ...base,
    apiVersion: B1,
    args: null,
    env: null,
    provideClusterInfo: true,
  });
  assert.deepEqual(gke.args, []);
  assert.deepEqual(gke.env, []);
  assert.equal(gke.provideClusterInfo, true);
});

test("escapeInstallHint: as clientcmd's TestCreateAuthConfigExecInstallHintCleanup", () => {
  assert.equal(
    escapeInstallHint(
      "some install hint with \x1b[1mcontrol chars\x1b[0m\nand a newline",
    ),
    "some install hint with U+001B[1mcontrol charsU+001B[0m\nand a newline",
  );
  assert.equal(
    escapeInstallHint("tab\there é ü 日本 \u0007"),
    "tab\there é ü 日本 U+0007",
  );
});

test("decideInteractive: client-go's isInteractive table", () => {
  assert.equal(decideInteractive("Never", true), false);
  assert.equal(decideInteractive("Never", false, "x"), false);
  assert.equal(decideInteractive("IfAvailable", false), false);
  assert.equal(decideInteractive("IfAvailable", true), true);
  assert.equal(decideInteractive("IfAvailable", true, true), false);
  assert.equal(decideInteractive("Always", true), true);
  rejects(
    () => decideInteractive("Always", false),
    "EXEC_INTERACTIVE_UNAVAILABLE",
    "exec plugin cannot support interactive mode: standard input is not a terminal",
  );
  assert.equal(
    rejects(
      () => decideInteractive("Always", true, true),
      "EXEC_INTERACTIVE_UNAVAILABLE",
      "",
    )
      .message,
    "exec plugin cannot support interactive mode: standard input is unavailable",
  );
  assert.equal(
    rejects(
      () => decideInteractive("Always", true, "some message"),
      "EXEC_INTERACTIVE_UNAVAILABLE",
      "",
    )
      .message,
    "exec plugin cannot support interactive mode: standard input is unavailable: some message",
  );
});
