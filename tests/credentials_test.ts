import { test } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import {
  makeClientCertificate,
  makeCredentials,
} from "../src/credentials/credentials.ts";

test("makeCredentials() hides token, password and key from every printer", () => {
  const cc = makeClientCertificate({
    certPem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    keyPem: "KEY-SECRET-123",
    fingerprint: "ab12",
    subject: "CN=alice",
    notAfter: new Date("2030-01-01T00:00:00Z"),
  });
  const creds = makeCredentials({
    token: "TOKEN-SECRET-456",
    basic: { username: "bob", password: "PASS-SECRET-789" },
    clientCertificate: cc,
    expiresAt: new Date("2030-01-01T00:00:00Z"),
  });
  const outputs = [
    String(creds),
    JSON.stringify(creds),
    inspect(creds),
    inspect({ nested: creds }, { depth: 10 }),
    String(cc),
    JSON.stringify(cc),
    inspect(cc),
  ];
  const g = globalThis as unknown as {
    Deno?: { inspect(v: unknown, o?: unknown): string };
    Bun?: { inspect(v: unknown): string };
  };
  if (g.Deno) {
    outputs.push(g.Deno.inspect(creds, { depth: 10 }), g.Deno.inspect(cc));
  }
  if (g.Bun) outputs.push(g.Bun.inspect(creds), g.Bun.inspect(cc));
  for (const out of outputs) {
    for (
      const secret of ["TOKEN-SECRET-456", "PASS-SECRET-789", "KEY-SECRET-123"]
    ) {
      assert.ok(!out.includes(secret), `${secret} leaked in: ${out}`);
    }
  }
  assert.equal(creds.token, "TOKEN-SECRET-456");
  assert.equal(creds.basic?.password, "PASS-SECRET-789");
  assert.equal(creds.clientCertificate?.keyPem, "KEY-SECRET-123");
  assert.ok(inspect(creds).includes("CN=alice"));
});
