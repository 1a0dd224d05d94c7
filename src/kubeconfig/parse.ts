/**
 * Parsing and normalising one kubeconfig document: YAML (or JSON) text to a
 * checked {@linkcode Kubeconfig}, with kubectl's decoding rules — only the
 * first YAML document counts, `apiVersion: v1` / `kind: Config` (or none),
 * duplicate names in one list are an error, `args: null` / `env: null`
 * become `[]`, `interactiveMode` defaults to `IfAvailable` for v1beta1, and
 * relative file references become absolute against the file's directory.
 *
 * Error messages name the file and the field, never a value (values may be
 * secrets).
 *
 * @module
 */
import { DEFAULT_SCHEMA, loadAll } from "js-yaml";
import { KubeconfigError } from "../errors.ts";
import type {
  AuthInfoConfig,
  ClusterConfig,
  ContextConfig,
  ExecConfig,
  ExecEnvVar,
  Kubeconfig,
  NamedExtension,
} from "./types.ts";
import { hasPathSeparator, type PathFlavor, resolvePath } from "./paths.ts";
import { withRedactedInspect } from "./redact.ts";

/**
 * How many values aliases may add once expanded: far more than any real
 * kubeconfig's anchors add; a YAML alias bomb adds far more. Values that
 * are written out (no alias) do not count, so a 50 MB kubeconfig loads.
 */
const MAX_EXPANDED_NODES = 1_000_000;

/**
 * Whether expanding the value's aliases adds more than `budget` values.
 * The YAML parser returns the same object for an anchor and each alias to
 * it, so an object reached a second time is an alias: everything below it
 * is counted, each time it is reached. Stops as soon as the budget is
 * spent, so it is linear in the document plus the budget, never in the
 * expansion.
 */
function expandedSizeExceeds(root: unknown, budget: number): boolean {
  const values: unknown[] = [root];
  const aliased: boolean[] = [false];
  const seen = new Set<object>();
  let count = 0;
  while (values.length > 0) {
    const v = values.pop();
    let viaAlias = aliased.pop()!;
    if (v === null || typeof v !== "object") {
      if (viaAlias && ++count > budget) return true;
      continue;
    }
    if (seen.has(v)) viaAlias = true;
    else seen.add(v);
    if (viaAlias && ++count > budget) return true;
    for (const item of Array.isArray(v) ? v : Object.values(v)) {
      values.push(item);
      aliased.push(viaAlias);
    }
  }
  return false;
}

/**
 * Parses kubeconfig text (YAML or JSON). Only the first YAML document is
 * used, as kubectl does. An empty file is an empty object.
 *
 * @example Usage
 * ```ts
 * import { parseYamlDocument } from "./parse.ts";
 * const raw = parseYamlDocument("current-context: dev\n", "/tmp/config");
 * if ((raw as { "current-context": string })["current-context"] !== "dev") throw new Error("not as shown");
 * ```
 *
 * @param text The file content.
 * @param file The file's path, for error messages.
 * @returns The first document's value (`null` for an empty file).
 * @throws {KubeconfigError} `KUBECONFIG_INVALID` naming the file, line and column.
 */
export function parseYamlDocument(text: string, file: string): unknown {
  try {
    const docs = loadAll(text, null, {
      filename: file,
      schema: DEFAULT_SCHEMA,
    });
    const doc = docs.length === 0 ? null : docs[0];
    if (expandedSizeExceeds(doc, MAX_EXPANDED_NODES)) {
      throw new KubeconfigError(
        "KUBECONFIG_INVALID",
        `invalid YAML in kubeconfig file "${file}": document contains excessive aliasing (aliases expand to more than ${MAX_EXPANDED_NODES} values)`,
        { file },
      );
    }
    return doc;
  } catch (err) {
    if (err instanceof KubeconfigError) throw err;
    const e = err as {
      reason?: unknown;
      mark?: { line?: number; column?: number };
    };
    const line = typeof e.mark?.line === "number" ? e.mark.line + 1 : undefined;
    const column = typeof e.mark?.column === "number"
      ? e.mark.column + 1
      : undefined;
    const reason = typeof e.reason === "string"
      ? withoutInput(e.reason)
      : "invalid YAML";
    // The YAML library's own message quotes the offending lines (which may
    // hold a token), so only its reason and position are used.
    const at = line === undefined
      ? ""
      : ` at line ${line}${column === undefined ? "" : `, column ${column}`}`;
    throw new KubeconfigError(
      "KUBECONFIG_INVALID",
      `invalid YAML in kubeconfig file "${file}"${at}: ${reason}`,
      { file },
    );
  }
}

/**
 * Removes the bits of the input that some YAML reasons quote (alias and tag
 * names: an unquoted token starting with `*` or `!` would land there).
 */
function withoutInput(reason: string): string {
  return reason
    .replace(/"[^"]*"/g, '"…"')
    .replace(/!<[^>]*>/g, "!<…>")
    .replace(
      /^(tag prefix is malformed|tag name cannot contain such characters|tag name is malformed): .*$/,
      "$1",
    );
}

/** How {@linkcode normalizeKubeconfig} treats paths and names things. */
export interface NormalizeOptions {
  /** The defining file, for messages; absent for an object passed in by a user. */
  file?: string;
  /**
   * The absolute directory relative file references are resolved against
   * (the defining file's directory). Absent: paths are left as written.
   */
  baseDir?: string;
  /** The path flavour of the platform. */
  flavor: PathFlavor;
}

type Obj = Record<string, unknown>;

function at(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

const YAML11_TRUE = new Set(["y", "Y", "yes", "Yes", "YES", "on", "On", "ON"]);
const YAML11_FALSE = new Set(["n", "N", "no", "No", "NO", "off", "Off", "OFF"]);

const INTERACTIVE_DEFAULTED = new Set([
  "client.authentication.k8s.io/v1beta1",
  "client.authentication.k8s.io/v1alpha1",
]);

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v) &&
    !(v instanceof Date);
}

function kindOf(v: unknown): string {
  if (Array.isArray(v)) return "a list";
  if (v instanceof Date) return "a timestamp";
  if (v === null) return "null";
  if (typeof v === "object") return "a mapping";
  return `a ${typeof v}`;
}

class Checker {
  readonly #where: string;
  readonly #file: string | undefined;

  constructor(file: string | undefined) {
    this.#file = file;
    this.#where = file === undefined
      ? "kubeconfig object"
      : `kubeconfig file "${file}"`;
  }

  fail(path: string, problem: string): never {
    throw new KubeconfigError(
      "KUBECONFIG_INVALID",
      `${this.#where}: ${path} ${problem}`,
      { file: this.#file },
    );
  }

  str(o: Obj, key: string, path: string): string | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v === "string") return v;
    const hint = typeof v === "number" || typeof v === "boolean" ||
        v instanceof Date
      ? " (quote the value in YAML)"
      : "";
    return this.fail(
      at(path, key),
      `must be a string, not ${kindOf(v)}${hint}`,
    );
  }

  bool(o: Obj, key: string, path: string): boolean | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v === "boolean") return v;
    // kubectl reads YAML 1.1, where yes/no/on/off are booleans.
    if (typeof v === "string" && YAML11_TRUE.has(v)) return true;
    if (typeof v === "string" && YAML11_FALSE.has(v)) return false;
    return this.fail(at(path, key), `must be true or false, not ${kindOf(v)}`);
  }

  obj(o: Obj, key: string, path: string): Obj | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (isObj(v)) return v;
    return this.fail(at(path, key), `must be a mapping, not ${kindOf(v)}`);
  }

  list(o: Obj, key: string, path: string): unknown[] | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (Array.isArray(v)) return v;
    return this.fail(at(path, key), `must be a list, not ${kindOf(v)}`);
  }
}

/** Drops keys whose value is `undefined`. */
function compact<T extends Obj>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

function label(list: string, index: number, name: string | undefined): string {
  return name === undefined || name === ""
    ? `${list}[${index}]`
    : `${list}[${JSON.stringify(name)}]`;
}

function namedEntries<T>(
  c: Checker,
  o: Obj,
  list: "clusters" | "users" | "contexts",
  inner: "cluster" | "user" | "context",
  convert: (value: Obj, path: string, name: string) => T,
): { name: string; value: T }[] | undefined {
  const items = c.list(o, list, "");
  if (items === undefined) return undefined;
  const seen = new Set<string>();
  return items.map((item, i) => {
    if (!isObj(item)) {
      c.fail(`${list}[${i}]`, `must be a mapping, not ${kindOf(item)}`);
    }
    const name = c.str(item, "name", `${list}[${i}]`) ?? "";
    const path = label(list, i, name);
    if (seen.has(name)) {
      c.fail(
        list,
        `has the name ${JSON.stringify(name)} twice (names must be unique)`,
      );
    }
    seen.add(name);
    const value = c.obj(item, inner, path) ?? {};
    return { name, value: convert(value, `${path}.${inner}`, name) };
  });
}

function extensions(
  c: Checker,
  o: Obj,
  path: string,
): NamedExtension[] | undefined {
  const items = c.list(o, "extensions", path);
  if (items === undefined) return undefined;
  return items.map((item, i) => {
    const p = `${at(path, "extensions")}[${i}]`;
    if (!isObj(item)) c.fail(p, `must be a mapping, not ${kindOf(item)}`);
    return {
      name: c.str(item, "name", p) ?? "",
      extension: item.extension ?? null,
    };
  });
}

/**
 * Checks and normalises one parsed kubeconfig document (or a `Kubeconfig`
 * object built in code) into a new object: the known fields type-checked,
 * unknown fields kept, `clusters`/`users`/`contexts` always lists.
 *
 * @example Usage
 * ```ts
 * import { normalizeKubeconfig } from "./parse.ts";
 * const kc = normalizeKubeconfig(
 *   { users: [{ name: "u", user: { exec: { command: "./p", apiVersion: "client.authentication.k8s.io/v1beta1", args: null } } }] },
 *   { file: "/home/jane/.kube/config", baseDir: "/home/jane/.kube", flavor: "posix" },
 * );
 * if (kc.users![0].user.exec!.command !== "/home/jane/.kube/p") throw new Error("not as shown");
 * ```
 *
 * @param raw The parsed document (`null` for an empty file).
 * @param options The defining file and path rules.
 * @returns The normalised kubeconfig.
 * @throws {KubeconfigError} `KUBECONFIG_INVALID` naming the file and the field.
 */
export function normalizeKubeconfig(
  raw: unknown,
  options: NormalizeOptions,
): Kubeconfig {
  const c = new Checker(options.file);
  if (raw === null || raw === undefined) raw = {};
  if (!isObj(raw)) {
    return c.fail(
      "the document",
      `must be a mapping (apiVersion: v1, kind: Config), not ${kindOf(raw)}`,
    );
  }
  const apiVersion = c.str(raw, "apiVersion", "");
  const kind = c.str(raw, "kind", "");
  if ((apiVersion ?? "") !== "" && apiVersion !== "v1") {
    c.fail("apiVersion", `must be "v1"`);
  }
  if ((kind ?? "") !== "" && kind !== "Config") {
    c.fail("kind", `must be "Config"`);
  }
  const file = (p: string | undefined): string | undefined =>
    p === undefined || p === "" || options.baseDir === undefined
      ? p
      : resolvePath(options.baseDir, p, options.flavor);

  const clusters = namedEntries(
    c,
    raw,
    "clusters",
    "cluster",
    (v, path) => normalizeCluster(c, v, path, file),
  );
  const users = namedEntries(
    c,
    raw,
    "users",
    "user",
    (v, path) => normalizeUser(c, v, path, file, options),
  );
  const contexts = namedEntries(
    c,
    raw,
    "contexts",
    "context",
    (v, path) => normalizeContext(c, v, path),
  );

  const out: Kubeconfig = { ...raw };
  out.apiVersion = "v1";
  out.kind = "Config";
  const current = c.str(raw, "current-context", "");
  if (current) out["current-context"] = current;
  else delete out["current-context"];
  out.clusters = (clusters ?? []).map((e) => ({
    name: e.name,
    cluster: e.value,
  }));
  out.users = (users ?? []).map((e) => ({ name: e.name, user: e.value }));
  out.contexts = (contexts ?? []).map((e) => ({
    name: e.name,
    context: e.value,
  }));
  const ext = extensions(c, raw, "");
  if (ext) out.extensions = ext;
  else delete out.extensions;
  return withRedactedInspect(out);
}

function normalizeCluster(
  c: Checker,
  v: Obj,
  path: string,
  file: (p: string | undefined) => string | undefined,
): ClusterConfig {
  return compact({
    ...v,
    server: c.str(v, "server", path) ?? "",
    "certificate-authority": file(c.str(v, "certificate-authority", path)),
    "certificate-authority-data": c.str(v, "certificate-authority-data", path),
    "insecure-skip-tls-verify": c.bool(v, "insecure-skip-tls-verify", path),
    "tls-server-name": c.str(v, "tls-server-name", path),
    "proxy-url": c.str(v, "proxy-url", path),
    "disable-compression": c.bool(v, "disable-compression", path),
    extensions: extensions(c, v, path),
  });
}

function normalizeContext(c: Checker, v: Obj, path: string): ContextConfig {
  return compact({
    ...v,
    cluster: c.str(v, "cluster", path) ?? "",
    user: c.str(v, "user", path) ?? "",
    namespace: c.str(v, "namespace", path),
    extensions: extensions(c, v, path),
  });
}

function normalizeUser(
  c: Checker,
  v: Obj,
  path: string,
  file: (p: string | undefined) => string | undefined,
  options: NormalizeOptions,
): AuthInfoConfig {
  const execRaw = c.obj(v, "exec", path);
  const apRaw = c.obj(v, "auth-provider", path);
  let authProvider: AuthInfoConfig["auth-provider"];
  if (apRaw) {
    const p = `${path}.auth-provider`;
    const config = c.obj(apRaw, "config", p);
    authProvider = compact({
      ...apRaw,
      name: c.str(apRaw, "name", p) ?? "",
      config: config as Record<string, string> | undefined,
    });
  }
  return compact({
    ...v,
    token: c.str(v, "token", path),
    tokenFile: file(c.str(v, "tokenFile", path)),
    "client-certificate": file(c.str(v, "client-certificate", path)),
    "client-certificate-data": c.str(v, "client-certificate-data", path),
    "client-key": file(c.str(v, "client-key", path)),
    "client-key-data": c.str(v, "client-key-data", path),
    username: c.str(v, "username", path),
    password: c.str(v, "password", path),
    as: c.str(v, "as", path),
    exec: execRaw
      ? normalizeExec(c, execRaw, `${path}.exec`, options)
      : undefined,
    "auth-provider": authProvider,
    extensions: extensions(c, v, path),
  });
}

function normalizeExec(
  c: Checker,
  v: Obj,
  path: string,
  options: NormalizeOptions,
): ExecConfig {
  let command = c.str(v, "command", path) ?? "";
  if (
    command !== "" && options.baseDir !== undefined &&
    hasPathSeparator(command, options.flavor)
  ) {
    command = resolvePath(options.baseDir, command, options.flavor);
  }
  const apiVersion = c.str(v, "apiVersion", path) ?? "";
  const args = (c.list(v, "args", path) ?? []).map((a, i) => {
    if (typeof a !== "string") {
      c.fail(
        `${path}.args[${i}]`,
        `must be a string, not ${kindOf(a)} (quote the value in YAML)`,
      );
    }
    return a;
  });
  const env = (c.list(v, "env", path) ?? []).map((e, i): ExecEnvVar => {
    const p = `${path}.env[${i}]`;
    if (!isObj(e)) {
      c.fail(p, `must be a mapping with name and value, not ${kindOf(e)}`);
    }
    return {
      name: c.str(e, "name", p) ?? "",
      value: c.str(e, "value", p) ?? "",
    };
  });
  let interactiveMode = c.str(v, "interactiveMode", path);
  if (!interactiveMode && INTERACTIVE_DEFAULTED.has(apiVersion)) {
    interactiveMode = "IfAvailable";
  }
  return compact({
    ...v,
    command,
    args,
    env,
    apiVersion,
    installHint: c.str(v, "installHint", path),
    provideClusterInfo: c.bool(v, "provideClusterInfo", path),
    interactiveMode: interactiveMode || undefined,
  });
}
