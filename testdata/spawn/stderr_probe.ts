// Writes the bytes 0..255 and then 1 MiB of "x" through
// adapter.writeStderr(), then "done" to stdout.
import { getRuntimeAdapter } from "../../src/runtime/mod.ts";

const adapter = await getRuntimeAdapter();
const bytes = new Uint8Array(256);
for (let i = 0; i < 256; i++) bytes[i] = i;
adapter.writeStderr(bytes);
adapter.writeStderr(new Uint8Array(1 << 20).fill(0x78));
console.log("done");
