/**
 * @kubernetes/client-node for the tests, typed by client_node_types.d.ts
 * (on Node 20 the test runner bundles client-node 1.x in its place).
 *
 * @module
 */
// @ts-types="./client_node_types.d.ts"
export {
  ApiException,
  Attach,
  CoreV1Api,
  Cp,
  Exec,
  KubeConfig,
  KubernetesObjectApi,
  PortForward,
} from "@kubernetes/client-node";
export type {
  V1ConfigMap,
  V1Status,
  WebSocketInterface,
  WsSocket,
} from "./client_node_types.d.ts";
