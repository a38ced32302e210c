// Deno runs the package's edge entry from its TypeScript sources (the npm packages from node_modules):
// the WASM core from its embedded bytes, and the HTTP app over tfjs on its WASM backend.
import { test } from "uvu";
import { scriptRuntimeTests } from "./script-runtime.js";

// --sloppy-imports: the sources import "./x.js" for ./x.ts, as tsc's NodeNext resolution wants
scriptRuntimeTests("deno", test, ["run", "--sloppy-imports", "--no-lock", "--allow-read", "--allow-env", "--allow-net=127.0.0.1"]);

test.run();
