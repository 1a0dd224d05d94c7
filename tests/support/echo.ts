/**
 * The test cluster's `/echo` answer, shared by the tests that read it.
 *
 * @module
 */

/** The JSON body `GET|POST /echo` on the test cluster answers with. */
export interface Echo {
  /** The authenticated user. */
  user: string | null;
  /** The client certificate's common name, null without one. */
  cn: string | null;
  /** The server's id of the TLS connection the request came on. */
  conn: number;
  /** How the request authenticated: "bearer", "basic", "x509". */
  authScheme: string | null;
  method: string;
  /** Path and query. */
  path: string;
  /** The request body as text. */
  body: string;
  /** The request headers, secrets redacted. */
  headers: Record<string, string | string[]>;
}
