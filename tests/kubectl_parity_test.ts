// kubectl parity: the same kubeconfig, exec plugin (testdata/plugins/
// parity_plugin.sh) and fake API server, driven once by
// `kubectl get --raw <path> --kubeconfig K` and once by
// `kubeauth fetch <path> --kubeconfig K` (the CLI under the runtime running
// the tests: `deno run -A src/cli.ts`, `bun src/cli.ts`, or for Node a
// bundle of testdata/parity/cli_entry.ts, which is what the npm bin does).
//
// For every case both outcomes are checked against the table below, and
// compared with each other: success, how many times the plugin ran, the
// KUBERNETES_EXEC_INFO it got, its arguments, environment and stdin, the
// identity the server saw (its request records), the plugin's stderr passed
// through, and the key phrase of the error (client-go's wording). A case
// where kubeauth behaves differently on purpose says so in `difference`, with
// the reason; the lead copies those into the README.
//
// kubectl: the first `kubectl` on PATH. When it is gcloud's dispatcher (it
// sends an extra `/version?timeout=5s` request, and runs a failing plugin
// twice, before handing over to a versioned kubectl), the kubectl it would
// dispatch to (`kubectl.<major>.<minor>` beside it) is run directly. Skipped
// with a message when there is no kubectl.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { issueCertificate } from "./support/pki.ts";
import { detectRuntime } from "../src/runtime/detect.ts";
import { makeTempDir, startCluster } from "./support/harness.ts";
import type { RequestRecord, TestCluster } from "./support/harness.ts";
import { probeCommand } from "./support/runtime_probe.ts";
import { startConnectProxy } from "./support/connect_proxy.ts";

const ROOT = process.cwd();
const PLUGIN = join(ROOT, "testdata", "plugins", "parity_plugin.sh");
const V1 = "client.authentication.k8s.io/v1";
const B1 = "client.authentication.k8s.io/v1beta1";
const A1 = "client.authentication.k8s.io/v1alpha1";
const TOKEN = "parity-token"; // → alice
const FRESH = "parity-fresh"; // → bob
/** A token beyond ASCII: the server's table holds its UTF-8 bytes (→ carol). */
const UTF8_TOKEN = "parity-t\u00f6k-\u20ac";
const CERT_CN = "parity-cert-user";
/** Cases run this many at a time (each runs kubectl, then kubeauth). */
const CONCURRENCY = 4;

// ---------------------------------------------------------------------------
// The case table.

/** What one tool did. */
export interface Outcome {
  /** Exit status 0. */
  ok: boolean;
  /** How many times the plugin ran. */
  runs: number;
  /** A phrase (or pattern) of the error output, when not ok. */
  phrase?: string | RegExp;
  /** The user the server authenticated on the last request; null: 401; undefined: no request. */
  user?: string | null;
  /** How many requests reached the server (default: 1 if `user` is set, else 0). */
  requests?: number;
  /** The test killed it after this long (it hung). */
  hung?: boolean;
}

/** Everything a case needs to build its kubeconfig. */
interface CaseContext {
  cluster: TestCluster;
  /** The case's directory (kubeconfig, plugin state, files). */
  dir: string;
  /** The plugin's state directory. */
  state: string;
  cert: { certPem: string; keyPem: string };
  otherKeyPem: string;
  /** An HTTP CONNECT proxy (tests/support/connect_proxy.ts). */
  proxyUrl: string;
}

/** One row of the table. */
export interface ParityCase {
  name: string;
  /** What the case shows. */
  what: string;
  /** The kubeconfig user; default cluster and context around it. */
  user?: (c: CaseContext) => Record<string, unknown>;
  /** The whole kubeconfig instead (object, or YAML/JSON text). */
  kubeconfig?: (c: CaseContext) => unknown;
  /** The request path (default /version). */
  path?: string;
  /** Extra arguments for both tools. */
  args?: (c: CaseContext) => string[];
  /** Extra arguments for kubeauth only. */
  kubeauthArgs?: string[];
  /**
   * The test kills kubectl after this long (default 20 s) when it is expected
   * to hang. kubeauth must exit on its own: it always gets the 20 s, so a slow
   * machine cannot turn a late exit into a false "hung".
   */
  killAfterMs?: number;
  /** Both tools, when there is no difference. */
  expect?: Outcome;
  /** An intended difference: each tool's outcome and why. */
  difference?: { reason: string; kubectl: Outcome; kubeauth: Outcome };
  /** The plugin's stderr must reach both tools' stderr. */
  pluginStderr?: string;
}

/** A kubeconfig `exec` stanza running the parity plugin. */
function execStanza(
  c: CaseContext,
  o: {
    apiVersion?: string;
    output?: string;
    outputs?: string[];
    exit?: number;
    stderr?: string;
    hang?: boolean;
    envNames?: string;
    env?: { name: string; value: string }[];
    args?: string[];
    interactiveMode?: string | null;
    provideClusterInfo?: boolean;
    installHint?: string;
    command?: string;
  } = {},
): Record<string, unknown> {
  const env: { name: string; value: string }[] = [
    { name: "PARITY_DIR", value: c.state },
  ];
  if (o.output !== undefined) {
    env.push({ name: "PARITY_OUTPUT", value: o.output });
  }
  o.outputs?.forEach((out, i) =>
    env.push({ name: `PARITY_OUTPUT_${i + 1}`, value: out })
  );
  if (o.exit !== undefined) {
    env.push({ name: "PARITY_EXIT", value: String(o.exit) });
  }
  if (o.stderr !== undefined) {
    env.push({ name: "PARITY_STDERR", value: o.stderr });
  }
  if (o.hang) env.push({ name: "PARITY_HANG", value: "1" });
  if (o.envNames !== undefined) {
    env.push({ name: "PARITY_ENV_NAMES", value: o.envNames });
  }
  env.push(...(o.env ?? []));
  const stanza: Record<string, unknown> = {
    command: o.command ?? PLUGIN,
    apiVersion: o.apiVersion ?? V1,
    env,
  };
  if (o.args) stanza.args = o.args;
  const mode = o.interactiveMode === undefined ? "Never" : o.interactiveMode;
  if (mode !== null) stanza.interactiveMode = mode;
  if (o.provideClusterInfo !== undefined) {
    stanza.provideClusterInfo = o.provideClusterInfo;
  }
  if (o.installHint !== undefined) stanza.installHint = o.installHint;
  return stanza;
}

/** An ExecCredential answer. */
function answer(status: unknown, apiVersion: string | null = V1): string {
  const doc: Record<string, unknown> = { kind: "ExecCredential" };
  if (apiVersion !== null) doc.apiVersion = apiVersion;
  if (status !== undefined) doc.status = status;
  return JSON.stringify(doc);
}

const tokenAnswer = (v = V1, token = TOKEN) => answer({ token }, v);

/** The default kubeconfig around a user stanza. */
function kubeconfigFor(
  c: CaseContext,
  user: Record<string, unknown>,
  cluster: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Config",
    "current-context": "parity",
    clusters: [{
      name: "parity",
      cluster: {
        server: c.cluster.url,
        "certificate-authority-data": btoa(c.cluster.caPem),
        ...cluster,
      },
    }],
    users: [{ name: "u", user }],
    contexts: [{ name: "parity", context: { cluster: "parity", user: "u" } }],
  };
}

const EXPIRED_REASON =
  "expired-timestamp handling: client-go runs the plugin again whenever the cached credentials are past expirationTimestamp (for one request: for the Authorization header, then again in the TLS handshake); kubeauth uses an answer that is already expired for 10 s (clock skew) with a warning event, instead of running the plugin per request";

const EXTENSION = {
  apiVersion: "group/v1",
  kind: "PluginConfig",
  spec: { audience: "snorlax", "a<b": "x&y" },
};

/** The parity cases. Exported so the README's list of differences can be made from it. */
export const PARITY_CASES: ParityCase[] = [
  {
    name: "token-v1",
    what: "a v1 plugin returning a token",
    user: (c) => ({ exec: execStanza(c, { output: tokenAnswer() }) }),
    expect: { ok: true, runs: 1, user: "alice" },
  },
  {
    name: "token-v1beta1-default-interactive",
    what: "a v1beta1 plugin, interactiveMode omitted (defaults to IfAvailable)",
    user: (c) => ({
      exec: execStanza(c, {
        apiVersion: B1,
        output: tokenAnswer(B1),
        interactiveMode: null,
      }),
    }),
    expect: { ok: true, runs: 1, user: "alice" },
  },
  {
    name: "cert-v1",
    what: "a plugin returning a client certificate and key",
    user: (c) => ({
      exec: execStanza(c, {
        output: answer({
          clientCertificateData: c.cert.certPem,
          clientKeyData: c.cert.keyPem,
        }),
      }),
    }),
    expect: { ok: true, runs: 1, user: CERT_CN },
  },
  {
    name: "token-and-cert",
    what:
      "token and certificate together (the server takes the certificate first)",
    user: (c) => ({
      exec: execStanza(c, {
        output: answer({
          token: TOKEN,
          clientCertificateData: c.cert.certPem,
          clientKeyData: c.cert.keyPem,
        }),
      }),
    }),
    expect: { ok: true, runs: 1, user: CERT_CN },
  },
  {
    name: "interactive-never",
    what: "interactiveMode Never: interactive false, no stdin",
    user: (c) => ({ exec: execStanza(c, { output: tokenAnswer() }) }),
    expect: { ok: true, runs: 1, user: "alice" },
  },
  {
    name: "interactive-ifavailable-no-tty",
    what:
      "interactiveMode IfAvailable without a terminal: runs non-interactively",
    user: (c) => ({
      exec: execStanza(c, {
        output: tokenAnswer(),
        interactiveMode: "IfAvailable",
      }),
    }),
    expect: { ok: true, runs: 1, user: "alice" },
  },
  {
    name: "interactive-always-no-tty",
    what: "interactiveMode Always without a terminal: refused before running",
    user: (c) => ({
      exec: execStanza(c, { output: tokenAnswer(), interactiveMode: "Always" }),
    }),
    expect: {
      ok: false,
      runs: 0,
      phrase:
        "exec plugin cannot support interactive mode: standard input is not a terminal",
    },
  },
  {
    name: "cluster-info-without-extension",
    what:
      "provideClusterInfo without the exec extension: spec.cluster with config null",
    user: (c) => ({
      exec: execStanza(c, { output: tokenAnswer(), provideClusterInfo: true }),
    }),
    expect: { ok: true, runs: 1, user: "alice" },
  },
  {
    name: "cluster-info-with-extension",
    what:
      "provideClusterInfo with the client.authentication.k8s.io/exec extension",
    kubeconfig: (c) =>
      kubeconfigFor(
        c,
        {
          exec: execStanza(c, {
            output: tokenAnswer(),
            provideClusterInfo: true,
          }),
        },
        {
          extensions: [{
            name: "client.authentication.k8s.io/exec",
            extension: EXTENSION,
          }],
        },
      ),
    expect: { ok: true, runs: 1, user: "alice" },
  },
  {
    name: "extension-without-cluster-info",
    what: "the exec extension without provideClusterInfo: no spec.cluster",
    kubeconfig: (c) =>
      kubeconfigFor(c, { exec: execStanza(c, { output: tokenAnswer() }) }, {
        extensions: [{
          name: "client.authentication.k8s.io/exec",
          extension: EXTENSION,
        }],
      }),
    expect: { ok: true, runs: 1, user: "alice" },
  },
  {
    name: "output-missing-apiVersion",
    what: "an answer without apiVersion",
    user: (c) => ({
      exec: execStanza(c, { output: answer({ token: TOKEN }, null) }),
    }),
    expect: {
      ok: false,
      runs: 1,
      phrase:
        `exec plugin is configured to use API version ${V1}, plugin returned version client.authentication.k8s.io/__internal`,
    },
  },
  {
    name: "output-wrong-apiVersion",
    what: "configured v1beta1, answered v1",
    user: (c) => ({
      exec: execStanza(c, { apiVersion: B1, output: tokenAnswer(V1) }),
    }),
    expect: {
      ok: false,
      runs: 1,
      phrase:
        `exec plugin is configured to use API version ${B1}, plugin returned version ${V1}`,
    },
  },
  {
    name: "output-unknown-kind",
    what: "an answer of another kind",
    user: (c) => ({
      exec: execStanza(c, {
        output: JSON.stringify({ kind: "Foo", apiVersion: V1, status: {} }),
      }),
    }),
    expect: {
      ok: false,
      runs: 1,
      phrase: `no kind "Foo" is registered for version "${V1}"`,
    },
  },
  {
    name: "output-kind-Status",
    what: "a metav1.Status instead of an ExecCredential",
    user: (c) => ({
      exec: execStanza(c, {
        output: JSON.stringify({
          kind: "Status",
          apiVersion: V1,
          status: "Failure",
          message: "login required",
        }),
      }),
    }),
    difference: {
      reason:
        "wording: client-go's scheme knows Status and fails converting it; kubeauth says the kind is not registered",
      kubectl: {
        ok: false,
        runs: 1,
        phrase:
          "decoding stdout: converting (v1.Status) to (clientauthentication.ExecCredential): unknown conversion",
      },
      kubeauth: {
        ok: false,
        runs: 1,
        phrase:
          `decoding stdout: no kind "Status" is registered for version "${V1}"`,
      },
    },
  },
  {
    name: "output-no-status",
    what: "an answer without status",
    user: (c) => ({ exec: execStanza(c, { output: answer(undefined) }) }),
    expect: {
      ok: false,
      runs: 1,
      phrase: "exec plugin didn't return a status field",
    },
  },
  {
    name: "output-empty-status",
    what: "an answer with an empty status",
    user: (c) => ({ exec: execStanza(c, { output: answer({}) }) }),
    expect: {
      ok: false,
      runs: 1,
      phrase: "exec plugin didn't return a token or cert/key pair",
    },
  },
  {
    name: "output-cert-without-key",
    what: "a certificate without its key",
    user: (c) => ({
      exec: execStanza(c, {
        output: answer({ clientCertificateData: c.cert.certPem }),
      }),
    }),
    expect: {
      ok: false,
      runs: 1,
      phrase: "exec plugin returned only certificate or key, not both",
    },
  },
  {
    name: "output-bad-pem",
    what: "certificate and key that are not PEM",
    user: (c) => ({
      exec: execStanza(c, {
        output: answer({ clientCertificateData: "foo", clientKeyData: "bar" }),
      }),
    }),
    expect: {
      ok: false,
      runs: 1,
      phrase: "failed parsing client key/certificate",
    },
  },
  {
    name: "output-key-mismatch",
    what: "a certificate with another certificate's key",
    user: (c) => ({
      exec: execStanza(c, {
        output: answer({
          clientCertificateData: c.cert.certPem,
          clientKeyData: c.otherKeyPem,
        }),
      }),
    }),
    expect: {
      ok: false,
      runs: 1,
      phrase: "private key does not match public key",
    },
  },
  {
    name: "output-trailing-garbage",
    what: "a valid answer followed by garbage",
    user: (c) => ({
      exec: execStanza(c, { output: tokenAnswer() + " garbage" }),
    }),
    expect: {
      ok: false,
      runs: 1,
      phrase: /json parse error: invalid character .*after top-level value/,
    },
  },
  {
    name: "output-yaml",
    what: "an answer in YAML (client-go's decoder accepts it)",
    user: (c) => ({
      exec: execStanza(c, {
        output:
          `kind: ExecCredential\napiVersion: ${V1}\nstatus:\n  token: ${TOKEN}\n`,
      }),
    }),
    expect: { ok: true, runs: 1, user: "alice" },
  },
  {
    name: "output-token-with-newline",
    what: "a token containing a line feed",
    user: (c) => ({
      exec: execStanza(c, { output: answer({ token: `${TOKEN}\nx` }) }),
    }),
    difference: {
      reason:
        "kubeauth refuses the token when the plugin answers (client-go accepts it, then Go's HTTP client refuses the header)",
      kubectl: {
        ok: false,
        runs: 1,
        phrase: 'invalid header field value for "Authorization"',
      },
      kubeauth: {
        ok: false,
        runs: 1,
        phrase:
          "exec plugin returned a token that cannot be sent in an HTTP Authorization header",
      },
    },
  },
  {
    name: "output-token-utf8",
    what: "a token beyond ASCII goes out as its UTF-8 bytes",
    user: (c) => ({
      exec: execStanza(c, { output: tokenAnswer(V1, UTF8_TOKEN) }),
    }),
    expect: { ok: true, runs: 1, user: "carol" },
  },
  {
    name: "exit-code-73",
    what: "a plugin exiting 73, its stderr passed through",
    user: (c) => ({
      exec: execStanza(c, {
        exit: 73,
        stderr: "parity plugin: failing on purpose",
      }),
    }),
    pluginStderr: "parity plugin: failing on purpose",
    expect: {
      ok: false,
      runs: 1,
      phrase: `exec: executable ${PLUGIN} failed with exit code 73`,
    },
  },
  {
    name: "not-found-install-hint",
    what:
      "a bare command not on PATH: client-go's explanation and the install hint",
    user: (c) => ({
      exec: execStanza(c, {
        command: "kubeauth-parity-missing-plugin",
        installHint: "install it with: brew install parity",
      }),
    }),
    expect: {
      ok: false,
      runs: 0,
      phrase:
        /exec: executable kubeauth-parity-missing-plugin not found[\s\S]*It looks like you are trying to use a client-go credential plugin that is not installed[\s\S]*install it with: brew install parity/,
    },
  },
  {
    name: "missing-explicit-path",
    what: "a command path that does not exist",
    user: (c) => ({
      exec: execStanza(c, { command: "/nonexistent/parity-plugin" }),
    }),
    difference: {
      reason:
        "wording: client-go passes Go's fork/exec error on; kubeauth says `not found` with client-go's explanation, as for a bare name",
      kubectl: {
        ok: false,
        runs: 0,
        phrase:
          "exec: fork/exec /nonexistent/parity-plugin: no such file or directory",
      },
      kubeauth: {
        ok: false,
        runs: 0,
        phrase: "exec: executable /nonexistent/parity-plugin not found",
      },
    },
  },
  {
    name: "static-token-wins-over-exec",
    what: "a static token next to exec: the plugin never runs",
    user: (c) => ({
      token: TOKEN,
      exec: execStanza(c, { output: tokenAnswer(V1, FRESH) }),
    }),
    expect: { ok: true, runs: 0, user: "alice" },
  },
  {
    name: "basic-auth",
    what: "username and password",
    user: () => ({ username: "parity-basic", password: "parity-p4ss" }),
    expect: { ok: true, runs: 0, user: "parity-basic" },
  },
  {
    name: "static-cert-files",
    what: "client-certificate and client-key files, relative to the kubeconfig",
    user: (c) => {
      writeFileSync(join(c.dir, "client.crt"), c.cert.certPem);
      writeFileSync(join(c.dir, "client.key"), c.cert.keyPem);
      return { "client-certificate": "client.crt", "client-key": "client.key" };
    },
    expect: { ok: true, runs: 0, user: CERT_CN },
  },
  {
    name: "token-file",
    what: "tokenFile, relative to the kubeconfig",
    user: (c) => {
      writeFileSync(join(c.dir, "token"), TOKEN + "\n");
      return { tokenFile: "token" };
    },
    expect: { ok: true, runs: 0, user: "alice" },
  },
  {
    name: "relative-command",
    what:
      "./bin/plugin resolved against the kubeconfig's directory (tools run from elsewhere)",
    user: (c) => {
      mkdirSync(join(c.dir, "bin"));
      copyFileSync(PLUGIN, join(c.dir, "bin", "plugin.sh"));
      return {
        exec: execStanza(c, {
          command: "./bin/plugin.sh",
          output: tokenAnswer(),
        }),
      };
    },
    expect: { ok: true, runs: 1, user: "alice" },
  },
  {
    name: "env-passing",
    what: "config env after the host env (config wins), empty values kept",
    user: (c) => ({
      exec: execStanza(c, {
        output: tokenAnswer(),
        envNames: "PARITY_A PARITY_EMPTY PARITY_HOST PARITY_UNSET",
        env: [
          { name: "PARITY_A", value: "a value with spaces" },
          { name: "PARITY_EMPTY", value: "" },
          { name: "PARITY_HOST", value: "from the kubeconfig" },
        ],
      }),
    }),
    expect: { ok: true, runs: 1, user: "alice" },
  },
  {
    name: "args-with-spaces",
    what: "arguments passed verbatim: spaces, empty, quotes, $VAR",
    user: (c) => ({
      exec: execStanza(c, {
        output: tokenAnswer(),
        args: ["--flag", "with space", "", `quo"te`, "$HOME", "*"],
      }),
    }),
    expect: { ok: true, runs: 1, user: "alice" },
  },
  {
    name: "plugin-stderr-on-success",
    what: "a plugin logging to stderr while succeeding",
    user: (c) => ({
      exec: execStanza(c, {
        output: tokenAnswer(),
        stderr: "parity plugin: logged in",
      }),
    }),
    pluginStderr: "parity plugin: logged in",
    expect: { ok: true, runs: 1, user: "alice" },
  },
  {
    name: "expired-timestamp-token",
    what: "a token whose expirationTimestamp has passed, one request",
    user: (c) => ({
      exec: execStanza(c, {
        output: answer({
          token: TOKEN,
          expirationTimestamp: "2000-01-01T00:00:00Z",
        }),
      }),
    }),
    difference: {
      reason: EXPIRED_REASON,
      kubectl: { ok: true, runs: 2, user: "alice" },
      kubeauth: { ok: true, runs: 1, user: "alice" },
    },
  },
  {
    name: "expired-timestamp-cert",
    what: "a certificate whose expirationTimestamp has passed, one request",
    user: (c) => ({
      exec: execStanza(c, {
        output: answer({
          clientCertificateData: c.cert.certPem,
          clientKeyData: c.cert.keyPem,
          expirationTimestamp: "2000-01-01T00:00:00Z",
        }),
      }),
    }),
    difference: {
      reason: EXPIRED_REASON,
      kubectl: { ok: true, runs: 2, user: CERT_CN },
      kubeauth: { ok: true, runs: 1, user: CERT_CN },
    },
  },
  {
    name: "401-refresh",
    what:
      "the first token is rejected (401), the plugin's second answer is good",
    user: (c) => ({
      exec: execStanza(c, {
        outputs: [tokenAnswer(V1, "parity-stale"), tokenAnswer(V1, FRESH)],
      }),
    }),
    difference: {
      reason:
        "401 retry: both refresh the credentials after a 401; client-go returns the 401, kubeauth sends the request once more with the new credentials",
      kubectl: {
        ok: false,
        runs: 2,
        phrase: "Unauthorized",
        user: null,
        requests: 1,
      },
      kubeauth: { ok: true, runs: 2, user: "bob", requests: 2 },
    },
  },
  {
    name: "unknown-context",
    what: "--context naming no context",
    user: (c) => ({ exec: execStanza(c, { output: tokenAnswer() }) }),
    args: () => ["--context", "nope"],
    difference: {
      reason: "wording of the error",
      kubectl: {
        ok: false,
        runs: 0,
        phrase: 'context "nope" does not exist',
      },
      kubeauth: { ok: false, runs: 0, phrase: 'context "nope" not found' },
    },
  },
  {
    name: "missing-kubeconfig",
    what: "--kubeconfig naming a file that does not exist",
    user: (c) => ({ exec: execStanza(c, { output: tokenAnswer() }) }),
    args: (c) => ["--kubeconfig", join(c.dir, "missing")],
    difference: {
      reason: "wording of the error",
      kubectl: {
        ok: false,
        runs: 0,
        phrase: /missing: no such file or directory/,
      },
      kubeauth: {
        ok: false,
        runs: 0,
        phrase: /kubeconfig file ".*missing" not found/,
      },
    },
  },
  {
    name: "v1alpha1-configured",
    what: "apiVersion client.authentication.k8s.io/v1alpha1",
    user: (c) => ({
      exec: execStanza(c, { apiVersion: A1, output: tokenAnswer(A1) }),
    }),
    difference: {
      reason:
        "v1alpha1 support: removed from client-go in Kubernetes 1.24, still accepted (deprecated) by kubeauth",
      kubectl: {
        ok: false,
        runs: 0,
        phrase: `exec plugin: invalid apiVersion "${A1}"`,
      },
      kubeauth: { ok: true, runs: 1, user: "alice" },
    },
  },
  {
    name: "unknown-apiVersion-configured",
    what: "apiVersion client.authentication.k8s.io/v2",
    user: (c) => ({
      exec: execStanza(c, {
        apiVersion: "client.authentication.k8s.io/v2",
        output: tokenAnswer(),
      }),
    }),
    expect: {
      ok: false,
      runs: 0,
      phrase:
        'exec plugin: invalid apiVersion "client.authentication.k8s.io/v2"',
    },
  },
  {
    name: "v1-without-interactiveMode",
    what: "v1 requires interactiveMode",
    user: (c) => ({
      exec: execStanza(c, { output: tokenAnswer(), interactiveMode: null }),
    }),
    expect: {
      ok: false,
      runs: 0,
      phrase:
        "interactiveMode must be specified for u to use exec authentication plugin",
    },
  },
  {
    name: "invalid-interactiveMode",
    what: "interactiveMode Sometimes",
    user: (c) => ({
      exec: execStanza(c, {
        output: tokenAnswer(),
        interactiveMode: "Sometimes",
      }),
    }),
    expect: {
      ok: false,
      runs: 0,
      phrase: 'invalid interactiveMode for u: "Sometimes"',
    },
  },
  {
    name: "missing-command",
    what: "an exec stanza without command",
    user: (c) => ({ exec: execStanza(c, { command: "" }) }),
    expect: {
      ok: false,
      runs: 0,
      phrase:
        "command must be specified for u to use exec authentication plugin",
    },
  },
  {
    name: "exec-with-auth-provider",
    what: "exec and auth-provider together",
    user: (c) => ({
      exec: execStanza(c, { output: tokenAnswer() }),
      "auth-provider": { name: "oidc", config: {} },
    }),
    expect: {
      ok: false,
      runs: 0,
      phrase:
        "authProvider cannot be provided in combination with an exec plugin for u",
    },
  },
  {
    name: "insecure-skip-tls-verify",
    what: "a cluster without CA, insecure-skip-tls-verify",
    kubeconfig: (c) => {
      const kc = kubeconfigFor(c, {
        exec: execStanza(c, { output: tokenAnswer() }),
      });
      (kc.clusters as { cluster: Record<string, unknown> }[])[0].cluster = {
        server: c.cluster.url,
        "insecure-skip-tls-verify": true,
      };
      return kc;
    },
    expect: { ok: true, runs: 1, user: "alice" },
  },
  {
    name: "tls-server-name",
    what: "tls-server-name naming a host on the server certificate",
    kubeconfig: (c) =>
      kubeconfigFor(c, { exec: execStanza(c, { output: tokenAnswer() }) }, {
        "tls-server-name": "localhost",
      }),
    expect: { ok: true, runs: 1, user: "alice" },
  },
  {
    name: "tls-server-name-not-on-certificate",
    what: "tls-server-name naming a host the server certificate lacks",
    kubeconfig: (c) =>
      kubeconfigFor(c, { exec: execStanza(c, { output: tokenAnswer() }) }, {
        "tls-server-name": "not-the-apiserver.test",
      }),
    // The TLS handshake fails before any request (the plugin ran first).
    expect: { ok: false, runs: 1 },
  },
  {
    name: "tls-server-name-with-disable-compression",
    what: "tls-server-name and disable-compression together",
    kubeconfig: (c) =>
      kubeconfigFor(c, { exec: execStanza(c, { output: tokenAnswer() }) }, {
        "tls-server-name": "localhost",
        "disable-compression": true,
      }),
    expect: { ok: true, runs: 1, user: "alice" },
  },
  {
    name: "proxy-url-with-tls-server-name",
    what: "proxy-url (HTTP CONNECT) and tls-server-name together",
    kubeconfig: (c) =>
      kubeconfigFor(c, { exec: execStanza(c, { output: tokenAnswer() }) }, {
        "tls-server-name": "localhost",
        "proxy-url": c.proxyUrl,
      }),
    expect: { ok: true, runs: 1, user: "alice" },
  },
  {
    name: "proxy-url-with-insecure-skip-tls-verify",
    what: "proxy-url (HTTP CONNECT) and insecure-skip-tls-verify together",
    kubeconfig: (c) => {
      const kc = kubeconfigFor(c, {
        exec: execStanza(c, { output: tokenAnswer() }),
      });
      (kc.clusters as { cluster: Record<string, unknown> }[])[0].cluster = {
        server: c.cluster.url,
        "insecure-skip-tls-verify": true,
        "proxy-url": c.proxyUrl,
      };
      return kc;
    },
    expect: { ok: true, runs: 1, user: "alice" },
  },
  {
    name: "http-404",
    what: "a path the server does not have",
    path: "/nope",
    user: (c) => ({ exec: execStanza(c, { output: tokenAnswer() }) }),
    expect: {
      ok: false,
      runs: 1,
      phrase: "the server could not find the requested resource",
      user: "alice",
    },
  },
  {
    name: "hanging-plugin",
    what: "a plugin that never answers",
    user: (c) => ({ exec: execStanza(c, { hang: true }) }),
    kubeauthArgs: ["--timeout", "1"],
    killAfterMs: 2000,
    difference: {
      reason:
        "timeouts: client-go waits for a plugin forever; kubeauth kills it (and its children) at a timeout (here the CLI's --timeout 1)",
      kubectl: { ok: false, runs: 1, hung: true },
      kubeauth: {
        ok: false,
        runs: 1,
        phrase:
          "no answer within 1 s (--timeout): the exec credential plugin was still running, and was killed",
      },
    },
  },
];

// ---------------------------------------------------------------------------
// Running the tools.

interface ToolRun {
  code: number | null;
  stdout: string;
  stderr: string;
  hung: boolean;
}

/** Runs a command in its own process group; kills the group after `killAfterMs`. */
function runTool(
  argv: string[],
  env: Record<string, string>,
  killAfterMs: number,
): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let stdout = "";
    let stderr = "";
    let hung = false;
    child.stdout!.setEncoding("utf8").on("data", (d) => (stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      hung = true;
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    }, killAfterMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      // Whatever the tool left in its group (a hanging plugin) goes too.
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // the group is gone
      }
      resolve({ code, stdout, stderr, hung });
    });
  });
}

/** The kubectl to run, or why there is none. */
function findKubectl(): { path: string } | { skip: string } {
  let found: string | undefined;
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir && existsSync(join(dir, "kubectl"))) {
      found = join(dir, "kubectl");
      break;
    }
  }
  if (found === undefined) return { skip: "kubectl is not on PATH" };
  const version = spawnSync(found, ["version", "--client"], {
    encoding: "utf8",
    timeout: 20_000,
  });
  const text = `${version.stdout ?? ""}`;
  if (!text.includes("dispatcher")) return { path: found };
  const m = /v(\d+)\.(\d+)\./.exec(text);
  const real = realpathSync(found);
  const candidate = m ? join(dirname(real), `kubectl.${m[1]}.${m[2]}`) : "";
  if (candidate && existsSync(candidate)) return { path: candidate };
  return { path: found };
}

interface Observed {
  run: ToolRun;
  ok: boolean;
  runs: number;
  info: string | undefined;
  args: string | undefined;
  env: string | undefined;
  stdin: string | undefined;
  records: RequestRecord[];
}

function readState(state: string, name: string): string | undefined {
  const file = join(state, name);
  return existsSync(file) ? readFileSync(file, "utf8") : undefined;
}

function phraseMatches(text: string, phrase: string | RegExp): boolean {
  return typeof phrase === "string" ? text.includes(phrase) : phrase.test(text);
}

function checkOutcome(tool: string, o: Observed, want: Outcome): void {
  const where = `${tool}: exit ${o.run.code}, stderr:\n${o.run.stderr}`;
  assert.equal(!!o.run.hung, !!want.hung, `hung? ${where}`);
  assert.equal(o.ok, want.ok, `success? ${where}`);
  assert.equal(o.runs, want.runs, `plugin runs, ${where}`);
  if (want.phrase !== undefined) {
    assert.ok(
      phraseMatches(o.run.stderr, want.phrase),
      `${tool} stderr lacks ${want.phrase}:\n${o.run.stderr}`,
    );
  }
  const requests = want.requests ?? (want.user === undefined ? 0 : 1);
  assert.equal(
    o.records.length,
    requests,
    `${tool}: requests the server saw: ${JSON.stringify(o.records)}`,
  );
  if (want.user !== undefined) {
    assert.equal(o.records.at(-1)?.user, want.user, `${tool}: identity`);
  }
}

// ---------------------------------------------------------------------------

let cluster: TestCluster;
let tmp: { path: string; remove(): Promise<void> };
let kubectl: { path: string } | { skip: string };
let kubeauthArgv: string[] = [];
let cleanupCli: () => void = () => {};
let cert: { certPem: string; keyPem: string };
let otherKeyPem = "";
let proxy: Awaited<ReturnType<typeof startConnectProxy>> | undefined;

before(async () => {
  kubectl = findKubectl();
  if ("skip" in kubectl) return;
  const runtime = detectRuntime();
  if (runtime === "node") {
    const cmd = await probeCommand("testdata/parity/cli_entry.ts");
    kubeauthArgv = cmd.argv;
    cleanupCli = cmd.cleanup;
  } else if (runtime === "deno") {
    kubeauthArgv = [process.execPath, "run", "-A", join(ROOT, "src", "cli.ts")];
  } else {
    kubeauthArgv = [process.execPath, join(ROOT, "src", "cli.ts")];
  }
  [cluster, tmp] = await Promise.all([
    startCluster({
      tokens: {
        [TOKEN]: "alice",
        [FRESH]: "bob",
        // The server reads header bytes one character per byte.
        [String.fromCharCode(...new TextEncoder().encode(UTF8_TOKEN))]: "carol",
        [UTF8_TOKEN]: "latin1-or-utf16-bytes",
      },
      basic: [{ username: "parity-basic", password: "parity-p4ss" }],
    }),
    makeTempDir("kubeauth-parity-"),
  ]);
  const [a, b] = await Promise.all([
    issueCertificate(cluster.ca, { commonName: CERT_CN, usage: "client" }),
    issueCertificate(cluster.ca, { commonName: "other", usage: "client" }),
  ]);
  cert = { certPem: a.certPem, keyPem: a.keyPem };
  otherKeyPem = b.keyPem;
  proxy = await startConnectProxy();
});

after(async () => {
  cleanupCli();
  await proxy?.close();
  await cluster?.close();
  await tmp?.remove();
});

/** Runs one case with both tools and checks everything. */
async function runCase(pc: ParityCase, index: number): Promise<void> {
  const dir = join(tmp.path, `${index}-${pc.name}`);
  const state = join(dir, "state");
  mkdirSync(state, { recursive: true });
  const c: CaseContext = {
    cluster,
    dir,
    state,
    cert,
    otherKeyPem,
    proxyUrl: proxy!.url,
  };
  const config = pc.kubeconfig
    ? pc.kubeconfig(c)
    : kubeconfigFor(c, pc.user!(c));
  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(
    kubeconfig,
    typeof config === "string" ? config : JSON.stringify(config, null, 2),
    { mode: 0o600 },
  );
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(KUBECONFIG|KUBERNETES_)/.test(k)) env[k] = v;
  }
  env.PARITY_HOST = "from the host";
  const extra = pc.args?.(c) ?? [];
  const path = `${pc.path ?? "/version"}?parity=${index}`;

  const observe = async (
    tool: "kubectl" | "kubeauth",
    argv: string[],
  ): Promise<Observed> => {
    rmSync(state, { recursive: true, force: true });
    mkdirSync(state);
    const killAfterMs = tool === "kubectl" ? pc.killAfterMs ?? 20_000 : 20_000;
    const run = await runTool(argv, env, killAfterMs);
    const records = (await cluster.requests()).filter((r) =>
      r.path.endsWith(`?parity=${index}&tool=${tool}`)
    );
    return {
      run,
      ok: run.code === 0 && !run.hung,
      runs: (readState(state, "runs") ?? "").split("\n").filter((l) => l)
        .length,
      info: readState(state, "info"),
      args: readState(state, "args"),
      env: readState(state, "env"),
      stdin: readState(state, "stdin"),
      records,
    };
  };
  const k = await observe("kubectl", [
    (kubectl as { path: string }).path,
    "get",
    "--raw",
    `${path}&tool=kubectl`,
    "--kubeconfig",
    kubeconfig,
    ...extra,
  ]);
  const a = await observe("kubeauth", [
    ...kubeauthArgv,
    "fetch",
    `${path}&tool=kubeauth`,
    "--kubeconfig",
    kubeconfig,
    ...extra,
    ...(pc.kubeauthArgs ?? []),
  ]);

  checkOutcome("kubectl", k, pc.difference?.kubectl ?? pc.expect!);
  checkOutcome("kubeauth", a, pc.difference?.kubeauth ?? pc.expect!);
  // kubeauth's failures are one `error: ` line, after the plugin's stderr.
  if (!a.ok) {
    const lines = a.run.stderr.trimEnd().split("\n");
    assert.match(lines.at(-1)!, /^error: /, a.run.stderr);
    assert.equal(
      lines.filter((l) => l.startsWith("error: ")).length,
      1,
      a.run.stderr,
    );
  }
  if (pc.pluginStderr !== undefined) {
    for (const [tool, o] of [["kubectl", k], ["kubeauth", a]] as const) {
      assert.ok(
        o.run.stderr.includes(pc.pluginStderr),
        `${tool} did not pass the plugin's stderr through:\n${o.run.stderr}`,
      );
    }
  }
  // What the plugin was given is the same (when both ran it).
  if (k.runs > 0 && a.runs > 0) {
    const parsed = (s: string | undefined) =>
      s === undefined ? undefined : JSON.parse(s);
    assert.deepEqual(parsed(a.info), parsed(k.info), "KUBERNETES_EXEC_INFO");
    assert.equal(a.args, k.args, "plugin arguments");
    assert.equal(a.env, k.env, "plugin environment");
    assert.equal(a.stdin, k.stdin, "plugin stdin");
  }
  if (!pc.difference) {
    assert.deepEqual(
      a.records.map((r) => [r.user, r.authScheme, r.status]),
      k.records.map((r) => [r.user, r.authScheme, r.status]),
      "what the server saw",
    );
    if (k.ok && a.ok) {
      assert.deepEqual(JSON.parse(a.run.stdout), JSON.parse(k.run.stdout));
    }
  }
}

test(
  `kubectl parity: ${PARITY_CASES.length} cases, kubectl get --raw vs kubeauth fetch`,
  {
    timeout: 240_000,
  },
  async (t) => {
    if ("skip" in kubectl) {
      t.skip(kubectl.skip);
      return;
    }
    assert.ok(PARITY_CASES.length >= 30);
    assert.equal(
      new Set(PARITY_CASES.map((c) => c.name)).size,
      PARITY_CASES.length,
      "case names are unique",
    );
    const failures: string[] = [];
    // The slow case (a tool killed after a while) first, the others after it.
    const order = PARITY_CASES.map((_, i) => i).sort((a, b) =>
      (PARITY_CASES[b].killAfterMs ?? 0) - (PARITY_CASES[a].killAfterMs ?? 0)
    );
    let next = 0;
    const worker = async () => {
      while (next < order.length) {
        const i = order[next++];
        const pc = PARITY_CASES[i];
        try {
          await runCase(pc, i);
        } catch (err) {
          failures.push(
            `${pc.name}: ${err instanceof Error ? err.message : String(err)}`,
          );
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    assert.deepEqual(failures, [], failures.join("\n\n"));
  },
);

test("the intended differences are data: every one has a reason and differs", () => {
  for (const pc of PARITY_CASES) {
    assert.ok(
      (pc.expect === undefined) !== (pc.difference === undefined),
      `${pc.name}: exactly one of expect and difference`,
    );
    if (pc.difference) {
      assert.ok(pc.difference.reason.length > 10, pc.name);
      assert.notDeepEqual(pc.difference.kubectl, pc.difference.kubeauth);
    }
  }
});
