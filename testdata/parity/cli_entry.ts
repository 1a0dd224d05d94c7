// The kubeauth CLI as the npm package's `kubeauth` bin runs it (dist/bin.js):
// main(argv), then exit with its code. tests/kubectl_parity_test.ts bundles
// this with esbuild to run the CLI under Node 20 (Deno and Bun run
// src/cli.ts directly).
import process from "node:process";
import { main } from "../../src/cli.ts";

process.exit(await main(process.argv.slice(2)));
