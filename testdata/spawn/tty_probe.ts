// Prints whether the runtime adapter sees a terminal on stdin.
import { getRuntimeAdapter } from "../../src/runtime/mod.ts";

const adapter = await getRuntimeAdapter();
console.log(`stdinIsTerminal=${adapter.stdinIsTerminal()}`);
