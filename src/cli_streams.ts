/**
 * The `kubeauth exec` and `kubeauth port-forward` commands (called by the
 * CLI's `main`): argument parsing and the loops that tie the process's
 * stdin, stdout, terminal and TCP listener to {@linkcode execInPod} and
 * {@linkcode portForward}.
 *
 * @example Bad usage
 * ```ts
 * import { runStreamCommand } from "./cli_streams.ts";
 * let stderr = "";
 * const code = await runStreamCommand(["exec", "web"], {
 *   args: () => [],
 *   writeStdout: async () => {},
 *   writeStderr: async (c) => void (stderr += new TextDecoder().decode(c)),
 *   stdin: () => new ReadableStream(),
 *   exit: () => Promise.reject(new Error("not called")),
 * });
 * if (!(code === 1 && stderr.startsWith("error: missing command"))) throw new Error("not as shown");
 * ```
 *
 * @module
 */
import { createAuthedFetch } from "./fetch/authed_fetch.ts";
import type { AuthedFetch } from "./fetch/authed_fetch.ts";
import { KubeauthError } from "./errors.ts";
import { CacheNotes } from "./cli_cache_notes.ts";
import type { ProcessIo } from "./runtime/process_io.ts";
import { getRuntimeAdapter } from "./runtime/mod.ts";
import type {
  RuntimeAdapter,
  StreamsSupport,
  TcpConnection,
} from "./runtime/types.ts";
import { execInPod } from "./streams/exec.ts";
import type { ExecSession } from "./streams/exec_session.ts";
import { portForward } from "./streams/port_forward.ts";

/** The usage lines of the stream commands (for the CLI's help). */
export const STREAM_USAGE =
  `  kubeauth exec <pod> [-n NAMESPACE] [-c CONTAINER] [-i] [-t] [--kubeconfig FILE] [--context NAME] [--cache] -- <command> [args...]
  kubeauth port-forward <pod> [-n NAMESPACE] [--address 127.0.0.1] <local-port>:<pod-port> [--kubeconfig FILE] [--context NAME] [--cache]`;

const HELP: Record<string, string> = {
  exec: `Usage: kubeauth exec <pod> [options] -- <command> [args...]

Runs a command in a container over WebSockets (v5.channel.k8s.io, falling
back to v4) and exits with its exit code.

Options:
  -n, --namespace NS    the pod's namespace (default: the context's)
  -c, --container NAME  the container (default: the server's choice)
  -i, --stdin           pass stdin to the command (EOF is forwarded)
  -t, --tty             allocate a terminal: raw mode, resizes forwarded
  --kubeconfig FILE     kubeconfig to use
  --context NAME        context to use
  --cache               use the credential cache shared by processes`,
  "port-forward":
    `Usage: kubeauth port-forward <pod> [options] <local-port>:<pod-port>

Listens on the local port and forwards each accepted connection to the pod's
port (one WebSocket per connection) until interrupted (Ctrl-C).
"<port>" alone uses the same port locally; ":<pod-port>" picks a free one.

Options:
  -n, --namespace NS    the pod's namespace (default: the context's)
  --address ADDR        local address to listen on (default 127.0.0.1)
  --kubeconfig FILE     kubeconfig to use
  --context NAME        context to use
  --cache               use the credential cache shared by processes`,
};

interface StreamArgs {
  command: "exec" | "port-forward";
  pod?: string;
  namespace?: string;
  container?: string;
  stdin: boolean;
  tty: boolean;
  address: string;
  kubeconfig?: string;
  context?: string;
  cache: boolean;
  rest: string[];
  help: boolean;
}

const VALUE_FLAGS: Record<string, keyof StreamArgs> = {
  "-n": "namespace",
  "--namespace": "namespace",
  "-c": "container",
  "--container": "container",
  "--address": "address",
  "--kubeconfig": "kubeconfig",
  "--context": "context",
};

const encoder = new TextEncoder();

class StreamUsageError extends Error {}

/**
 * Parses `exec`/`port-forward` arguments (exported for tests).
 *
 * @example Usage
 * ```ts
 * import { parseStreamArgs } from "./cli_streams.ts";
 * const a = parseStreamArgs(["exec", "web", "-n", "ns", "-it", "--", "sh", "-c", "ls"]);
 * if (!(a.pod === "web" && a.namespace === "ns" && a.stdin && a.tty)) throw new Error("not as shown");
 * if (a.rest.join(" ") !== "sh -c ls") throw new Error("not as shown");
 * ```
 *
 * @param argv The arguments, the command first.
 * @returns The parsed arguments.
 */
export function parseStreamArgs(argv: string[]): StreamArgs {
  const a: StreamArgs = {
    command: argv[0] as "exec" | "port-forward",
    stdin: false,
    tty: false,
    address: "127.0.0.1",
    cache: false,
    rest: [],
    help: false,
  };
  const args = argv.slice(1);
  const positional: string[] = [];
  while (args.length > 0) {
    let arg = args.shift()!;
    if (arg === "--") {
      a.rest.push(...args.splice(0));
      break;
    }
    let inline: string | undefined;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) {
      inline = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    if (arg === "-h" || arg === "--help") a.help = true;
    else if (arg === "--cache" && inline === undefined) a.cache = true;
    else if (!arg.startsWith("-") || arg === "-") positional.push(arg);
    else if (arg in VALUE_FLAGS) {
      const value = inline ?? args.shift();
      if (value === undefined) {
        throw new StreamUsageError(`flag "${arg}" needs a value`);
      }
      (a as unknown as Record<string, string>)[VALUE_FLAGS[arg]] = value;
    } else if (a.command === "exec" && /^-[it]+$/.test(arg)) {
      if (arg.includes("i")) a.stdin = true;
      if (arg.includes("t")) a.tty = true;
    } else if (a.command === "exec" && (arg === "--stdin" || arg === "--tty")) {
      if (arg === "--stdin") a.stdin = true;
      else a.tty = true;
    } else throw new StreamUsageError(`unknown flag "${arg}"`);
  }
  a.pod = positional.shift();
  if (a.command === "port-forward") a.rest.unshift(...positional);
  else if (positional.length > 0) {
    throw new StreamUsageError(
      `unexpected argument "${positional[0]}" (put the command after --)`,
    );
  }
  return a;
}

/**
 * Runs `kubeauth exec` or `kubeauth port-forward`.
 *
 * @param argv The arguments, the command first.
 * @param io The process I/O.
 * @param adapter The runtime adapter (default: the running runtime's).
 * @returns The exit code (exec: the remote command's).
 */
export async function runStreamCommand(
  argv: string[],
  io: ProcessIo,
  adapter?: RuntimeAdapter,
): Promise<number> {
  const err = (text: string) => io.writeStderr(encoder.encode(text));
  let a: StreamArgs;
  try {
    a = parseStreamArgs(argv);
    if (a.help) {
      await io.writeStdout(encoder.encode(HELP[a.command] + "\n"));
      return 0;
    }
    if (a.pod === undefined) throw new StreamUsageError("missing <pod>");
    if (a.command === "exec" && a.rest.length === 0) {
      throw new StreamUsageError("missing command (after --)");
    }
  } catch (e) {
    if (!(e instanceof StreamUsageError)) throw e;
    await err(`error: ${e.message}\n${HELP[argv[0]].split("\n")[0]}\n`);
    return 1;
  }
  const ad = adapter ?? await getRuntimeAdapter();
  let kube: AuthedFetch | undefined;
  const notes = new CacheNotes((b) => io.writeStderr(b), "kubeauth");
  try {
    kube = await createAuthedFetch({
      kubeconfig: a.kubeconfig,
      context: a.context,
      adapter: ad,
      ...(a.cache ? { credentialCache: true } : {}),
      onEvent: notes.onEvent,
    });
    return a.command === "exec"
      ? await runExec(a, kube, io, ad)
      : await runPortForward(a, kube, io, ad);
  } catch (e) {
    await notes.flushed();
    await err(`error: ${messageOf(e)}\n`);
    return 1;
  } finally {
    await kube?.close();
    await notes.flushed();
  }
}

function messageOf(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.replaceAll("\n", " ");
}

function support(adapter: RuntimeAdapter): StreamsSupport {
  if (adapter.streams === undefined) {
    throw new KubeauthError(
      "UNSUPPORTED",
      `the ${adapter.name} adapter has no terminal and listener support`,
    );
  }
  return adapter.streams;
}

async function runExec(
  a: StreamArgs,
  kube: AuthedFetch,
  io: ProcessIo,
  adapter: RuntimeAdapter,
): Promise<number> {
  let tty = a.tty;
  if (tty && !adapter.stdinIsTerminal()) {
    await io.writeStderr(encoder.encode(
      "Unable to use a TTY - input is not a terminal or the right kind of file\n",
    ));
    tty = false;
  }
  const session = await execInPod(kube, {
    pod: a.pod!,
    namespace: a.namespace,
    container: a.container,
    command: a.rest,
    stdin: a.stdin,
    tty,
  });
  const terminal = tty ? new Terminal(support(adapter), session) : undefined;
  try {
    if (session.stdin !== null) {
      io.stdin().pipeTo(session.stdin).catch(() => {});
    }
    const pumps = [pump(session.stdout, (c) => io.writeStdout(c))];
    if (session.stderr !== null) {
      pumps.push(pump(session.stderr, (c) => io.writeStderr(c)));
    }
    const [{ exitCode }] = await Promise.all([session.exited, ...pumps]);
    return exitCode;
  } finally {
    terminal?.restore();
  }
}

/** Raw mode and resize forwarding for `exec -t`. */
class Terminal {
  readonly #s: StreamsSupport;
  readonly #stop: () => void;
  constructor(s: StreamsSupport, session: ExecSession) {
    this.#s = s;
    s.setRawMode(true);
    const send = () => {
      const size = s.terminalSize();
      if (size !== undefined) session.resize(size.columns, size.rows);
    };
    send();
    this.#stop = s.onSignal("SIGWINCH", send);
  }
  restore(): void {
    this.#stop();
    this.#s.setRawMode(false);
  }
}

async function pump(
  stream: ReadableStream<Uint8Array>,
  write: (chunk: Uint8Array) => Promise<void>,
): Promise<void> {
  try {
    for await (const chunk of stream) await write(chunk);
  } catch {
    // The session's `exited` reports why.
  }
}

/** Parses `<local>:<remote>`, `<port>`, `:<remote>`. */
function portPair(spec: string | undefined): [number, number] {
  const m = spec === undefined ? null : /^(\d*)(?::(\d+))?$/.exec(spec);
  const local = m?.[1] === "" ? 0 : Number(m?.[1]);
  const remote = Number(m?.[2] ?? m?.[1]);
  const ok = (n: number, min: number) =>
    Number.isInteger(n) && n >= min && n <= 65535;
  if (m === null || !ok(local, 0) || !ok(remote, 1)) {
    throw new StreamUsageError(
      `expected <local-port>:<pod-port>, got "${spec ?? ""}"`,
    );
  }
  return [local, remote];
}

async function runPortForward(
  a: StreamArgs,
  kube: AuthedFetch,
  io: ProcessIo,
  adapter: RuntimeAdapter,
): Promise<number> {
  if (a.rest.length !== 1) {
    throw new KubeauthError(
      "STREAM_FAILED",
      `port-forward takes one <local-port>:<pod-port>, got ${a.rest.length}`,
    );
  }
  const [local, remote] = portPair(a.rest[0]);
  const s = support(adapter);
  const listener = await s.listenTcp({ hostname: a.address, port: local });
  const stop = () => void listener.close();
  const offs = [s.onSignal("SIGINT", stop), s.onSignal("SIGTERM", stop)];
  const active = new Set<Promise<void>>();
  try {
    await io.writeStdout(encoder.encode(
      `Forwarding from ${listener.hostname}:${listener.port} -> ${remote}\n`,
    ));
    for await (const conn of listener.accept()) {
      const p = forwardOne(kube, a, remote, conn, io).finally(() =>
        active.delete(p)
      );
      active.add(p);
    }
  } finally {
    for (const off of offs) off();
    await listener.close();
  }
  await Promise.all(active);
  return 0;
}

async function forwardOne(
  kube: AuthedFetch,
  a: StreamArgs,
  remote: number,
  conn: TcpConnection,
  io: ProcessIo,
): Promise<void> {
  await io.writeStdout(encoder.encode(`Handling connection for ${remote}\n`));
  try {
    const fw = await portForward(kube, {
      pod: a.pod!,
      namespace: a.namespace,
      port: remote,
    });
    // The WebSocket protocol has no half-close: the forward ends when
    // either side ends (the local client closing, or the pod's port).
    // A local client going away is normal; the pod's side failing (its
    // error channel) is reported.
    let failure: unknown;
    await Promise.race([
      conn.readable.pipeTo(fw.writable).catch(() => {}),
      fw.readable.pipeTo(conn.writable).catch((e) => {
        if (e instanceof KubeauthError) failure = e;
      }),
    ]).finally(() => fw.close());
    if (failure !== undefined) throw failure;
  } catch (e) {
    await io.writeStderr(encoder.encode(`error: ${messageOf(e)}\n`));
  } finally {
    conn.close();
  }
}
