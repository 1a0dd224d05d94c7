/**
 * Waiting on shared work with a caller's own abort signal.
 *
 * @module
 */

/**
 * Resolves or rejects as `p` does, or rejects with `signal.reason` as soon
 * as `signal` aborts — without cancelling `p`, which other callers may be
 * sharing (one plugin run serves every waiter).
 *
 * @example Usage
 * ```ts
 * import { withSignal } from "./abortable.ts";
 * const shared = new Promise<number>((r) => setTimeout(() => r(1), 10));
 * const c = new AbortController();
 * const mine = withSignal(shared, c.signal);
 * c.abort();
 * await mine.catch(() => {});
 * if (await shared !== 1) throw new Error("not as shown");
 * ```
 *
 * @typeParam T The value `p` resolves to.
 * @param p The shared promise.
 * @param signal The caller's signal, if any.
 * @returns A promise for this caller only.
 */
export function withSignal<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
