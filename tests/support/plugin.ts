/**
 * The demo exec credential plugin (a real process, run by Bun):
 *
 * ```sh
 * bun tests/support/plugin.ts --state-dir D --ca-dir C [--mode cert|token|both]
 *     [--ttl 3600] [--token-prefix demo-token]
 *     [--delay-ms N] [--exit-code N] [--no-expiry] [--expiry-ms N] [--silent]
 * ```
 *
 * Each run takes the next run number n (exclusive file creation in
 * `D/.runs/`, so concurrent runs get distinct numbers) and appends one line to
 * `D/runs`. It answers with the apiVersion of `KUBERNETES_EXEC_INFO` (default
 * client.authentication.k8s.io/v1) and an ExecCredential whose status holds:
 * - mode cert/both: a client certificate CN=demo-user-<n>, O=demo, signed by
 *   the CA in `C/ca.crt` + `C/ca.key`, valid for ttl seconds;
 * - mode token/both: the token `<prefix>-<n>`, also appended as
 *   `<token> demo-user-<n>` to `D/tokens` (the cluster accepts it only once a
 *   test registers it: see `demoTokens()` in tests/support/harness.ts);
 * - `expirationTimestamp` = now + ttl (RFC 3339), unless `--no-expiry`;
 *   `--expiry-ms N` makes it now + N ms instead, with millisecond precision
 *   (the certificate stays valid for ttl): credentials that rotate faster
 *   than X.509's one-second resolution, for the rotation benchmarks.
 *
 * It writes the raw KUBERNETES_EXEC_INFO to `D/exec-info.json`, and one line
 * to stderr (`demo plugin: issued CN=demo-user-3, expires in 5s`, never a
 * secret; `--silent` leaves it out). `--delay-ms` waits before answering;
 * `--exit-code N` (N > 0) fails after counting the run, printing nothing on
 * stdout.
 *
 * @module
 */
import {
  appendFileSync,
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { issueCertificate, loadCa } from "./pki.ts";

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function die(message: string, code = 1): never {
  process.stderr.write(`demo plugin: ${message}\n`);
  process.exit(code);
}

/** Claims the next run number with O_EXCL file creation. */
function nextRun(stateDir: string): number {
  const dir = join(stateDir, ".runs");
  mkdirSync(dir, { recursive: true });
  for (let n = readdirSync(dir).length + 1;; n++) {
    try {
      closeSync(openSync(join(dir, String(n)), "wx"));
      return n;
    } catch (err) {
      if ((err as { code?: string }).code !== "EEXIST") throw err;
    }
  }
}

function rfc3339(ms: number, fraction = false): string {
  const iso = new Date(ms).toISOString();
  return fraction ? iso : iso.replace(/\.\d{3}Z$/, "Z");
}

async function main(): Promise<void> {
  const stateDir = flag("state-dir") ?? die("--state-dir is required");
  const caDir = flag("ca-dir");
  const mode = flag("mode") ?? "cert";
  const ttl = Number(flag("ttl") ?? 3600);
  const prefix = flag("token-prefix") ?? "demo-token";
  const delayMs = Number(flag("delay-ms") ?? 0);
  const exitCode = Number(flag("exit-code") ?? 0);
  const expiryMs = flag("expiry-ms") === undefined
    ? undefined
    : Number(flag("expiry-ms"));
  if (!["cert", "token", "both"].includes(mode)) die(`bad --mode ${mode}`);
  if (!(ttl > 0)) die(`bad --ttl ${flag("ttl")}`);
  if (expiryMs !== undefined && !(expiryMs > 0)) {
    die(`bad --expiry-ms ${flag("expiry-ms")}`);
  }

  mkdirSync(stateDir, { recursive: true });
  const n = nextRun(stateDir);
  appendFileSync(
    join(stateDir, "runs"),
    `${n} ${new Date().toISOString()} pid=${process.pid} mode=${mode}\n`,
  );
  const rawInfo = process.env.KUBERNETES_EXEC_INFO ?? "";
  writeFileSync(join(stateDir, "exec-info.json"), rawInfo);
  let apiVersion = "client.authentication.k8s.io/v1";
  if (rawInfo) {
    try {
      apiVersion = JSON.parse(rawInfo).apiVersion ?? apiVersion;
    } catch {
      die("KUBERNETES_EXEC_INFO is not JSON");
    }
  }
  if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
  if (exitCode > 0) die(`failing on purpose (run ${n})`, exitCode);

  const status: Record<string, string> = {};
  const user = `demo-user-${n}`;
  const expiresAt = Date.now() + ttl * 1000;
  if (mode === "cert" || mode === "both") {
    if (!caDir) die("--ca-dir is required in cert mode");
    const ca = await loadCa(
      readFileSync(join(caDir, "ca.crt"), "utf8"),
      readFileSync(join(caDir, "ca.key"), "utf8"),
    );
    const pair = await issueCertificate(ca, {
      commonName: user,
      organizations: ["demo"],
      usage: "client",
      validSeconds: ttl,
    });
    status.clientCertificateData = pair.certPem;
    status.clientKeyData = pair.keyPem;
  }
  if (mode === "token" || mode === "both") {
    status.token = `${prefix}-${n}`;
    appendFileSync(join(stateDir, "tokens"), `${status.token} ${user}\n`);
  }
  if (expiryMs !== undefined) {
    status.expirationTimestamp = rfc3339(Date.now() + expiryMs, true);
  } else if (!process.argv.includes("--no-expiry")) {
    status.expirationTimestamp = rfc3339(expiresAt);
  }
  process.stdout.write(
    JSON.stringify({ apiVersion, kind: "ExecCredential", status }) + "\n",
  );
  const what = mode === "token" ? `token for ${user}` : `CN=${user}`;
  if (process.argv.includes("--silent")) return;
  const expires = expiryMs !== undefined ? `${expiryMs}ms` : `${ttl}s`;
  process.stderr.write(`demo plugin: issued ${what}, expires in ${expires}\n`);
}

main().catch((err) => die(String(err?.message ?? err)));
