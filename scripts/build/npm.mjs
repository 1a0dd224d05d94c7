#!/usr/bin/env node
// Builds the npm package into dist/: ESM bundles (esbuild, dependencies kept
// external), `.d.ts` declarations (tsc, isolatedDeclarations) and the
// `kubeauth` bin wrapper. Usage: npm run build
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { chmodSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..", "..");
const dist = join(root, "dist");
rmSync(dist, { recursive: true, force: true });

await build({
  absWorkingDir: root,
  entryPoints: {
    mod: "mod.ts",
    cli: "src/cli.ts",
    runtime: "src/runtime/mod.ts",
    "client-node": "src/integrations/client_node.ts",
    cloudydeno: "src/integrations/cloudydeno.ts",
  },
  outdir: "dist",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  packages: "external",
  chunkNames: "chunks/[name]-[hash]",
  logLevel: "warning",
});

execFileSync(join(root, "node_modules", ".bin", "tsc"), [
  "-p",
  "tsconfig.build.json",
], {
  cwd: root,
  stdio: "inherit",
});

// tsc keeps `./x.ts` specifiers in declarations; point the entry types at them.
for (
  const [name, from] of [
    ["mod", "./types/mod.ts"],
    [
      "cli",
      "./types/src/cli.ts",
    ],
    ["runtime", "./types/src/runtime/mod.ts"],
    [
      "client-node",
      "./types/src/integrations/client_node.ts",
    ],
    ["cloudydeno", "./types/src/integrations/cloudydeno.ts"],
  ]
) {
  writeFileSync(
    join(dist, `${name}.d.ts`),
    `export * from "${from.replace(/\.ts$/, ".js")}";\n`,
  );
}

const bin = join(dist, "bin.js");
writeFileSync(
  bin,
  `#!/usr/bin/env node
import { main } from "./cli.js";
const code = await main(process.argv.slice(2));
process.exit(code);
`,
);
chmodSync(bin, 0o755);
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
console.log(`built ${pkg.name}@${pkg.version} into dist/`);
