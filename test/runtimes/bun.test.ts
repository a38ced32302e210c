// Bun runs the package's edge entry from its TypeScript sources: the WASM core from its embedded bytes,
// and the HTTP app over tfjs on its WASM backend.
import { test } from "uvu";
import { scriptRuntimeTests } from "./script-runtime.js";

scriptRuntimeTests("bun", test, []);

test.run();
