/**
 * `execInPod` and `attachToPod`: exec and attach over the channel
 * WebSocket protocol, `v5.channel.k8s.io` (stdin EOF through the close
 * channel) with `v4.channel.k8s.io` as the fallback the server may choose.
 *
 * @module
 */
import type { AuthedFetch } from "../fetch/authed_fetch.ts";
import { KubeauthError } from "../errors.ts";
import { podPath, query, V4_CHANNEL, V5_CHANNEL } from "./channels.ts";
import { ChannelSession } from "./exec_session.ts";
import type { ExecSession } from "./exec_session.ts";

/** The part of {@linkcode AuthedFetch} the streams use. */
export type StreamClient = Pick<AuthedFetch, "webSocket" | "namespace">;

/** Options of {@linkcode execInPod}. */
export interface ExecOptions {
  /** The pod's name. */
  pod: string;
  /**
   * The pod's namespace.
   *
   * @default {kube.namespace}
   */
  namespace?: string;
  /**
   * The container.
   *
   * @default {the server's choice (the pod's only or default container)}
   */
  container?: string;
  /** The command and its arguments (no shell). */
  command: string[];
  /**
   * Pipe stdin (then {@linkcode ExecSession.stdin} is a stream).
   *
   * @default {false}
   */
  stdin?: boolean;
  /**
   * Allocate a terminal: stdout and stderr merge, `resize()` works.
   *
   * @default {false}
   */
  tty?: boolean;
  /** Aborts the handshake, or closes the session once open. */
  signal?: AbortSignal;
}

/** Options of {@linkcode attachToPod}: those of exec, without a command. */
export type AttachOptions = Omit<ExecOptions, "command">;

const PROTOCOLS = [V5_CHANNEL, V4_CHANNEL];

/**
 * Runs a command in a container, as `kubectl exec` does.
 *
 * @example Usage
 * ```ts ignore
 * import { createAuthedFetch, execInPod } from "@kubeauth/fetch";
 * const kube = await createAuthedFetch();
 * const s = await execInPod(kube, { pod: "web", command: ["sh", "-c", "cat; exit 3"], stdin: true });
 * const w = s.stdin!.getWriter();
 * await w.write(new TextEncoder().encode("hello"));
 * await w.close(); // EOF (v5.channel.k8s.io)
 * console.log(await new Response(s.stdout).text()); // "hello"
 * console.log((await s.exited).exitCode); // 3
 * await kube.close();
 * ```
 *
 * @param kube The authenticated client.
 * @param options Pod, container, command, stdin, tty, signal.
 * @returns The session once the stream is open.
 * @throws {KubeauthError} `WEBSOCKET_REFUSED` (404 unknown pod, 403
 *   forbidden…) with the server's message; credential errors.
 */
export function execInPod(
  kube: StreamClient,
  options: ExecOptions,
): Promise<ExecSession> {
  if (options.command.length === 0) {
    return Promise.reject(
      new KubeauthError("STREAM_FAILED", "exec needs a command"),
    );
  }
  return open(kube, "exec", options, options.command);
}

/**
 * Attaches to the main process of a running container, as `kubectl attach`
 * does: the same session as {@linkcode execInPod} without a command
 * (`exited` settles when the process ends or the session is closed).
 *
 * @example Usage
 * ```ts ignore
 * import { attachToPod, createAuthedFetch } from "@kubeauth/fetch";
 * const kube = await createAuthedFetch();
 * const s = await attachToPod(kube, { pod: "web", stdin: true });
 * s.stdout.pipeTo(new WritableStream({ write: (b) => console.log(b) }));
 * ```
 *
 * @param kube The authenticated client.
 * @param options Pod, container, stdin, tty, signal.
 * @returns The session once the stream is open.
 */
export function attachToPod(
  kube: StreamClient,
  options: AttachOptions,
): Promise<ExecSession> {
  return open(kube, "attach", options, []);
}

async function open(
  kube: StreamClient,
  sub: "exec" | "attach",
  options: AttachOptions,
  command: string[],
): Promise<ExecSession> {
  const tty = options.tty === true;
  const stdin = options.stdin === true;
  const q = query([
    ...command.map((c): [string, string] => ["command", c]),
    ["container", options.container],
    ["stdin", stdin ? "true" : undefined],
    ["stdout", "true"],
    ["stderr", tty ? undefined : "true"],
    ["tty", tty ? "true" : undefined],
  ]);
  const path = podPath(options.namespace ?? kube.namespace, options.pod, sub);
  const ws = await kube.webSocket(`${path}?${q}`, {
    protocols: PROTOCOLS,
    signal: options.signal,
  });
  if (ws.protocol !== V5_CHANNEL && ws.protocol !== V4_CHANNEL) {
    ws.close(1000);
    throw new KubeauthError(
      "STREAM_FAILED",
      `the server chose the WebSocket subprotocol "${ws.protocol}"; kubeauth speaks ${
        PROTOCOLS.join(" and ")
      } (Kubernetes 1.30 and later)`,
    );
  }
  return new ChannelSession(ws, { stdin, tty, signal: options.signal });
}
