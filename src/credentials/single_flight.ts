/**
 * One shared run of an async task at a time, joined by every caller, each
 * with its own abort signal.
 *
 * @module
 */
import { withSignal } from "./abortable.ts";

/**
 * Runs at most one task at a time: while one is in flight, {@linkcode run}
 * returns that same promise instead of starting another. A caller that joins
 * with its own signal ({@linkcode join}) stops waiting when it aborts, and
 * the shared run goes on for the others.
 *
 * @example Usage
 * ```ts
 * import { SingleFlight } from "./single_flight.ts";
 * let runs = 0;
 * const flight = new SingleFlight<number>();
 * const task = () => Promise.resolve(++runs);
 * const [a, b] = await Promise.all([flight.run(task), flight.run(task)]);
 * if (a !== 1 || b !== 1) throw new Error("expected one shared run");
 * const shared = flight.run(task);
 * const c = new AbortController();
 * const mine = flight.join(shared, c.signal);
 * c.abort(new Error("gave up"));
 * if (await mine.catch((e) => e.message) !== "gave up") throw new Error("not aborted");
 * if (await shared !== 2) throw new Error("the shared run goes on");
 * ```
 *
 * @typeParam T What the task resolves to.
 */
export class SingleFlight<T> {
  #current: Promise<T> | undefined;

  /** The run in flight, if any. */
  get current(): Promise<T> | undefined {
    return this.#current;
  }

  /**
   * Returns the run in flight, or starts `task` as the new one. The shared
   * promise never counts as unhandled (callers see its rejection).
   *
   * @param task Starts the work.
   * @returns The shared run.
   */
  run(task: () => Promise<T>): Promise<T> {
    if (this.#current) return this.#current;
    const p = task().finally(() => {
      if (this.#current === p) this.#current = undefined;
    });
    p.catch(() => {});
    this.#current = p;
    return p;
  }

  /**
   * Waits for `p` (a shared run) on behalf of one caller: rejects with the
   * signal's reason when it aborts, without cancelling `p`.
   *
   * @param p The shared run.
   * @param signal The caller's signal, if any.
   * @returns A promise for this caller only.
   */
  join(p: Promise<T>, signal?: AbortSignal): Promise<T> {
    return withSignal(p, signal);
  }
}
