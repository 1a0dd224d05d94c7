/**
 * The part of @kubernetes/client-node (1.x and 2.x) that
 * `@kubeauth/fetch/client-node` uses, declared here from its sources: its own
 * declarations pull in a second `@types/node` (v24/v26) that clashes with the
 * one kubeauth's runtime adapters are checked against. Structurally
 * compatible with the library's types.
 *
 * @module
 */

/** An object with Kubernetes metadata. */
export interface KubernetesObject {
  /** `apiVersion`, as in client-node. */
  apiVersion?: string;
  /** `kind`, as in client-node. */
  kind?: string;
  /** `metadata`, as in client-node. */
  metadata?: {
    name?: string;
    namespace?: string;
    /** `resourceVersion`, as in client-node. */
    resourceVersion?: string;
    /** Further fields. */
    [key: string]: unknown;
  };
}

/** A list answer: items and list metadata. */
export interface KubernetesListObject<T extends KubernetesObject> {
  /** `apiVersion`, as in client-node. */
  apiVersion?: string;
  /** `kind`, as in client-node. */
  kind?: string;
  /** `metadata`, as in client-node. */
  metadata?: { resourceVersion?: string; [key: string]: unknown };
  /** `items`, as in client-node. */
  items: T[];
}

/** Lists a collection (an informer's initial state). */
export type ListPromise<T extends KubernetesObject> = () => Promise<
  /** `KubernetesListObject`, as in client-node. */
  KubernetesListObject<T>
>;

/** An outgoing request of a generated API. */
export interface RequestContext {
  /** `getUrl`, as in client-node. */
  getUrl(): string;
  /** `getHttpMethod`, as in client-node. */
  getHttpMethod(): string;
  /** `getHeaders`, as in client-node. */
  getHeaders(): Record<string, string>;
  /** `getBody`, as in client-node. */
  getBody(): unknown;
  /** `getSignal`, as in client-node. */
  getSignal(): AbortSignal | undefined;
}

/** A response body: text, bytes (a Buffer), stream (2.x). */
export interface ResponseBody {
  /** `text`, as in client-node. */
  text(): Promise<string>;
  /** `binary`, as in client-node. */
  binary(): Promise<Uint8Array>;
  /** `stream`, as in client-node. */
  stream?(): ReadableStream<Uint8Array> | null;
}

/** A response of the HTTP library. */
export declare class ResponseContext {
  httpStatusCode: number;
  headers: Record<string, string>;
  body: ResponseBody;
  /** Creates one, as client-node does. */
  constructor(
    httpStatusCode: number,
    headers: Record<string, string>,
    body: ResponseBody,
  );
}

/** The Observable-based HTTP library a Configuration holds. */
export interface HttpLibrary {
  /** `send`, as in client-node. */
  send(request: RequestContext): unknown;
}

/** A promise-based HTTP library. */
export interface PromiseHttpLibrary {
  /** `send`, as in client-node. */
  send(request: RequestContext): Promise<ResponseContext>;
}

/** Adapts a promise-based HTTP library. */
export declare function wrapHttpLibrary(
  promiseHttpLibrary: PromiseHttpLibrary,
): HttpLibrary;

/** The base URL of every generated call. */
export declare class ServerConfiguration<T extends Record<string, string>> {
  /** Creates one, as client-node does. */
  constructor(url: string, variableConfiguration: T);
  /** `getUrl`, as in client-node. */
  getUrl(): string;
}

/** What the generated API classes take. */
export interface Configuration {
  /** `baseServer`, as in client-node. */
  readonly baseServer: unknown;
  /** `httpApi`, as in client-node. */
  readonly httpApi: HttpLibrary;
  /** `middleware`, as in client-node. */
  readonly middleware: unknown[];
  /** `authMethods`, as in client-node. */
  readonly authMethods: unknown;
}

/** Builds a Configuration. */
export declare function createConfiguration(conf?: {
  /** `baseServer`, as in client-node. */
  baseServer?: ServerConfiguration<Record<string, string>>;
  /** `httpApi`, as in client-node. */
  httpApi?: HttpLibrary;
  /** `middleware`, as in client-node. */
  middleware?: unknown[];
  /** `authMethods`, as in client-node. */
  authMethods?: Record<string, unknown>;
}): Configuration;

/** A kubeconfig (opaque here). */
export declare class KubeConfig {
  /** Creates one, as client-node does. */
  constructor();
}

/** client-node's watch. */
export declare class Watch {
  /** Creates one, as client-node does. */
  constructor(config: KubeConfig);
  /** `watch`, as in client-node. */
  watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    // deno-lint-ignore no-explicit-any
    callback: (phase: string, apiObj: any, watchObj?: any) => void,
    // deno-lint-ignore no-explicit-any
    done: (err: any) => void,
  ): Promise<AbortController>;
}

/** A callback for one object. */
export type ObjectCallback<T extends KubernetesObject> = (obj: T) => void;
/** A callback for an error (or a connect). */
export type ErrorCallback = (err?: unknown) => void;

/** An informer: callbacks per verb, start, stop. */
export interface Informer<T extends KubernetesObject> {
  /** `on`, as in client-node. */
  on(verb: "add" | "update" | "delete" | "change", cb: ObjectCallback<T>): void;
  /** `on`, as in client-node. */
  on(verb: "error" | "connect", cb: ErrorCallback): void;
  /** `off`, as in client-node. */
  off(
    verb: "add" | "update" | "delete" | "change",
    cb: ObjectCallback<T>,
  ): void;
  /** `off`, as in client-node. */
  off(verb: "error" | "connect", cb: ErrorCallback): void;
  /** `start`, as in client-node. */
  start(): Promise<void>;
  /** `stop`, as in client-node. */
  stop(): Promise<void>;
}

/** The informer's cache. */
export interface ObjectCache<T> {
  /** `get`, as in client-node. */
  get(name: string, namespace?: string): T | undefined;
  /** `list`, as in client-node. */
  list(namespace?: string): readonly T[];
}

/** client-node's list-then-watch informer. */
export declare class ListWatch<T extends KubernetesObject>
  implements Informer<T>, ObjectCache<T> {
  /** Creates one, as client-node does. */
  constructor(
    path: string,
    watch: Watch,
    listFn: ListPromise<T>,
    autoStart?: boolean,
    labelSelector?: string,
    fieldSelector?: string,
  );
  /** `on`, as in client-node. */
  on(verb: "add" | "update" | "delete" | "change", cb: ObjectCallback<T>): void;
  /** `on`, as in client-node. */
  on(verb: "error" | "connect", cb: ErrorCallback): void;
  /** `off`, as in client-node. */
  off(
    verb: "add" | "update" | "delete" | "change",
    cb: ObjectCallback<T>,
  ): void;
  /** `off`, as in client-node. */
  off(verb: "error" | "connect", cb: ErrorCallback): void;
  /** `start`, as in client-node. */
  start(): Promise<void>;
  /** `stop`, as in client-node. */
  stop(): Promise<void>;
  /** `get`, as in client-node. */
  get(name: string, namespace?: string): T | undefined;
  /** `list`, as in client-node. */
  list(namespace?: string): readonly T[];
  /** `latestResourceVersion`, as in client-node. */
  latestResourceVersion(): string;
}

/**
 * What client-node's `Exec`, `Attach` and `PortForward` take to open their
 * sockets (its `WebSocketInterface`).
 */
export interface WebSocketInterface {
  /** `connect`, as in client-node (resolves to a `ws`-style socket). */
  connect(
    path: string,
    textHandler: ((text: string) => boolean) | null,
    // deno-lint-ignore no-explicit-any
    binaryHandler: ((stream: number, buff: any) => boolean) | null,
  ): Promise<unknown>;
}
