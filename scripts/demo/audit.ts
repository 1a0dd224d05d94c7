/**
 * The rotation audit shared by the demo and the rotation benchmark: it
 * follows the library's `credentials-rotated` events, remembers which
 * certificate was current when each request started (by `x-request-id`),
 * and checks against the fake API server's own records that
 *
 * - no request that started after a rotation reached the server on a
 *   connection with an older certificate (a *stale-cert request*);
 * - no connection of an older certificate is left open.
 *
 * Certificates are the demo plugin's (`CN=demo-user-<n>`, n increasing with
 * each plugin run), so "older" is "smaller n".
 *
 * @module
 */
import type { TestCluster } from "../../tests/support/cluster.ts";

/** `demo-user-7` → 7; anything else (null included) → 0. */
export function cnNumber(cn: string | null | undefined): number {
  const m = /demo-user-(\d+)/.exec(cn ?? "");
  return m ? Number(m[1]) : 0;
}

/** The CN of a subject such as `CN=demo-user-3,O=demo`, else the subject itself. */
export function cnOf(subject: unknown): string | null {
  if (typeof subject !== "string") return null;
  const m = /CN=([^,/+]+)/.exec(subject);
  return m ? m[1].trim() : subject;
}

/** What {@linkcode RotationAudit.check} found. */
export interface AuditResult {
  /** Requests that started after a rotation but reached the server on an older certificate's connection. */
  stale: number;
  /** Up to 5 of them, described. */
  staleSamples: string[];
  /** Connections of an older certificate still open after the grace period. */
  oldOpen: number;
  /** Their ids. */
  oldOpenIds: number[];
  /** Connections the server accepted. */
  connections: number;
  /** Requests the server recorded (a 401 retried counts twice). */
  serverRequests: number;
  /** Server-recorded requests whose id this audit did not start. */
  unmatched: number;
}

/** Follows rotations and requests; see the module doc. */
export class RotationAudit {
  /** n of the newest certificate announced (0: none yet). */
  currentCn = 0;
  /** CN of the newest certificate announced. */
  currentCnName: string | null = null;
  /** Certificates announced (the first one included). */
  issued = 0;
  /** Changes from one certificate to another (the first one excluded). */
  rotations = 0;
  readonly #expected = new Map<string, number>();

  /**
   * Feed it every library event. Returns the previous and new CN when the
   * event is a certificate rotation, else null.
   */
  onEvent(
    e: { type: string; subject?: unknown; certificateChanged?: unknown },
  ): { before: string | null; after: string } | null {
    if (e.type !== "credentials-rotated" || e.certificateChanged === false) {
      return null;
    }
    const cn = cnOf(e.subject);
    if (cn === null) return null;
    const before = this.currentCnName;
    this.currentCn = Math.max(this.currentCn, cnNumber(cn));
    this.currentCnName = cn;
    this.issued++;
    if (before !== null) this.rotations++;
    return { before, after: cn };
  }

  /** Call as a request with header `x-request-id: id` starts. */
  begin(id: string): void {
    this.#expected.set(id, this.currentCn);
  }

  /**
   * Compares with the server's records. Call once nothing is in flight any
   * more and before closing the client: old connections get `graceMs` to
   * close.
   */
  async check(cluster: TestCluster, graceMs = 3000): Promise<AuditResult> {
    const conns = await cluster.connections();
    const old = conns.filter((c) =>
      c.closedAt === null && cnNumber(c.cn) !== this.currentCn
    ).map((c) => c.id);
    const waited = old.length === 0
      ? { ok: true, open: [] as number[] }
      : await cluster.waitClosed(old, graceMs);
    const records = await cluster.requests();
    let stale = 0;
    let unmatched = 0;
    const staleSamples: string[] = [];
    for (const r of records) {
      const want = this.#expected.get(r.id);
      if (want === undefined) {
        unmatched++;
        continue;
      }
      if (want > 0 && cnNumber(r.cn) < want) {
        stale++;
        if (staleSamples.length < 5) {
          staleSamples.push(
            `${r.id} ${r.method} ${r.path}: started once demo-user-${want} was current, server saw conn #${r.conn} CN=${
              r.cn ?? "none"
            }`,
          );
        }
      }
    }
    return {
      stale,
      staleSamples,
      oldOpen: waited.open.length,
      oldOpenIds: waited.open,
      connections: conns.length,
      serverRequests: records.length,
      unmatched,
    };
  }
}
