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
