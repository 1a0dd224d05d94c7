/**
 * Drives the test cluster's ConfigMap store (tests/support/object_store.mjs)
 * through its control server: compact the history, drop or end watches,
 * reset, count watch streams.
 *
 * @module
 */
import type { TestCluster } from "./cluster.ts";

/** A control action of the store. */
export type StoreAction = "compact" | "drop-watches" | "end-watches" | "reset";

/** Runs a control action; returns the store's current resourceVersion. */
export async function storeControl(
  cluster: TestCluster,
  action: StoreAction,
): Promise<string> {
  const res = await fetch(`${cluster.controlUrl}/store/${action}`, {
    method: "POST",
  });
  const body = await res.json() as { ok: boolean; resourceVersion: string };
  if (!body.ok) throw new Error(`store ${action} failed`);
  return body.resourceVersion;
}

/** Watch streams open now, and started since the last reset. */
export async function storeWatches(
  cluster: TestCluster,
): Promise<{ open: number; started: number }> {
  const res = await fetch(`${cluster.controlUrl}/store/watches`);
  return await res.json() as { open: number; started: number };
}

/** A ConfigMap body for create/replace. */
export function configMap(
  name: string,
  data: Record<string, string> = {},
): Record<string, unknown> {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name }, data };
}
