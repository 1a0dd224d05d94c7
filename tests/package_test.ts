import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VERSION } from "../src/cli.ts";
import { detectRuntime } from "../src/runtime/detect.ts";

const root = process.cwd();
const denoJson = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
const pkgJson = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));

test("deno.json and package.json agree on name, version and exports", () => {
  assert.equal(denoJson.name, "@kubeauth/fetch");
  assert.equal(pkgJson.name, denoJson.name);
  assert.equal(pkgJson.version, denoJson.version);
  assert.equal(VERSION, denoJson.version, "src/cli.ts VERSION");
  assert.deepEqual(
    Object.keys(pkgJson.exports).sort(),
    Object.keys(denoJson.exports).sort(),
  );
  assert.equal(denoJson.exports["."], "./mod.ts");
  assert.equal(denoJson.exports["./cli"], "./src/cli.ts");
  assert.ok(pkgJson.bin.kubeauth, "package.json bin.kubeauth");
  assert.equal(pkgJson.type, "module");
});

test("deno.json imports and package.json dependencies name the same ranges", () => {
  const fromDeno: Record<string, string> = {};
  for (const [name, spec] of Object.entries(denoJson.imports ?? {})) {
    const m = /^npm:((?:@[^/]+\/)?[^@]+)@(.+)$/.exec(String(spec));
    if (m) fromDeno[name] = `${m[1]} ${m[2]}`;
  }
  const fromNpm: Record<string, string> = {};
  for (const [name, range] of Object.entries(pkgJson.dependencies ?? {})) {
    fromNpm[name] = `${name} ${range}`;
  }
  // Optional peers (the clients of the integration subpaths): deno.json
  // names one of the npm peer range's alternatives (Deno takes no `||`).
  for (
    const [name, range] of Object.entries(pkgJson.peerDependencies ?? {})
  ) {
    const alternatives = String(range).split("||").map((r) => r.trim());
    assert.ok(
      alternatives.includes(fromDeno[name]?.slice(name.length + 1)),
      `deno.json imports ${name} within the peer range ${range}`,
    );
    delete fromDeno[name];
  }
  assert.deepEqual(fromDeno, fromNpm);
});

test("the publish workflow checks the tag and publishes both packages", () => {
  const yml = readFileSync(
    join(root, ".github", "workflows", "publish.yml"),
    "utf8",
  );
  for (
    const needle of [
      "id-token: write",
      "npm test",
      "deno publish",
      "npm publish --provenance --access public",
      "NODE_AUTH_TOKEN",
      "GITHUB_REF_NAME",
    ]
  ) assert.ok(yml.includes(needle), `publish.yml mentions ${needle}`);
});

// Building and packing takes a while: do it once, from the Node run, and
// import the packed package from both Node and Bun.
test(
  "the npm build packs, installs and imports on Node and Bun",
  { skip: detectRuntime() !== "node", timeout: 180_000 },
  () => {
    const tmp = mkdtempSync(join(tmpdir(), "kubeauth-pack-"));
    try {
      execFileSync("node", ["scripts/build/npm.mjs"], {
        cwd: root,
        stdio: "pipe",
      });
      execFileSync("npm", ["pack", "--pack-destination", tmp, "--silent"], {
        cwd: root,
        stdio: "pipe",
      });
      const tgz = readdirSync(tmp).find((f) => f.endsWith(".tgz"));
      assert.ok(tgz, "npm pack produced a tarball");
      const app = join(tmp, "app");
      execFileSync("mkdir", ["-p", app]);
      writeFileSync(
        join(app, "package.json"),
        JSON.stringify({ name: "app", private: true, type: "module" }),
      );
      execFileSync(
        "npm",
        [
          "install",
          "--prefer-offline",
          "--no-audit",
          "--no-fund",
          "--silent",
          join(tmp, tgz),
        ],
        { cwd: app, stdio: "pipe" },
      );
      const probe = `import * as m from "@kubeauth/fetch";
import * as rt from "@kubeauth/fetch/runtime";
const a = await rt.getRuntimeAdapter();
console.log(JSON.stringify({ fns: ["createAuthedFetch", "authedFetch", "loadKubeconfig"].map((n) => typeof m[n]), err: new m.KubeauthError("CLOSED", "x").code, adapter: a.name }));`;
      writeFileSync(join(app, "probe.mjs"), probe);
      const node = JSON.parse(
        execFileSync("node", ["probe.mjs"], { cwd: app }).toString(),
      );
      assert.deepEqual(node, {
        fns: ["function", "function", "function"],
        err: "CLOSED",
        adapter: "node",
      });
      const bun = JSON.parse(
        execFileSync(join(root, "node_modules", ".bin", "bun"), ["probe.mjs"], {
          cwd: app,
        }).toString(),
      );
      assert.deepEqual(bun, {
        fns: ["function", "function", "function"],
        err: "CLOSED",
        adapter: "bun",
      });
      const version = execFileSync(
        join(app, "node_modules", ".bin", "kubeauth"),
        ["--version"],
        {
          cwd: app,
        },
      ).toString();
      assert.equal(version.trim(), `kubeauth ${pkgJson.version}`);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  },
);

// Issue 12, item 8: Deno users of the JSR package must not download undici,
// which only the Node adapter's WebSocket uses. `deno info` walks every
// statically analysable import (dynamic ones included), as Deno does when it
// caches a module's graph; undici (npm: or node_modules/) must not be in it.
test("deno info: no undici in the graphs of the Deno-facing entry points", {
  timeout: 120_000,
}, () => {
  const deno = join(root, "node_modules", ".bin", "deno");
  for (
    const entry of [
      "mod.ts",
      "src/cli.ts",
      "src/runtime/mod.ts",
      "src/integrations/cloudydeno.ts",
    ]
  ) {
    const info = JSON.parse(
      execFileSync(deno, ["info", "--json", entry], {
        cwd: root,
        encoding: "utf8",
        maxBuffer: 64 << 20,
      }),
    ) as {
      modules: { specifier: string }[];
      npmPackages?: Record<string, unknown>;
    };
    assert.ok(
      info.modules.some((m) => m.specifier.endsWith("/src/runtime/node.ts")),
      `${entry}: the graph is complete (the Node adapter is in it)`,
    );
    const undici = info.modules
      .map((m) => m.specifier)
      .filter((s) => /undici/.test(s));
    assert.deepEqual(undici, [], `${entry}: undici modules in the graph`);
    assert.deepEqual(
      Object.keys(info.npmPackages ?? {}).filter((k) => /undici/.test(k)),
      [],
      `${entry}: undici npm packages in the graph`,
    );
  }
});
