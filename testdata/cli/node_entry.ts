// The CLI entry for Node 20 in tests (Node cannot run src/cli.ts directly,
// and `import.meta.main` does not exist there): what dist/bin.js does.
import { main } from "../../src/cli.ts";
import { getProcessIo } from "../../src/runtime/process_io.ts";

const io = await getProcessIo();
await io.exit(await main(io.args(), io));
