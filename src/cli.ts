/**
 * The `kubeauth` command line: curl for the cluster, authenticated the way
 * kubectl authenticates (exec plugins, tokens, client certificates).
 *
 * ```sh
 * kubeauth fetch /api/v1/namespaces
 * kubeauth fetch "/api/v1/namespaces/default/pods?watch=true"
 * kubeauth credential --context prod
 * kubeauth whoami
 * ```
 *
 * @example Print the version
 * ```ts
 * import { main, VERSION } from "./cli.ts";
 *
 * let printed = "";
 * const code = await main(["--version"], {
 *   args: () => [],
 *   writeStdout: async (chunk) => void (printed += new TextDecoder().decode(chunk)),
 *   writeStderr: async () => {},
 *   stdin: () => new ReadableStream(),
 *   exit: () => Promise.reject(new Error("not called")),
 * });
 * if (code !== 0 || printed !== `kubeauth ${VERSION}\n`) throw new Error(printed);
 * ```
 *
 * @module
 */
// Each command loads its modules when it runs (dynamic imports below): a
// `kubeauth cached` cache hit loads no kubeconfig parser, TLS transport or
// fetch layer. Only what every command needs is imported here.
import type { AuthedFetch } from "./fetch/authed_fetch.ts";
import { ExecPluginError, KubeauthError } from "./errors.ts";
import { pathFlavor, resolvePath, splitPathList } from "./kubeconfig/paths.ts";
import { hostPortOf } from "./runtime/transport_error.ts";
import { getProcessIo } from "./runtime/process_io.ts";
import type { ProcessIo } from "./runtime/process_io.ts";

export type { ProcessIo } from "./runtime/process_io.ts";
import { getRuntimeAdapter } from "./runtime/mod.ts";
import { CacheNotes } from "./cli_cache_notes.ts";
import denoJson from "../deno.json" with { type: "json" };

/**
 * The version printed by `kubeauth --version`, read from deno.json (which
 * package.json matches).
 *
 * @example Usage
 * ```ts
 * import { VERSION } from "./cli.ts";
 * if (!/^\d+\.\d+\.\d+/.test(VERSION)) throw new Error(VERSION);
 * ```
 */
export const VERSION: string = denoJson.version;

const USAGE_LINE =
  `kubeauth ${VERSION}: Kubernetes requests authenticated the way kubectl does`;

/** The full usage text (loads the streams commands' part). */
async function usage(): Promise<string> {
  const { STREAM_USAGE } = await import("./cli_streams.ts");
  return `${USAGE_LINE}

Usage:
  kubeauth fetch <path-or-url> [--kubeconfig FILE] [--context NAME]
                 [-X METHOD] [-H "Name: value"]... [-d DATA | -d @FILE | -d @-]
                 [-i] [--timeout SECONDS]
  kubeauth credential [--kubeconfig FILE] [--context NAME] [--show-secrets]
  kubeauth whoami [--kubeconfig FILE] [--context NAME]
  kubeauth cached [--cache-dir DIR] -- <plugin command> [args...]
  kubeauth kubeconfig wrap [--kubeconfig FILE] [--cache-dir DIR]
${STREAM_USAGE}
  kubeauth --help | --version

fetch, credential, whoami, exec and port-forward take --cache: keep exec
plugin credentials in the credential cache shared by processes
($KUBECACHEDIR/kubeauth, else ~/.kube/cache/kubeauth); a line on stderr says
when the cache could not be used.

Run "kubeauth <command> --help" for a command's options.`;
}

const HELP: Record<string, string> = {
  fetch: `Usage: kubeauth fetch <path-or-url> [options]

Sends one request to the cluster and streams the response body to stdout
(so "?watch=true" prints events as they arrive). A relative path resolves
against the cluster's server URL, keeping its path prefix.

Options:
  --kubeconfig FILE   kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, in-cluster)
  --context NAME      context to use (default: current-context)
  -X, --request M     HTTP method (default GET, or POST with -d)
  -H, --header "N: V" add a request header (repeatable)
  -d, --data DATA     request body; @FILE reads a file, @- reads stdin
                      (Content-Type defaults to application/json)
  -i, --include       print the status line and headers before the body
  --timeout SECONDS   give up after this many seconds (whole request)
  --cache             use the credential cache shared by processes
  --exec-timeout SECONDS
                      kill the exec credential plugin after this many
                      seconds (default 60; none for interactive plugins)

Exit status: 0 for a 2xx answer, 1 otherwise ("error: " line on stderr).`,
  credential: `Usage: kubeauth credential [options]

Prints, as JSON, what the kubeconfig user resolves to: the credential source,
the token (redacted unless --show-secrets), the client certificate's subject
and NotAfter, and the expiry. Runs the exec plugin if the user has one.

Options:
  --kubeconfig FILE   kubeconfig to use
  --context NAME      context to use
  --exec-timeout SECONDS
                      kill the exec credential plugin after this many seconds
  --show-secrets      print the token and basic-auth password in clear
  --cache             use the credential cache shared by processes`,
  whoami: `Usage: kubeauth whoami [options]

Posts a SelfSubjectReview (authentication.k8s.io/v1) and prints the user name
and groups the cluster sees.

Options:
  --kubeconfig FILE   kubeconfig to use
  --context NAME      context to use
  --cache             use the credential cache shared by processes`,
  cached:
    `Usage: kubeauth cached [--cache-dir DIR] -- <plugin command> [args...]

An exec credential plugin that wraps another one: prints the wrapped
plugin's ExecCredential, running it at most once per validity window across
all processes (the answer is kept in the credential cache until shortly
before it expires). In a kubeconfig:

  exec:
    apiVersion: client.authentication.k8s.io/v1
    command: kubeauth
    args: [cached, --, aws, eks, get-token, --cluster-name, prod]

The wrapped plugin gets the same environment (KUBERNETES_EXEC_INFO included),
stdin when the request is interactive, and its stderr is passed through; on
failure kubeauth exits with its exit code.

Options:
  --cache-dir DIR     cache directory (default $KUBECACHEDIR/kubeauth, else
                      ~/.kube/cache/kubeauth)`,
  kubeconfig:
    `Usage: kubeauth kubeconfig wrap [--kubeconfig FILE] [--cache-dir DIR]

Prints a copy of the kubeconfig whose exec users run their plugin through
"kubeauth cached" (the file itself is not changed):

  kubeauth kubeconfig wrap > ~/.kube/config-cached
  export KUBECONFIG=~/.kube/config-cached

Options:
  --kubeconfig FILE   kubeconfig to read (default: the first of $KUBECONFIG,
                      else ~/.kube/config)
  --cache-dir DIR     pass --cache-dir DIR to kubeauth cached`,
};

class UsageError extends Error {
  readonly command: string | undefined;
  constructor(message: string, command?: string) {
    super(message);
    this.command = command;
  }
}

interface Parsed {
  command: string;
  positional: string[];
  kubeconfig?: string;
  context?: string;
  method?: string;
  headers: [string, string][];
  data?: string;
  include: boolean;
  timeout?: number;
  execTimeout?: number;
  showSecrets: boolean;
  help: boolean;
  cache?: boolean;
  cacheDir?: string;
}

const VALUE_FLAGS: Record<string, keyof Parsed> = {
  "--kubeconfig": "kubeconfig",
  "--context": "context",
  "-X": "method",
  "--request": "method",
  "-H": "headers",
  "--header": "headers",
  "-d": "data",
  "--data": "data",
  "--timeout": "timeout",
  "--cache-dir": "cacheDir",
  "--exec-timeout": "execTimeout",
};

const COMMAND_FLAGS: Record<string, string[]> = {
  fetch: [
    "--kubeconfig",
    "--context",
    "-X",
    "--request",
    "-H",
    "--header",
    "-d",
    "--data",
    "--timeout",
    "-i",
    "--include",
    "--cache",
    "--exec-timeout",
  ],
  credential: [
    "--kubeconfig",
    "--context",
    "--show-secrets",
    "--cache",
    "--exec-timeout",
  ],
  whoami: ["--kubeconfig", "--context", "--cache", "--exec-timeout"],
  cached: ["--cache-dir"],
  kubeconfig: ["--kubeconfig", "--cache-dir"],
};

function parseArgs(argv: string[]): Parsed {
  const p: Parsed = {
    command: "",
    positional: [],
    headers: [],
    include: false,
    showSecrets: false,
    help: false,
  };
  const rest = [...argv];
  p.command = rest.shift() ?? "";
  if (p.command === "--help" || p.command === "-h" || p.command === "help") {
    p.help = true;
    p.command = "";
    return p;
  }
  if (p.command === "--version" || p.command === "-v") {
    p.command = "version";
    return p;
  }
  if (!(p.command in COMMAND_FLAGS)) {
    throw new UsageError(
      p.command === "" ? "missing command" : `unknown command "${p.command}"`,
    );
  }
  const allowed = COMMAND_FLAGS[p.command];
  while (rest.length > 0) {
    let arg = rest.shift()!;
    if (arg === "--help" || arg === "-h") {
      p.help = true;
      continue;
    }
    if (arg === "--") {
      p.positional.push(...rest.splice(0));
      break;
    }
    let inline: string | undefined;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) {
      inline = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    if (!arg.startsWith("-") || arg === "-") {
      p.positional.push(arg);
      // The wrapped plugin's own flags follow its command.
      if (p.command === "cached") p.positional.push(...rest.splice(0));
      continue;
    }
    if (!allowed.includes(arg)) {
      throw new UsageError(`unknown flag "${arg}"`, p.command);
    }
    if (arg === "-i" || arg === "--include") {
      p.include = true;
      continue;
    }
    if (arg === "--show-secrets") {
      p.showSecrets = true;
      continue;
    }
    if (arg === "--cache") {
      p.cache = true;
      continue;
    }
    const value = inline ?? rest.shift();
    if (value === undefined) {
      throw new UsageError(`flag "${arg}" needs a value`, p.command);
    }
    const key = VALUE_FLAGS[arg];
    if (key === "headers") {
      const colon = value.indexOf(":");
      if (colon <= 0) {
        throw new UsageError(
          `header "${value}" must look like "Name: value"`,
          p.command,
        );
      }
      p.headers.push([
        value.slice(0, colon).trim(),
        value.slice(colon + 1).trim(),
      ]);
    } else if (key === "timeout" || key === "execTimeout") {
      const n = Number(value);
      if (!Number.isFinite(n) || n <= 0) {
        throw new UsageError(
          `${arg} needs a positive number of seconds, got "${value}"`,
          p.command,
        );
      }
      p[key] = n;
    } else if (key === "method") {
      p.method = value.toUpperCase();
    } else if (key === "kubeconfig") {
      p.kubeconfig = value;
    } else if (key === "context") {
      p.context = value;
    } else if (key === "data") {
      p.data = value;
    } else if (key === "cacheDir") {
      p.cacheDir = value;
    }
  }
  if (!p.help) {
    if (p.command === "fetch" && p.positional.length !== 1) {
      throw new UsageError(
        p.positional.length === 0
          ? "missing <path-or-url>"
          : `expected one <path-or-url>, got ${p.positional.length}`,
        p.command,
      );
    }
    checkCacheCommands(p);
    if (
      p.command !== "fetch" && p.command !== "cached" &&
      p.command !== "kubeconfig" && p.positional.length > 0
    ) {
      throw new UsageError(
        `unexpected argument "${p.positional[0]}"`,
        p.command,
      );
    }
  }
  return p;
}

function checkCacheCommands(p: Parsed): void {
  if (p.command === "cached" && p.positional.length === 0) {
    throw new UsageError("missing -- <plugin command>", p.command);
  }
  if (p.command === "kubeconfig") {
    if (p.positional[0] !== "wrap" || p.positional.length !== 1) {
      throw new UsageError(
        p.positional.length === 0
          ? "missing subcommand (wrap)"
          : `unknown subcommand "${p.positional.join(" ")}"`,
        p.command,
      );
    }
  }
}

const encoder = new TextEncoder();

async function readAll(
  stream: ReadableStream<Uint8Array>,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    chunks.push(chunk);
    size += chunk.length;
  }
  const out = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

async function requestBody(
  data: string,
  io: ProcessIo,
): Promise<Uint8Array | string> {
  if (data === "@-") return await readAll(io.stdin());
  if (data.startsWith("@")) {
    const adapter = await getRuntimeAdapter();
    const file = data.slice(1);
    try {
      return await adapter.readFile(file);
    } catch (err) {
      throw new Error(
        `cannot read request body file "${file}": ${describe(err)}`,
      );
    }
  }
  return data;
}

/** The Kubernetes Status message of an error answer, if it has one. */
function statusMessage(text: string): string | undefined {
  try {
    const obj = JSON.parse(text) as { kind?: string; message?: string };
    if (obj && obj.kind === "Status" && typeof obj.message === "string") {
      return obj.message;
    }
  } catch {
    // not JSON
  }
  return undefined;
}

async function readBounded(res: Response, max: number): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < max) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
  }
  await reader.cancel().catch(() => {});
  const all = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  return new TextDecoder().decode(all.subarray(0, max));
}

async function runFetch(p: Parsed, io: ProcessIo): Promise<number> {
  const headers = new Headers(p.headers);
  let body: Uint8Array | string | undefined;
  if (p.data !== undefined) {
    body = await requestBody(p.data, io);
    if (!headers.has("content-type")) {
      headers.set("content-type", "application/json");
    }
  }
  const method = p.method ?? (body === undefined ? "GET" : "POST");
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (p.timeout !== undefined) {
    timer = setTimeout(() => controller.abort(), p.timeout * 1000);
  }
  let kube: AuthedFetch | undefined;
  // A transport exists once credentials are in hand: until then an exec
  // plugin is running (and close() below kills it).
  let credentialsReady = false;
  const notes = new CacheNotes((b) => io.writeStderr(b), "kubeauth");
  try {
    const { createAuthedFetch } = await import("./fetch/authed_fetch.ts");
    kube = await createAuthedFetch({
      onEvent: (e) => {
        if (e.type === "transport-created") credentialsReady = true;
        notes.onEvent(e);
      },
      kubeconfig: p.kubeconfig,
      context: p.context,
      ...(p.cache ? { credentialCache: true } : {}),
      ...execSettings(p),
      // stdin carries the request body: an interactive plugin can't have it.
      execOptions: {
        ...execSettings(p).execOptions,
        ...(p.data === "@-"
          ? { stdinUnavailable: "used by the request body (-d @-)" }
          : {}),
      },
    });
    const res = await kube(p.positional[0], {
      method,
      headers,
      body: body as BodyInit | undefined,
      signal: controller.signal,
    });
    if (p.include) {
      let head = `HTTP/1.1 ${res.status} ${res.statusText}\r\n`;
      res.headers.forEach((value, name) => {
        head += `${name}: ${value}\r\n`;
      });
      await io.writeStdout(encoder.encode(head + "\r\n"));
    }
    if (res.status >= 200 && res.status < 300) {
      if (res.body) {
        for await (const chunk of res.body) await io.writeStdout(chunk);
      }
      return 0;
    }
    const text = await readBounded(res, 64 * 1024);
    if (p.include) await io.writeStdout(encoder.encode(text));
    const message = statusMessage(text);
    await notes.flushed(); // the cache's lines before the error
    await io.writeStderr(
      encoder.encode(
        `error: ${res.status} ${res.statusText || "error"}${
          message ? `: ${message}` : redirectNote(res, kube.server)
        }\n`,
      ),
    );
    return 1;
  } catch (err) {
    if (controller.signal.aborted) {
      throw cliTimeoutError(
        p.timeout!,
        kube?.server,
        kube !== undefined && !credentialsReady,
        err,
      );
    }
    throw err;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    await kube?.close();
    await notes.flushed();
  }
}

async function runCredential(p: Parsed, io: ProcessIo): Promise<number> {
  const adapter = await getRuntimeAdapter();
  const { resolveDefaultContext } = await import("./kubeconfig/mod.ts");
  const { createCredentialSource } = await import(
    "./fetch/credential_source.ts"
  );
  const ctx = await resolveDefaultContext({
    kubeconfig: p.kubeconfig,
    context: p.context,
    adapter,
  });
  const notes = new CacheNotes((b) => io.writeStderr(b), "kubeauth");
  const source = createCredentialSource(ctx, {
    adapter,
    ...(p.cache ? { credentialCache: true } : {}),
    ...execSettings(p),
    onEvent: notes.onEvent,
  });
  try {
    const creds = await source.get();
    const secret = (v: string | undefined) =>
      v === undefined ? undefined : p.showSecrets ? v : "[redacted]";
    const cc = creds.clientCertificate;
    const out = {
      context: ctx.contextName,
      cluster: ctx.cluster.name,
      // User info in a server URL may be a password: never print it.
      server: ctx.cluster.server.replace(
        /^([a-zA-Z][a-zA-Z\d+.-]*:\/\/)[^/?#]*@/,
        "$1[redacted]@",
      ),
      user: ctx.user.name,
      namespace: ctx.namespace,
      source: source.kind,
      token: secret(creds.token),
      basic: creds.basic
        ? {
          username: creds.basic.username,
          password: secret(creds.basic.password),
        }
        : undefined,
      clientCertificate: cc
        ? {
          subject: cc.subject,
          notAfter: cc.notAfter.toISOString(),
          fingerprint: cc.fingerprint,
        }
        : undefined,
      expiresAt: creds.expiresAt?.toISOString() ?? null,
    };
    await io.writeStdout(encoder.encode(JSON.stringify(out, null, 2) + "\n"));
    return 0;
  } finally {
    await source.close();
    await notes.flushed();
  }
}

async function runWhoami(p: Parsed, io: ProcessIo): Promise<number> {
  const { createAuthedFetch } = await import("./fetch/authed_fetch.ts");
  const notes = new CacheNotes((b) => io.writeStderr(b), "kubeauth");
  const kube = await createAuthedFetch({
    kubeconfig: p.kubeconfig,
    context: p.context,
    ...(p.cache ? { credentialCache: true } : {}),
    ...execSettings(p),
    onEvent: notes.onEvent,
  });
  try {
    const res = await kube(
      "/apis/authentication.k8s.io/v1/selfsubjectreviews",
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          kind: "SelfSubjectReview",
          apiVersion: "authentication.k8s.io/v1",
        }),
      },
    );
    const text = await readBounded(res, 1024 * 1024);
    if (res.status < 200 || res.status >= 300) {
      const message = statusMessage(text);
      await notes.flushed(); // the cache's lines before the error
      await io.writeStderr(
        encoder.encode(
          `error: ${res.status} ${res.statusText || "error"}${
            message ? `: ${message}` : ""
          }\n`,
        ),
      );
      return 1;
    }
    let info: { username?: string; uid?: string; groups?: string[] } = {};
    try {
      info = (JSON.parse(text) as {
        status?: { userInfo?: typeof info };
      }).status?.userInfo ?? {};
    } catch {
      throw new Error("the server's SelfSubjectReview answer is not JSON");
    }
    const rows: [string, string][] = [["Username", info.username ?? ""]];
    if (info.uid) rows.push(["UID", info.uid]);
    rows.push(["Groups", `[${(info.groups ?? []).join(" ")}]`]);
    const width = Math.max("ATTRIBUTE".length, ...rows.map(([k]) => k.length));
    const lines = [["ATTRIBUTE", "VALUE"], ...rows].map(([k, v]) =>
      `${k.padEnd(width)}   ${v}`
    );
    await io.writeStdout(encoder.encode(lines.join("\n") + "\n"));
    return 0;
  } finally {
    await kube.close();
    await notes.flushed();
  }
}

async function runCached(p: Parsed, io: ProcessIo): Promise<number> {
  const adapter = await getRuntimeAdapter();
  const { runCachedPlugin } = await import("./cache/cached_plugin.ts");
  const notes = new CacheNotes((b) => io.writeStderr(b), "kubeauth cached");
  try {
    const answer = await runCachedPlugin({
      adapter,
      command: p.positional[0],
      args: p.positional.slice(1),
      ...(p.cacheDir !== undefined ? { cacheDir: p.cacheDir } : {}),
      onEvent: (e) => notes.note(e),
    });
    await notes.flushed();
    await io.writeStdout(answer.stdout);
    return 0;
  } catch (err) {
    await notes.flushed();
    // The wrapped plugin failed: its stderr has been passed through; exit
    // with its code, adding nothing (the caller reports the failure).
    if (err instanceof ExecPluginError && (err.exitCode ?? 0) > 0) {
      return err.exitCode!;
    }
    throw err;
  }
}

async function runKubeconfigWrap(p: Parsed, io: ProcessIo): Promise<number> {
  const adapter = await getRuntimeAdapter();
  const flavor = pathFlavor(adapter.os);
  const listed = adapter.getEnv("KUBECONFIG");
  const home = adapter.homeDir();
  const chosen = p.kubeconfig ??
    (listed ? splitPathList(listed, flavor)[0] : undefined) ??
    (home ? resolvePath(home, ".kube/config", flavor) : undefined);
  if (chosen === undefined) {
    throw new Error("no kubeconfig: pass --kubeconfig FILE");
  }
  const path = resolvePath(adapter.cwd(), chosen, flavor);
  let text: string;
  try {
    text = new TextDecoder().decode(await adapter.readFile(path));
  } catch (err) {
    throw new Error(`cannot read kubeconfig "${path}": ${describe(err)}`);
  }
  const { wrapKubeconfig } = await import("./cache/kubeconfig_wrap.ts");
  const out = wrapKubeconfig(text, {
    path,
    flavor,
    ...(p.cacheDir !== undefined ? { cacheDir: p.cacheDir } : {}),
  });
  await io.writeStdout(encoder.encode(out));
  return 0;
}

/**
 * The error for an expired `--timeout`: says whether the credential plugin
 * was still running (and was killed) or the server did not answer.
 */
function cliTimeoutError(
  seconds: number,
  server: URL | undefined,
  pluginRunning: boolean,
  err: unknown,
): KubeauthError {
  const where = server === undefined ? "the cluster" : hostPortOf(server.href);
  const message = pluginRunning
    ? `no answer within ${seconds} s (--timeout): the exec credential plugin was still running, and was killed; raise --timeout (and --exec-timeout) if it needs longer, e.g. for a login, or check the plugin`
    : `the request to ${where} got no answer within ${seconds} s (--timeout); check that the API server is healthy and any proxy in the way (proxy-url, HTTPS_PROXY), or raise --timeout`;
  return new KubeauthError("REQUEST_TIMEOUT", message, { cause: err });
}

/** The plugin timeout (--exec-timeout) and CLI advice in its error. */
function execSettings(p: Parsed): {
  execTimeoutMs?: number;
  execOptions: { timeoutHint: string };
} {
  return {
    ...(p.execTimeout !== undefined
      ? { execTimeoutMs: p.execTimeout * 1000 }
      : {}),
    execOptions: {
      timeoutHint: "raise it with --exec-timeout SECONDS",
    },
  };
}

/**
 * For a redirect that was not followed (another origin): where it pointed
 * and why kubeauth did not follow it.
 */
function redirectNote(res: Response, server: URL): string {
  if (res.status < 300 || res.status > 399) return "";
  const location = res.headers.get("location");
  if (location === null) return "";
  let target: URL;
  try {
    target = new URL(location, server);
  } catch {
    return `: the server redirected to an invalid location`;
  }
  if (target.origin === server.origin) return "";
  return `: the server redirected to ${target.origin}${target.pathname}, another origin than the cluster's (${server.origin}); not followed, because kubeauth sends credentials only to the cluster`;
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Turns any failure into the one-line message the CLI prints after `error: `. */
function errorLine(err: unknown): string {
  if (err instanceof KubeauthError) {
    // Library advice, said the CLI's way.
    return err.message.replace(
      "pass the kubeconfig option",
      "pass --kubeconfig FILE",
    ).replace("or pass the kubeconfig file", "or pass --kubeconfig FILE");
  }
  const name = err instanceof Error ? err.name : "";
  if (name === "NotCapable" || name === "PermissionDenied") {
    // Deno's message names the flag to add, e.g. "run again with the --allow-run flag".
    return `permission denied: ${describe(err)}`;
  }
  if (name === "AbortError" || name === "TimeoutError") {
    return "request aborted";
  }
  return describe(err);
}

/**
 * Runs the CLI with the given arguments and returns the exit code. Output
 * goes to the process's stdout and stderr.
 *
 * @example Bad usage exits with 1 and a message on stderr
 * ```ts
 * import { main } from "./cli.ts";
 *
 * let stderr = "";
 * const code = await main(["frobnicate"], {
 *   args: () => [],
 *   writeStdout: async () => {},
 *   writeStderr: async (chunk) => void (stderr += new TextDecoder().decode(chunk)),
 *   stdin: () => new ReadableStream(),
 *   exit: () => Promise.reject(new Error("not called")),
 * });
 * if (code !== 1 || !stderr.startsWith("error: ")) throw new Error(stderr);
 * ```
 *
 * @example Against the current kubeconfig (needs a cluster)
 * ```ts ignore
 * import { main } from "./cli.ts";
 * const code = await main(["credential", "--context", "dev"]);
 * ```
 *
 * @param argv The arguments after the program name.
 * @param io The process I/O (defaults to the real process).
 * @returns The exit code: 0 on success, 1 on any failure, 2 on bad usage.
 */
export async function main(argv: string[], io?: ProcessIo): Promise<number> {
  const pio = io ?? await getProcessIo();
  if (argv[0] === "exec" || argv[0] === "port-forward") {
    const { runStreamCommand } = await import("./cli_streams.ts");
    return runStreamCommand(argv, pio);
  }
  const err = (text: string) => pio.writeStderr(encoder.encode(text));
  let p: Parsed;
  try {
    p = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      await err(`error: ${e.message}\n`);
      await err(
        (e.command ? HELP[e.command] : USAGE_LINE).split("\n")[0] + "\n",
      );
      return 1;
    }
    throw e;
  }
  if (p.command === "version") {
    await pio.writeStdout(encoder.encode(`kubeauth ${VERSION}\n`));
    return 0;
  }
  if (p.help) {
    await pio.writeStdout(
      encoder.encode((p.command ? HELP[p.command] : await usage()) + "\n"),
    );
    return 0;
  }
  try {
    switch (p.command) {
      case "fetch":
        return await runFetch(p, pio);
      case "credential":
        return await runCredential(p, pio);
      case "cached":
        return await runCached(p, pio);
      case "kubeconfig":
        return await runKubeconfigWrap(p, pio);
      default:
        return await runWhoami(p, pio);
    }
  } catch (e) {
    await err(errorReport(e));
    return 1;
  }
}

/**
 * The `error: ` line and, for a multi-line installHint, the hint's other
 * lines after it, each indented by two spaces and kept as written (the
 * hint was escaped when the kubeconfig was read, as client-go does).
 */
function errorReport(e: unknown): string {
  const text = errorLine(e);
  const hint = e instanceof ExecPluginError ? e.installHint : undefined;
  if (hint === undefined || !hint.includes("\n") || !text.endsWith(hint)) {
    return `error: ${text.replaceAll("\n", " ")}\n`;
  }
  const [first, ...rest] = hint.replace(/\s+$/, "").split(/\r?\n/);
  const head = `${text.slice(0, -hint.length)}${first}`.trim()
    .replace(/[ \t]*\n\s*/g, " ");
  const lines = rest.map((l) => l.trim() === "" ? "\n" : `  ${l}\n`);
  return `error: ${head}\n${lines.join("")}`;
}

if ((import.meta as ImportMeta & { main?: boolean }).main) {
  const io = await getProcessIo();
  const code = await main(io.args(), io);
  await io.exit(code);
}
