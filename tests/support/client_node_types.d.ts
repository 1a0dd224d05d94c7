// The client-node classes the tests use, declared here: the library's own
// declarations pull in a second @types/node that clashes with the repo's.
import type {
  Configuration,
  KubernetesListObject,
  KubernetesObject,
} from "../../src/integrations/client_node_api.d.ts";
export type {
  Configuration,
  KubernetesListObject,
  KubernetesObject,
} from "../../src/integrations/client_node_api.d.ts";

/** A ConfigMap. */
export interface V1ConfigMap extends KubernetesObject {
  data?: Record<string, string>;
}

/** The generated core/v1 API (the calls the tests make). */
export declare class CoreV1Api {
  constructor(configuration: Configuration);
  listNamespace(): Promise<KubernetesListObject<KubernetesObject>>;
  listNamespacedConfigMap(
    p: { namespace: string },
  ): Promise<KubernetesListObject<V1ConfigMap>>;
  createNamespacedConfigMap(
    p: { namespace: string; body: V1ConfigMap },
  ): Promise<V1ConfigMap>;
  replaceNamespacedConfigMap(
    p: { name: string; namespace: string; body: V1ConfigMap },
  ): Promise<V1ConfigMap>;
  readNamespacedConfigMap(
    p: { name: string; namespace: string },
  ): Promise<V1ConfigMap>;
  deleteNamespacedConfigMap(
    p: { name: string; namespace: string },
  ): Promise<unknown>;
}

/** Generic object access. */
export declare class KubernetesObjectApi {
  constructor(configuration: Configuration);
  read<T extends KubernetesObject>(spec: T): Promise<T>;
  create<T extends KubernetesObject>(spec: T): Promise<T>;
  delete(spec: KubernetesObject): Promise<unknown>;
}

/** A kubeconfig, loaded the library's own way. */
export declare class KubeConfig {
  constructor();
  loadFromFile(path: string): void;
  makeApiClient<T>(api: new (configuration: Configuration) => T): T;
}

/** A failed generated call. */
export declare class ApiException<T> extends Error {
  code: number;
  body: T;
}

/** What Exec, Attach and PortForward take to open sockets. */
export interface WebSocketInterface {
  connect(
    path: string,
    textHandler: ((text: string) => boolean) | null,
    // deno-lint-ignore no-explicit-any
    binaryHandler: ((stream: number, buff: any) => boolean) | null,
  ): Promise<unknown>;
}

/** The `ws`-style socket the stream classes return (the calls the tests make). */
export interface WsSocket {
  readyState: number;
  protocol: string;
  // deno-lint-ignore no-explicit-any
  on(event: string, listener: (...args: any[]) => void): unknown;
  close(code?: number): void;
}

/** A V1Status (the exit status of an exec). */
export interface V1Status {
  status?: string;
  reason?: string;
  message?: string;
  details?: { causes?: { reason?: string; message?: string }[] };
}

/** Runs a command in a container. */
export declare class Exec {
  constructor(config: KubeConfig, wsInterface?: WebSocketInterface);
  exec(
    namespace: string,
    podName: string,
    containerName: string,
    command: string | string[],
    stdout: NodeJS.WritableStream | null,
    stderr: NodeJS.WritableStream | null,
    stdin: NodeJS.ReadableStream | null,
    tty: boolean,
    statusCallback?: (status: V1Status) => void,
  ): Promise<WsSocket>;
}

/** Attaches to a container's main process. */
export declare class Attach {
  constructor(config: KubeConfig, websocketInterface?: WebSocketInterface);
  attach(
    namespace: string,
    podName: string,
    containerName: string,
    stdout: NodeJS.WritableStream | null,
    stderr: NodeJS.WritableStream | null,
    stdin: NodeJS.ReadableStream | null,
    tty: boolean,
  ): Promise<WsSocket>;
}

/** Forwards one port of a pod over a WebSocket. */
export declare class PortForward {
  constructor(
    config: KubeConfig,
    disconnectOnErr?: boolean,
    handler?: WebSocketInterface,
  );
  portForward(
    namespace: string,
    podName: string,
    targetPorts: number[],
    output: NodeJS.WritableStream,
    err: NodeJS.WritableStream | null,
    input: NodeJS.ReadableStream,
    retryCount?: number,
  ): Promise<WsSocket | (() => WsSocket | null)>;
}

/** Copies files to and from a container with `tar` through an Exec. */
export declare class Cp {
  constructor(config: KubeConfig, execInstance?: Exec);
  cpToPod(
    namespace: string,
    podName: string,
    containerName: string,
    srcPath: string,
    tgtPath: string,
  ): Promise<void>;
  cpFromPod(
    namespace: string,
    podName: string,
    containerName: string,
    srcPath: string,
    tgtPath: string,
    cwd?: string,
  ): Promise<void>;
}
