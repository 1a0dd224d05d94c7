// Property-based fuzzing (fast-check, fixed seeds) of the two parsers that
// read untrusted text: the ExecCredential decoder (a plugin's stdout, plus
// the client certificate/key it returns) and the kubeconfig loader/resolver
// (file text → load → normalise → resolve → credential source → client).
//
// 10,000 generated inputs in all: 5,000 plugin outputs + 1,000 certificate/
// key pairs (6,000 for the decoder) and 4,000 kubeconfig files. Each input is
// a valid document mutated: keys deleted/duplicated/renamed, wrong types,
// truncation, random bytes, YAML instead of JSON, huge strings, CR/LF in
// tokens, bad timestamps, PEM/DER garbage, deep nesting, YAML aliases.
//
// Properties: only KubeauthErrors come out (never another throw type, never
// a hang: every input is timed); no invalid credential is accepted (a token
// that cannot go in a header, a certificate without key, a version mismatch,
// a mismatched key pair); no error message quotes a secret (tokens,
// passwords and keys carry a marker that must never show).
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { dump as dumpYaml } from "js-yaml";
import { createCa, issueCertificate } from "./support/pki.ts";
import { createAuthedFetch } from "../src/fetch/authed_fetch.ts";
import { createCredentialSource } from "../src/fetch/credential_source.ts";
import type { Credentials } from "../src/credentials/credentials.ts";
import { KubeauthError } from "../src/errors.ts";
import {
  decodeExecCredential,
  EXEC_API_VERSIONS,
  type ExecApiVersion,
} from "../src/exec/protocol.ts";
import { parseClientCertificate } from "../src/credentials/client_certificate.ts";
import { resolveDefaultContext } from "../src/kubeconfig/mod.ts";
import type { RuntimeAdapter, Transport } from "../src/runtime/types.ts";
import { SpawnError } from "../src/runtime/types.ts";

/** Every secret the generators produce contains this; no message may. */
const MARK = "SEKRIT";
const SEED = 0x6b756265; // "kube"
/** An input unanswered after this long is reported as a hang (not a speed bound). */
const HANG_MS = 20_000;

const V1 = "client.authentication.k8s.io/v1";

/** A message must not contain a secret marker nor a fragment of a key. */
function assertNoSecret(
  text: string,
  keyFragments: readonly string[] = [],
): void {
  assert.ok(!text.includes(MARK), `secret marker in: ${text.slice(0, 300)}`);
  for (const f of keyFragments) {
    assert.ok(!text.includes(f), `key material in: ${text.slice(0, 300)}`);
  }
}

/** Every message of an error and its cause chain. */
function messages(err: unknown): string {
  const out: string[] = [];
  for (let e = err, i = 0; e !== undefined && e !== null && i < 10; i++) {
    out.push(
      e instanceof Error ? `${e.name}: ${e.message}` : String(e),
    );
    e = (e as { cause?: unknown }).cause;
  }
  return out.join(" <- ");
}

function assertKubeauthError(err: unknown, codes: readonly string[]): void {
  if (!(err instanceof KubeauthError)) {
    assert.fail(`not a KubeauthError: ${messages(err)}`);
  }
  assert.ok(
    codes.includes(err.code),
    `unexpected code ${err.code}: ${err.message}`,
  );
}

// ---------------------------------------------------------------------------
// Shared material: real certificates (EC P-256 PKCS#8, RSA PKCS#1, EC SEC1,
// Ed25519) from the demo PKI, made once.

interface Pair {
  certPem: string;
  keyPem: string;
}

let material:
  | Promise<{ caPem: string; pairs: Pair[]; other: Pair }>
  | undefined;

function getMaterial() {
  material ??= (async () => {
    const ca = await createCa({ commonName: "fuzz-ca" });
    const pairs: Pair[] = [];
    for (
      const [keyType, keyFormat] of [
        ["ec-p256", "pkcs8"],
        ["ec-p256", "sec1"],
        ["rsa-2048", "pkcs1"],
        ["ed25519", "pkcs8"],
      ] as const
    ) {
      const p = await issueCertificate(ca, {
        commonName: `fuzz-${keyType}-${keyFormat}`,
        usage: "client",
        keyType,
        keyFormat,
      });
      pairs.push({ certPem: p.certPem, keyPem: p.keyPem });
    }
    const o = await issueCertificate(ca, {
      commonName: "other",
      usage: "client",
    });
    return {
      caPem: ca.certPem,
      pairs,
      other: { certPem: o.certPem, keyPem: o.keyPem },
    };
  })();
  return material;
}

/** 24-character pieces of a key's base64 body: none may appear in a message. */
function keyFragments(keyPem: string): string[] {
  const body = keyPem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  const out: string[] = [];
  for (let i = 0; i + 24 <= body.length; i += 24) {
    out.push(body.slice(i, i + 24));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Generic mutations of a JSON-like document and of text.

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Paths of every node of a document (object keys and array indexes). */
function paths(
  doc: Json,
  prefix: (string | number)[] = [],
): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(doc)) {
    doc.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  } else if (doc !== null && typeof doc === "object") {
    for (const [k, v] of Object.entries(doc)) {
      out.push(...paths(v, [...prefix, k]));
    }
  }
  return out;
}

function getAt(doc: Json, path: (string | number)[]): Json {
  let v: Json = doc;
  for (const p of path) v = (v as Record<string, Json>)[p as string];
  return v;
}

/** Replaces (or deletes, with `undefined`) the node at `path`; returns the new doc. */
function setAt(
  doc: Json,
  path: (string | number)[],
  value: Json | undefined,
): Json | undefined {
  if (path.length === 0) return value;
  const [head, ...rest] = path;
  if (Array.isArray(doc)) {
    const copy = [...doc];
    const v = setAt(copy[head as number], rest, value);
    if (v === undefined) copy.splice(head as number, 1);
    else copy[head as number] = v;
    return copy;
  }
  const copy = { ...(doc as Record<string, Json>) };
  const v = setAt(copy[head as string], rest, value);
  if (v === undefined) delete copy[head as string];
  else copy[head as string] = v;
  return copy;
}

/** Wrong-typed and odd values (never a secret: they may be quoted). */
const oddValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom("", " ", "null", "~", "0", "true", "2006-01-02", "\u0000"),
  fc.string({ maxLength: 12 }),
  fc.constant([] as Json),
  fc.constant({} as Json),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 }),
);

type DocMutation =
  | { t: "delete"; at: number }
  | { t: "retype"; at: number; value: Json }
  | { t: "rename"; at: number; name: string }
  | { t: "dupe"; at: number }
  | { t: "huge"; at: number; size: number };

const docMutation: fc.Arbitrary<DocMutation> = fc.oneof(
  fc.record({ t: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({
    t: fc.constant("retype" as const),
    at: fc.nat(),
    value: oddValue,
  }),
  fc.record({
    t: fc.constant("rename" as const),
    at: fc.nat(),
    name: fc.oneof(
      fc.string({ maxLength: 8 }),
      fc.constantFrom(
        "Token",
        "STATUS",
        "apiversion",
        "__proto__",
        "constructor",
      ),
    ),
  }),
  fc.record({ t: fc.constant("dupe" as const), at: fc.nat() }),
  fc.record({
    t: fc.constant("huge" as const),
    at: fc.nat(),
    size: fc.constantFrom(1_000, 1_000, 20_000, 300_000),
  }),
);

/** Applies one structural mutation; string values keep their marker when made huge. */
function mutateDoc(doc: Json, m: DocMutation): Json {
  const all = paths(doc).filter((p) => p.length > 0);
  if (all.length === 0) return doc;
  const path = all[m.at % all.length];
  const parent = getAt(doc, path.slice(0, -1));
  const last = path[path.length - 1];
  switch (m.t) {
    case "delete":
      return setAt(doc, path, undefined) ?? null;
    case "retype":
      return setAt(doc, path, m.value) ?? null;
    case "rename": {
      if (Array.isArray(parent) || typeof last !== "string") return doc;
      const value = getAt(doc, path);
      const without = setAt(doc, path, undefined) as Json;
      return setAt(without, [...path.slice(0, -1), m.name], value) ?? null;
    }
    case "dupe": {
      const value = getAt(doc, path);
      if (Array.isArray(parent)) {
        return setAt(doc, path.slice(0, -1), [...parent, value]) ?? null;
      }
      return doc; // object keys are duplicated at the text level
    }
    case "huge": {
      const value = getAt(doc, path);
      const base = typeof value === "string" && value !== "" ? value : "x";
      return setAt(doc, path, base.repeat(Math.ceil(m.size / base.length))) ??
        null;
    }
  }
}

type TextMutation =
  | { t: "truncate"; at: number }
  | { t: "insert"; at: number; text: string }
  | { t: "delete"; at: number; len: number }
  | { t: "dupeLine"; at: number }
  | { t: "prefix"; text: string }
  | { t: "suffix"; text: string }
  | { t: "bytes"; bytes: Uint8Array };

const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
  fc.record({ t: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    t: fc.constant("insert" as const),
    at: fc.nat(),
    text: fc.oneof(
      fc.string({ maxLength: 6 }),
      fc.string({ unit: "binary", maxLength: 4 }),
      fc.constantFrom(
        "{",
        "}",
        "[",
        '"',
        ":",
        ",",
        "\n",
        "\r\n",
        "\t",
        "\\",
        "\\u00",
        "- ",
        "&a ",
        "*a",
        "!!binary ",
        "!!js/function ",
        "<<: ",
        "? ",
        "|",
        "%YAML 1.2\n",
        "---\n",
        "...\n",
        "\uFEFF",
        "\u2028",
      ),
    ),
  }),
  fc.record({
    t: fc.constant("delete" as const),
    at: fc.nat(),
    len: fc.integer({ min: 1, max: 8 }),
  }),
  fc.record({ t: fc.constant("dupeLine" as const), at: fc.nat() }),
  fc.record({
    t: fc.constant("prefix" as const),
    text: fc.constantFrom(
      "Logging in...\n",
      "\uFEFF",
      "   \n\t",
      "# comment\n",
      "--- \n",
      "null\n",
      "[",
    ),
  }),
  fc.record({
    t: fc.constant("suffix" as const),
    text: fc.constantFrom(
      " garbage",
      "\n{}",
      "\n---\nfoo: [\n",
      "}",
      "\u0000",
      " \n\n",
      '"',
    ),
  }),
  fc.record({
    t: fc.constant("bytes" as const),
    bytes: fc.uint8Array({ minLength: 0, maxLength: 64 }),
  }),
);

function mutateText(text: string, m: TextMutation): string {
  const n = text.length;
  switch (m.t) {
    case "truncate":
      return text.slice(0, n === 0 ? 0 : m.at % n);
    case "insert": {
      const i = n === 0 ? 0 : m.at % (n + 1);
      return text.slice(0, i) + m.text + text.slice(i);
    }
    case "delete": {
      const i = n === 0 ? 0 : m.at % n;
      return text.slice(0, i) + text.slice(i + m.len);
    }
    case "dupeLine": {
      const lines = text.split("\n");
      const i = m.at % lines.length;
      lines.splice(i, 0, lines[i]);
      return lines.join("\n");
    }
    case "prefix":
      return m.text + text;
    case "suffix":
      return text + m.text;
    case "bytes": {
      // Latin-1 view of random bytes: control characters, invalid UTF-8 once encoded.
      let s = "";
      for (const b of m.bytes) s += String.fromCharCode(b);
      return m.bytes.length % 2 === 0 ? s : text.slice(0, m.bytes.length) + s;
    }
  }
}

/** JSON (compact or indented), YAML (block or flow), or JSON with a key repeated. */
type Rendering = "json" | "json-pretty" | "yaml" | "yaml-flow" | "json-dupkey";
const rendering: fc.Arbitrary<Rendering> = fc.constantFrom(
  "json",
  "json",
  "json-pretty",
  "yaml",
  "yaml-flow",
  "json-dupkey",
);

function render(doc: Json, how: Rendering, dupe: number): string {
  switch (how) {
    case "json":
      return JSON.stringify(doc);
    case "json-pretty":
      return JSON.stringify(doc, null, 2);
    case "yaml":
      return dumpYaml(doc, { lineWidth: -1 });
    case "yaml-flow":
      return dumpYaml(doc, { flowLevel: 1, lineWidth: -1 });
    case "json-dupkey": {
      // Repeat one "key": value member of the top-level object.
      const text = JSON.stringify(doc);
      if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
        return text;
      }
      const keys = Object.keys(doc);
      if (keys.length === 0) return text;
      const k = keys[dupe % keys.length];
      const member = `${JSON.stringify(k)}:${JSON.stringify(doc[k])}`;
      return text.slice(0, -1) + "," + member + "}";
    }
  }
}

// ---------------------------------------------------------------------------
// 1. ExecCredential decoder: 5,000 plugin outputs.

/** Tokens: printable, or with characters no header can carry; all marked. */
const tokenArb: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.string({
      unit: "grapheme-ascii",
      minLength: 0,
      maxLength: 20,
    }).map((s) => `${MARK}-${s.replace(/\s/g, "")}`),
  },
  fc.tuple(
    fc.string({ unit: "grapheme-ascii", maxLength: 8 }),
    fc.constantFrom(
      "\n",
      "\r",
      "\r\n",
      "\u0000",
      "\u001b",
      "\u007f",
      "\u0085",
      "\u2028",
      "\u0100",
      "\uD83D\uDE00",
      "\t",
      " ",
    ),
    fc.string({ unit: "grapheme-ascii", maxLength: 8 }),
  ).map(([a, c, b]) => `${MARK}${a}${c}${b}`),
  fc.string({ unit: "binary", maxLength: 16 }).map((s) => MARK + s),
);

/** RFC 3339 and near misses (never secret: they may be quoted). */
const timestampArb: fc.Arbitrary<Json> = fc.oneof(
  fc.date({
    min: new Date("0001-01-01T00:00:00Z"),
    max: new Date("9999-12-31T23:59:59Z"),
    noInvalidDate: true,
  }).map((d) => d.toISOString().replace(/\.\d{3}Z$/, "Z")),
  fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) }).map(
    (d) => d.toISOString(),
  ),
  fc.constantFrom(
    "2006-01-02T15:04:05Z",
    "2006-01-02T15:04:05.999999999+07:00",
    "2006-01-02T15:04:05-00:00",
    "2006-01-02t15:04:05z",
    "2006-01-02 15:04:05Z",
    "2006-02-30T00:00:00Z",
    "2006-13-01T00:00:00Z",
    "2006-01-02T24:00:00Z",
    "2006-01-02T23:59:60Z",
    "2006-01-02T15:04:05+24:00",
    "0000-00-00T00:00:00Z",
    "+275760-09-13T00:00:00Z",
    "2006-01-02T15:04:05.Z",
    "2006-01-02",
    "",
    "now",
    "1136214245",
  ),
  fc.string({ maxLength: 30 }),
  fc.integer(),
  fc.constant(null),
);

/** PEM-looking garbage for cert/key fields (keys marked). */
function pemGarbage(label: string, marked: boolean): fc.Arbitrary<string> {
  return fc.oneof(
    fc.base64String({ maxLength: 200 }).map((b) =>
      `-----BEGIN ${label}-----\n${
        marked ? MARK : ""
      }${b}\n-----END ${label}-----\n`
    ),
    fc.string({ maxLength: 40 }).map((s) => (marked ? MARK : "") + s),
    fc.constantFrom(
      `-----BEGIN ${label}-----\n`,
      `-----END ${label}-----\n`,
      `-----BEGIN ${label}-----\n-----END ${label}-----\n`,
    ),
  );
}

interface CredentialPlan {
  configured: ExecApiVersion;
  returned: string | undefined;
  kind: string | undefined;
  token: string | undefined;
  cert: "none" | "valid" | "garbage" | "cert-only" | "key-only";
  certIndex: number;
  garbageCert: string;
  garbageKey: string;
  expiry: Json | undefined;
  extra: Record<string, Json>;
  docMutations: DocMutation[];
  how: Rendering;
  dupe: number;
  textMutations: TextMutation[];
  special:
    | "none"
    | "random-bytes"
    | "deep-array"
    | "deep-object"
    | "deep-yaml"
    | "huge-json"
    | "many-keys";
  randomBytes: Uint8Array;
}

const versionArb = fc.constantFrom(...EXEC_API_VERSIONS);

const credentialPlan: fc.Arbitrary<CredentialPlan> = fc.record({
  configured: versionArb,
  returned: fc.oneof(
    { weight: 6, arbitrary: fc.constant(undefined) }, // = configured
    { weight: 2, arbitrary: versionArb },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "v1",
        "client.authentication.k8s.io/v2",
        "client.authentication.k8s.io/__internal",
        "",
        "CLIENT.authentication.k8s.io/v1",
      ),
    },
  ),
  kind: fc.oneof(
    { weight: 6, arbitrary: fc.constant("ExecCredential") },
    {
      weight: 1,
      arbitrary: fc.constantFrom(undefined, "", "Status", "execcredential"),
    },
  ),
  token: fc.option(tokenArb, { nil: undefined, freq: 3 }),
  cert: fc.constantFrom(
    "none",
    "none",
    "valid",
    "garbage",
    "cert-only",
    "key-only",
  ),
  certIndex: fc.nat(),
  garbageCert: pemGarbage("CERTIFICATE", false),
  garbageKey: pemGarbage("PRIVATE KEY", true),
  expiry: fc.option(timestampArb, { nil: undefined, freq: 2 }),
  extra: fc.dictionary(
    fc.constantFrom("foo", "spec", "metadata", "Token", "status2"),
    oddValue,
    { maxKeys: 2 },
  ),
  docMutations: fc.oneof(
    { weight: 3, arbitrary: fc.constant([] as DocMutation[]) },
    {
      weight: 2,
      arbitrary: fc.array(docMutation, { minLength: 1, maxLength: 2 }),
    },
  ),
  how: rendering,
  dupe: fc.nat(),
  textMutations: fc.oneof(
    { weight: 3, arbitrary: fc.constant([] as TextMutation[]) },
    {
      weight: 2,
      arbitrary: fc.array(textMutation, { minLength: 1, maxLength: 3 }),
    },
  ),
  special: fc.oneof(
    { weight: 150, arbitrary: fc.constant("none" as const) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "random-bytes" as const,
        "deep-array" as const,
        "deep-object" as const,
        "deep-yaml" as const,
        "huge-json" as const,
        "many-keys" as const,
      ),
    },
  ),
  randomBytes: fc.uint8Array({ maxLength: 256 }),
});

function buildOutput(plan: CredentialPlan, pairs: Pair[]): string | Uint8Array {
  switch (plan.special) {
    case "random-bytes":
      return plan.randomBytes;
    case "deep-array":
      return "[".repeat(200_000) + "]".repeat(plan.certIndex % 2 ? 200_000 : 3);
    case "deep-object":
      return '{"a":'.repeat(50_000) + "1" +
        "}".repeat(plan.certIndex % 2 ? 50_000 : 1);
    case "deep-yaml":
      return "a:\n" +
        Array.from({ length: 1000 }, (_, i) => " ".repeat(i + 1) + "- b").join(
          "\n",
        );
    case "huge-json":
      return JSON.stringify({
        apiVersion: plan.configured,
        status: { token: MARK + "x".repeat(1_000_000) },
      });
    case "many-keys": {
      const status: Record<string, string> = {};
      for (let i = 0; i < 20_000; i++) status[`k${i}`] = "v";
      status.token = `${MARK}-many`;
      return JSON.stringify({ apiVersion: plan.configured, status });
    }
  }
  const status: Record<string, Json> = {};
  if (plan.token !== undefined) status.token = plan.token;
  const pair = pairs[plan.certIndex % pairs.length];
  if (plan.cert === "valid") {
    status.clientCertificateData = pair.certPem;
    status.clientKeyData = pair.keyPem;
  } else if (plan.cert === "garbage") {
    status.clientCertificateData = plan.garbageCert;
    status.clientKeyData = plan.garbageKey;
  } else if (plan.cert === "cert-only") {
    status.clientCertificateData = pair.certPem;
  } else if (plan.cert === "key-only") {
    status.clientKeyData = plan.garbageKey;
  }
  if (plan.expiry !== undefined) status.expirationTimestamp = plan.expiry;
  let doc: Json = { ...plan.extra, status };
  const returned = plan.returned ?? plan.configured;
  doc = { apiVersion: returned, ...doc as Record<string, Json> };
  if (plan.kind !== undefined) (doc as Record<string, Json>).kind = plan.kind;
  for (const m of plan.docMutations) doc = mutateDoc(doc, m);
  let text = render(doc, plan.how, plan.dupe);
  for (const m of plan.textMutations) text = mutateText(text, m);
  return text;
}

/** What an accepted answer must satisfy, checked against the raw JSON when there is one. */
function checkAccepted(
  out: ReturnType<typeof decodeExecCredential>,
  input: string | Uint8Array,
  configured: ExecApiVersion,
): void {
  if (out.token !== undefined) {
    assert.ok(out.token.length > 0);
    // No CR, LF, NUL nor other control characters (the rest is sent as UTF-8).
    assert.ok(
      // deno-lint-ignore no-control-regex
      !/[\u0000-\u0008\u000a-\u001f\u007f]/.test(out.token),
      "a token that cannot go into a header was accepted",
    );
  }
  assert.equal(
    out.clientCertificateData === undefined,
    out.clientKeyData === undefined,
    "a certificate without its key (or a key alone) was accepted",
  );
  assert.ok(
    out.token !== undefined || out.clientCertificateData !== undefined,
    "nothing usable was accepted",
  );
  if (out.expirationTimestamp !== undefined) {
    assert.ok(!Number.isNaN(out.expirationTimestamp.getTime()));
  }
  if (typeof input !== "string") return;
  let raw: unknown;
  try {
    raw = JSON.parse(input);
  } catch {
    return; // YAML or lenient input: the structural checks above apply
  }
  const doc = raw as Record<string, unknown>;
  assert.equal(doc.apiVersion, configured, "a version mismatch was accepted");
  const status = doc.status as Record<string, unknown>;
  assert.equal(typeof status, "object");
  if (out.token !== undefined) assert.equal(out.token, status.token);
  if (out.clientKeyData !== undefined) {
    assert.equal(out.clientKeyData, status.clientKeyData);
    assert.equal(out.clientCertificateData, status.clientCertificateData);
  }
}

test("fuzz: the ExecCredential decoder, 5,000 mutated plugin outputs", {
  timeout: 120_000,
}, async () => {
  const { pairs } = await getMaterial();
  const stats = { accepted: 0, rejected: 0, slowestMs: 0 };
  fc.assert(
    fc.property(credentialPlan, (plan) => {
      const input = buildOutput(plan, pairs);
      const started = performance.now();
      let out: ReturnType<typeof decodeExecCredential> | undefined;
      try {
        out = decodeExecCredential(input, plan.configured);
      } catch (err) {
        assertKubeauthError(err, ["EXEC_OUTPUT_INVALID"]);
        assertNoSecret(messages(err));
        stats.rejected++;
      }
      const ms = performance.now() - started;
      stats.slowestMs = Math.max(stats.slowestMs, ms);
      if (out !== undefined) {
        checkAccepted(out, input, plan.configured);
        stats.accepted++;
      }
    }),
    { seed: SEED, numRuns: 5000, endOnFailure: true },
  );
  // The generators must exercise both outcomes substantially.
  assert.ok(stats.accepted > 500, `only ${stats.accepted} accepted`);
  assert.ok(stats.rejected > 1500, `only ${stats.rejected} rejected`);
});

// ---------------------------------------------------------------------------
// 2. Client certificate and key: 1,000 mutated pairs.

type PemPlan = {
  pair: number;
  how:
    | "valid"
    | "swap"
    | "mismatch"
    | "der-flip"
    | "der-truncate"
    | "b64-flip"
    | "label"
    | "strip-end"
    | "extra-blocks"
    | "cert-as-key"
    | "empty"
    | "whitespace";
  target: "cert" | "key";
  at: number;
  byte: number;
  label: string;
};

const pemPlan: fc.Arbitrary<PemPlan> = fc.record({
  pair: fc.nat(),
  how: fc.constantFrom(
    "valid",
    "swap",
    "mismatch",
    "der-flip",
    "der-flip",
    "der-flip",
    "der-truncate",
    "der-truncate",
    "b64-flip",
    "label",
    "strip-end",
    "extra-blocks",
    "cert-as-key",
    "empty",
    "whitespace",
  ),
  target: fc.constantFrom("cert", "key"),
  at: fc.nat(),
  byte: fc.integer({ min: 1, max: 255 }),
  label: fc.constantFrom(
    "PRIVATE KEY",
    "RSA PRIVATE KEY",
    "EC PRIVATE KEY",
    "ENCRYPTED PRIVATE KEY",
    "CERTIFICATE",
    "PUBLIC KEY",
    "X509 CRL",
    "private key",
  ),
});

function pemToDer(pem: string): Uint8Array {
  const b64 = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

function derToPem(label: string, der: Uint8Array): string {
  let bin = "";
  for (const b of der) bin += String.fromCharCode(b);
  const b64 = btoa(bin).replace(/.{64}/g, "$&\n").replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function labelOf(pem: string): string {
  return /-----BEGIN ([^-]+)-----/.exec(pem)?.[1] ?? "PRIVATE KEY";
}

test("fuzz: client certificate/key validation, 1,000 mutated pairs", {
  timeout: 120_000,
}, async () => {
  const { pairs, other } = await getMaterial();
  const stats = { accepted: 0, rejected: 0 };
  await fc.assert(
    fc.asyncProperty(pemPlan, async (plan) => {
      const pair = pairs[plan.pair % pairs.length];
      let cert = pair.certPem;
      let key = pair.keyPem;
      let mustReject = false;
      const mutate = (pem: string): string => {
        const der = pemToDer(pem);
        if (plan.how === "der-flip") {
          der[plan.at % der.length] ^= plan.byte;
          return derToPem(labelOf(pem), der);
        }
        return derToPem(labelOf(pem), der.subarray(0, plan.at % der.length));
      };
      switch (plan.how) {
        case "valid":
          break;
        case "swap":
          [cert, key] = [key, cert];
          mustReject = true;
          break;
        case "mismatch":
          if (plan.target === "cert") cert = other.certPem;
          else key = other.keyPem;
          mustReject = true;
          break;
        case "der-flip":
        case "der-truncate":
          if (plan.target === "cert") cert = mutate(cert);
          else key = mutate(key);
          if (plan.how === "der-truncate") mustReject = true;
          break;
        case "b64-flip": {
          const s = plan.target === "cert" ? cert : key;
          const start = s.indexOf("\n") + 1;
          const i = start + plan.at % (s.lastIndexOf("-----END") - start);
          const c = s[i] === "\n" ? "\n" : s[i] === "A" ? "!" : "A";
          const next = s.slice(0, i) + c + s.slice(i + 1);
          if (plan.target === "cert") cert = next;
          else key = next;
          break;
        }
        case "label":
          if (plan.target === "cert") {
            cert = derToPem(plan.label, pemToDer(cert));
            if (plan.label !== "CERTIFICATE") mustReject = true;
          } else {
            key = derToPem(plan.label, pemToDer(key));
            if (!plan.label.endsWith("PRIVATE KEY")) mustReject = true;
          }
          break;
        case "strip-end":
          if (plan.target === "cert") {
            cert = cert.replace(/-----END[^\n]*\n?/, "");
          } else key = key.replace(/-----END[^\n]*\n?/, "");
          mustReject = true;
          break;
        case "extra-blocks":
          // Trailing blocks of other types are ignored, as Go does.
          cert = cert + other.keyPem;
          key = "junk before\n" + key + other.certPem;
          break;
        case "cert-as-key":
          key = cert;
          mustReject = true;
          break;
        case "empty":
          if (plan.target === "cert") cert = "";
          else key = "";
          mustReject = true;
          break;
        case "whitespace":
          cert = "\r\n  " + cert.replaceAll("\n", "\r\n") + "\n\n";
          key = key.replaceAll("\n", "\n\t");
          break;
      }
      try {
        const cc = await parseClientCertificate(cert, key);
        assert.ok(!mustReject, `${plan.how}/${plan.target} was accepted`);
        assert.match(cc.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
        assertNoSecret(JSON.stringify(cc), keyFragments(key));
        assertNoSecret(String(cc), keyFragments(key));
        stats.accepted++;
      } catch (err) {
        assertKubeauthError(err, ["CERT_INVALID"]);
        assertNoSecret(messages(err), [
          ...keyFragments(pair.keyPem),
          ...keyFragments(other.keyPem),
        ]);
        stats.rejected++;
      }
    }),
    { seed: SEED + 1, numRuns: 1000, endOnFailure: true },
  );
  assert.ok(stats.accepted > 100, `only ${stats.accepted} accepted`);
  assert.ok(stats.rejected > 300, `only ${stats.rejected} rejected`);
});

// ---------------------------------------------------------------------------
// 3. Kubeconfig loader and resolver: 4,000 mutated files.

const DIR = "/fuzz";
const KUBECONFIG = `${DIR}/kubeconfig`;

class MemoryTransport implements Transport {
  inFlight = 0;
  closed = false;
  fetch(): Promise<Response> {
    return Promise.reject(new Error("no requests in the fuzz test"));
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
  destroy(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

/** A runtime adapter over an in-memory file system; plugins are "not found". */
function memoryAdapter(files: Map<string, string>): RuntimeAdapter {
  const enc = new TextEncoder();
  return {
    name: "node",
    os: "linux",
    spawn: (o) =>
      Promise.reject(new SpawnError("not-found", o.command, "no such file")),
    stdinIsTerminal: () => false,
    writeStderr: () => {},
    env: () => ({ PATH: "/usr/bin" }),
    getEnv: () => undefined,
    readFile: (path) => {
      const text = files.get(path);
      if (text === undefined) {
        return Promise.reject(
          Object.assign(new Error(`ENOENT: no such file, open '${path}'`), {
            code: "ENOENT",
          }),
        );
      }
      return Promise.resolve(enc.encode(text));
    },
    homeDir: () => "/home/fuzz",
    cwd: () => DIR,
    createTransport: (o) => {
      if (o.proxy !== undefined && !/^https?:\/\//.test(o.proxy)) {
        throw new KubeauthError("UNSUPPORTED", "proxy scheme not supported");
      }
      return new MemoryTransport();
    },
  };
}

type UserKind =
  | "token"
  | "tokenFile"
  | "certData"
  | "certFiles"
  | "basic"
  | "exec"
  | "auth-provider"
  | "none"
  | "token+exec";

interface KubeconfigPlan {
  clusters: {
    server: string;
    ca: "data" | "file" | "insecure" | "none" | "bad-data" | "missing-file";
    tlsServerName?: string;
    proxy?: string;
    extension?: Json;
  }[];
  users: {
    kind: UserKind;
    token: string;
    password: string;
    execVersion: string;
    pair: number;
    mode?: string;
  }[];
  contexts: { cluster: number; user: number; namespace?: string }[];
  current: number;
  contextOption: string | undefined;
  docMutations: DocMutation[];
  how: Rendering;
  dupe: number;
  textMutations: TextMutation[];
  special:
    | "none"
    | "billion-laughs"
    | "multi-doc"
    | "deep"
    | "tabs"
    | "anchors";
}

const serverArb = fc.oneof(
  { weight: 5, arbitrary: fc.constant("https://127.0.0.1:6443") },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "https://kube.example:443/k8s/clusters/c-abc",
      "http://localhost:8080",
      "https://[::1]:6443",
      "kube.example:6443",
      "ftp://kube.example",
      "https://user:pass@kube.example",
      "https://kube.example/?q=1#f",
      "",
      "https://",
      "https://exa mple.com",
    ),
  },
  { weight: 1, arbitrary: fc.webUrl() },
);

const kubeconfigPlan: fc.Arbitrary<KubeconfigPlan> = fc.record({
  clusters: fc.array(
    fc.record({
      server: serverArb,
      ca: fc.constantFrom(
        "data",
        "data",
        "file",
        "insecure",
        "none",
        "bad-data",
        "missing-file",
      ),
      tlsServerName: fc.option(fc.constantFrom("kube", "localhost"), {
        nil: undefined,
      }),
      proxy: fc.oneof(
        { weight: 8, arbitrary: fc.constant(undefined) },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            "http://proxy:3128",
            "socks5://proxy:1080",
            "nope",
          ),
        },
      ),
      extension: fc.oneof(
        { weight: 3, arbitrary: fc.constant(undefined) },
        {
          weight: 1,
          arbitrary: fc.oneof(
            fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
            oddValue,
          ),
        },
      ),
    }),
    { minLength: 1, maxLength: 3 },
  ),
  users: fc.array(
    fc.record({
      kind: fc.constantFrom<UserKind>(
        "token",
        "token",
        "tokenFile",
        "certData",
        "certFiles",
        "basic",
        "exec",
        "exec",
        "auth-provider",
        "none",
        "token+exec",
      ),
      token: tokenArb,
      password: fc.string({ maxLength: 10 }).map((s) => `${MARK}${s}`),
      execVersion: fc.oneof(
        { weight: 4, arbitrary: versionArb as fc.Arbitrary<string> },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            "",
            "client.authentication.k8s.io/v2",
            "v1",
          ),
        },
      ),
      pair: fc.nat(),
      mode: fc.option(
        fc.constantFrom("Never", "IfAvailable", "Always", "", "never"),
        { nil: undefined },
      ),
    }),
    { minLength: 1, maxLength: 3 },
  ),
  contexts: fc.array(
    fc.record({
      cluster: fc.nat(),
      user: fc.nat(),
      namespace: fc.option(fc.constantFrom("default", "kube-system", ""), {
        nil: undefined,
      }),
    }),
    { minLength: 1, maxLength: 3 },
  ),
  current: fc.nat(),
  contextOption: fc.oneof(
    { weight: 8, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constantFrom("ctx-0", "ctx-1", "nope") },
  ),
  docMutations: fc.oneof(
    { weight: 2, arbitrary: fc.constant([] as DocMutation[]) },
    {
      weight: 3,
      arbitrary: fc.array(docMutation, { minLength: 1, maxLength: 3 }),
    },
  ),
  how: rendering,
  dupe: fc.nat(),
  textMutations: fc.oneof(
    { weight: 3, arbitrary: fc.constant([] as TextMutation[]) },
    {
      weight: 1,
      arbitrary: fc.array(textMutation, { minLength: 1, maxLength: 3 }),
    },
  ),
  special: fc.oneof(
    { weight: 40, arbitrary: fc.constant("none" as const) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "billion-laughs" as const,
        "multi-doc" as const,
        "deep" as const,
        "tabs" as const,
        "anchors" as const,
      ),
    },
  ),
});

function b64(s: string): string {
  let bin = "";
  for (const b of new TextEncoder().encode(s)) bin += String.fromCharCode(b);
  return btoa(bin);
}

function buildKubeconfig(
  plan: KubeconfigPlan,
  m: { caPem: string; pairs: Pair[] },
  files: Map<string, string>,
): string {
  files.set(`${DIR}/ca.crt`, m.caPem);
  const clusters = plan.clusters.map((c, i) => {
    const cluster: Record<string, Json> = { server: c.server };
    if (c.ca === "data") cluster["certificate-authority-data"] = b64(m.caPem);
    if (c.ca === "file") cluster["certificate-authority"] = "ca.crt";
    if (c.ca === "missing-file") {
      cluster["certificate-authority"] = "nope/ca.crt";
    }
    if (c.ca === "bad-data") {
      cluster["certificate-authority-data"] = "!!not base64";
    }
    if (c.ca === "insecure") cluster["insecure-skip-tls-verify"] = true;
    if (c.tlsServerName) cluster["tls-server-name"] = c.tlsServerName;
    if (c.proxy) cluster["proxy-url"] = c.proxy;
    if (c.extension !== undefined) {
      cluster.extensions = [{
        name: "client.authentication.k8s.io/exec",
        extension: c.extension,
      }];
    }
    return { name: `cluster-${i}`, cluster };
  });
  const users = plan.users.map((u, i) => {
    const pair = m.pairs[u.pair % m.pairs.length];
    const user: Record<string, Json> = {};
    const exec: Record<string, Json> = {
      command: u.pair % 3 === 0 ? "./bin/plugin" : "kubeauth-fuzz-plugin",
      args: ["--flag", "value with space"],
      env: [{ name: "FOO", value: "bar" }],
      apiVersion: u.execVersion,
      provideClusterInfo: u.pair % 2 === 0,
      installHint: "install it \u001b[1mnow\u001b[0m",
    };
    if (u.mode !== undefined) exec.interactiveMode = u.mode;
    switch (u.kind) {
      case "token":
        user.token = u.token;
        break;
      case "tokenFile":
        files.set(`${DIR}/token-${i}`, u.token + "\n");
        user.tokenFile = `token-${i}`;
        break;
      case "certData":
        user["client-certificate-data"] = b64(pair.certPem);
        user["client-key-data"] = b64(pair.keyPem);
        break;
      case "certFiles":
        files.set(`${DIR}/u${i}.crt`, pair.certPem);
        files.set(`${DIR}/u${i}.key`, pair.keyPem);
        user["client-certificate"] = `u${i}.crt`;
        user["client-key"] = `${DIR}/u${i}.key`;
        break;
      case "basic":
        user.username = `user-${i}`;
        user.password = u.password;
        break;
      case "exec":
        user.exec = exec;
        break;
      case "auth-provider":
        user["auth-provider"] = {
          name: u.pair % 2 ? "oidc" : "gcp",
          config: { "id-token": u.token, "client-secret": u.password },
        };
        break;
      case "token+exec":
        user.token = u.token;
        user.exec = exec;
        break;
      case "none":
        break;
    }
    return { name: `user-${i}`, user };
  });
  // References are valid most of the time, dangling now and then.
  const ref = (n: number, len: number) => n % (n % 16 === 0 ? len + 1 : len);
  const contexts = plan.contexts.map((c, i) => {
    const context: Record<string, Json> = {
      cluster: `cluster-${ref(c.cluster, plan.clusters.length)}`,
      user: `user-${ref(c.user, plan.users.length)}`,
    };
    if (c.namespace !== undefined) context.namespace = c.namespace;
    return { name: `ctx-${i}`, context };
  });
  let doc: Json = {
    apiVersion: "v1",
    kind: "Config",
    "current-context": `ctx-${ref(plan.current, plan.contexts.length)}`,
    clusters,
    users,
    contexts,
    preferences: {},
  };
  for (const mu of plan.docMutations) doc = mutateDoc(doc, mu);
  let text = render(doc, plan.how, plan.dupe);
  switch (plan.special) {
    case "billion-laughs": {
      // Aliases are references in the parsed document; anything that walks
      // it as a tree (stringify, deep copy) would take 10^9 steps.
      const lines = [
        'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
      ];
      for (let i = 1; i <= 9; i++) {
        lines.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(",")}]`);
      }
      text =
        `${
          lines.join("\n")
        }\napiVersion: v1\nkind: Config\ncurrent-context: ctx\n` +
        `clusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\n    extensions:\n` +
        `    - name: client.authentication.k8s.io/exec\n      extension: *a9\n` +
        `users:\n- name: u\n  user:\n    exec:\n      command: plugin\n      apiVersion: ${V1}\n` +
        `      interactiveMode: Never\n      provideClusterInfo: true\n      args: *a9\n` +
        `contexts:\n- name: ctx\n  context: {cluster: c, user: u}\n`;
      break;
    }
    case "multi-doc":
      text = `${text}\n---\n${text}\n---\n: [\n`;
      break;
    case "deep":
      text = "clusters: " + "[".repeat(50_000) + "]".repeat(50_000) + "\n" +
        text;
      break;
    case "tabs":
      text = text.replace(/^( +)/gm, (s) => "\t".repeat(s.length / 2));
      break;
    case "anchors":
      text = `x-user: &u {token: "${MARK}-anchored"}\n` +
        `apiVersion: v1\nkind: Config\ncurrent-context: ctx\n` +
        `clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]\n` +
        `users: [{name: u, user: *u}, {name: v, user: {<<: *u, username: x}}]\n` +
        `contexts: [{name: ctx, context: {cluster: c, user: ${
          plan.current % 2 ? "u" : "v"
        }}}]\n`;
      break;
  }
  for (const mu of plan.textMutations) text = mutateText(text, mu);
  return text;
}

/** What accepted credentials must satisfy. */
function checkCredentials(creds: Credentials): void {
  if (creds.token !== undefined && creds.token !== "") {
    assert.ok(
      // deno-lint-ignore no-control-regex
      !/[\u0000-\u0008\u000a-\u001f\u007f]/.test(creds.token),
      "a kubeconfig token that cannot go into a header was accepted",
    );
  }
  if (creds.basic !== undefined) {
    assert.ok(creds.basic.username !== "");
  }
  const cc = creds.clientCertificate;
  if (cc !== undefined) {
    assert.ok(cc.certPem.includes("-----BEGIN CERTIFICATE-----"));
    assert.ok(cc.keyPem.includes("PRIVATE KEY-----"));
  }
  assertNoSecret(JSON.stringify(creds));
  assertNoSecret(String(creds));
}

const KUBECONFIG_CODES = [
  "KUBECONFIG_INVALID",
  "KUBECONFIG_NOT_FOUND",
  "CONTEXT_NOT_FOUND",
  "EXEC_CONFIG_INVALID",
  "EXEC_NOT_FOUND",
  "EXEC_INTERACTIVE_UNAVAILABLE",
  "CERT_INVALID",
  "CREDENTIAL_INVALID",
  "UNSUPPORTED",
];

test("fuzz: the kubeconfig loader and resolver, 4,000 mutated files", {
  timeout: 180_000,
}, async () => {
  const m = await getMaterial();
  const frags = m.pairs.flatMap((p) => keyFragments(p.keyPem));
  const stats = { resolved: 0, credentials: 0, rejected: 0, slowestMs: 0 };
  const withDeadline = async <T>(what: string, p: Promise<T>): Promise<T> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        p,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`${what} hung for ${HANG_MS} ms`)),
            HANG_MS,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  };
  await fc.assert(
    fc.asyncProperty(kubeconfigPlan, async (plan) => {
      const files = new Map<string, string>();
      const text = buildKubeconfig(plan, m, files);
      files.set(KUBECONFIG, text);
      const adapter = memoryAdapter(files);
      const started = performance.now();
      const expectKubeauth = (err: unknown) => {
        if (err instanceof assert.AssertionError) throw err;
        if (err instanceof Error && / hung for /.test(err.message)) throw err;
        assertKubeauthError(err, KUBECONFIG_CODES);
        assertNoSecret(messages(err), frags);
        stats.rejected++;
      };
      try {
        const ctx = await withDeadline(
          "resolveDefaultContext",
          resolveDefaultContext({
            kubeconfig: KUBECONFIG,
            context: plan.contextOption,
            adapter,
          }),
        );
        stats.resolved++;
        assertNoSecret(
          `${ctx.contextName} ${ctx.cluster.server} ${ctx.source}`,
        );
        const kube = await withDeadline(
          "createAuthedFetch",
          createAuthedFetch({
            kubeconfig: KUBECONFIG,
            context: plan.contextOption,
            adapter,
          }),
        );
        await kube.close();
        const source = createCredentialSource(ctx, { adapter });
        try {
          const creds = await withDeadline("source.get", source.get());
          checkCredentials(creds);
          stats.credentials++;
        } finally {
          await source.close();
        }
      } catch (err) {
        expectKubeauth(err);
      }
      const ms = performance.now() - started;
      stats.slowestMs = Math.max(stats.slowestMs, ms);
    }),
    { seed: SEED + 2, numRuns: 4000, endOnFailure: true },
  );
  assert.ok(
    stats.credentials > 400,
    `only ${stats.credentials} with credentials`,
  );
  assert.ok(stats.rejected > 800, `only ${stats.rejected} rejected`);
});

test(
  "a YAML alias bomb in the exec extension is handled without expanding it (kubectl: 'excessive aliasing')",
  {
    timeout: 120_000,
  },
  async () => {
    // 10^7 leaves through anchors (kubectl refuses such a file at once with
    // "yaml: document contains excessive aliasing"); depth 9 would be 10^10.
    // Whatever kubeauth does — refuse the file, or never expand the aliases —
    // it must not walk the expanded tree (registry key, KUBERNETES_EXEC_INFO).
    const lines = [`a0: &a0 [${Array(10).fill('"lol"').join(",")}]`];
    for (let i = 1; i <= 6; i++) {
      lines.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(",")}]`);
    }
    const text = `${lines.join("\n")}
apiVersion: v1
kind: Config
current-context: ctx
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:6443
    extensions:
    - name: client.authentication.k8s.io/exec
      extension: *a6
users:
- name: u
  user:
    exec:
      command: kubeauth-fuzz-plugin
      apiVersion: ${V1}
      interactiveMode: Never
      provideClusterInfo: true
contexts:
- name: ctx
  context: {cluster: c, user: u}
`;
    const adapter = memoryAdapter(new Map([[KUBECONFIG, text]]));
    try {
      const ctx = await resolveDefaultContext({
        kubeconfig: KUBECONFIG,
        adapter,
      });
      const source = createCredentialSource(ctx, { adapter });
      try {
        await source.get();
      } finally {
        await source.close();
      }
    } catch (err) {
      assertKubeauthError(err, KUBECONFIG_CODES);
    }
    // An exponential expansion would never get here: the test's timeout catches it.
  },
);
