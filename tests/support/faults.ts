/**
 * The misbehaving server of tests/faults_test.ts (tests/support/fault_server.mjs)
 * in a child Node process: a TLS server that resets mid-body or never
 * answers, a TCP listener that never completes a handshake, and a closed
 * port. Its certificate is issued by a CA of its own, so a kubeconfig can
 * trust the right CA or a wrong one.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { createCa, issueCertificate } from "./pki.ts";
import { NODE, REPO_ROOT, repoPath } from "./cluster.ts";

/** A running fault server. */
export interface FaultServer {
  /** The CA that issued the TLS server's certificate (PEM). */
  caPem: string;
  /** A CA the server's certificate is NOT issued by (PEM). */
  wrongCaPem: string;
  /** `127.0.0.1:<port>` of the TLS server. */
  tls: string;
  /** `127.0.0.1:<port>` of the listener that never answers. */
  hang: string;
  /** `127.0.0.1:<port>` of a closed port. */
  closed: string;
  /** Stops the server and waits for its exit. */
  close(): Promise<void>;
}

/**
 * Starts the fault server.
 *
 * @returns The server.
 */
export async function startFaultServer(): Promise<FaultServer> {
  const ca = await createCa({ commonName: "kubeauth-fault-ca" });
  const wrong = await createCa({ commonName: "kubeauth-wrong-ca" });
  const server = await issueCertificate(ca, {
    commonName: "kubeauth-fault-server",
    usage: "server",
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1"],
  });
  const child = spawn(
    NODE,
    [repoPath("tests", "support", "fault_server.mjs")],
    {
      cwd: REPO_ROOT,
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.once("error", () => resolve());
  });
  child.stdin!.on("error", () => {});
  child.stdin!.write(
    JSON.stringify({ certPem: server.certPem, keyPem: server.keyPem }) + "\n",
  );
  const line = await new Promise<string>((resolve, reject) => {
    let buf = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      buf += chunk.toString();
      const nl = buf.indexOf("\n");
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    child.once(
      "exit",
      (code) =>
        reject(
          new Error(`fault server exited (code ${code}) before it was ready`),
        ),
    );
  });
  const ports = JSON.parse(line) as {
    tls: number;
    hang: number;
    closed: number;
  };
  return {
    caPem: ca.certPem,
    wrongCaPem: wrong.certPem,
    tls: `127.0.0.1:${ports.tls}`,
    hang: `127.0.0.1:${ports.hang}`,
    closed: `127.0.0.1:${ports.closed}`,
    async close() {
      child.stdin!.end();
      await exited;
    },
  };
}
