// loadCore accepts every source the brief lists: nothing (embedded bytes), bytes, a compiled
// WebAssembly.Module and a URL; a bad source is a clear TypeError. Instances are independent.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import { loadCore, type Core } from "../../src/core/index.js";
import { FIELD_NAMES, ORACLE_CODES, PROBLEM, readCodes } from "../../src/core/exports.js";

const wasmPath = fileURLToPath(new URL("../../build/core.wasm", import.meta.url));
const bytes = readFileSync(wasmPath);
const y = Float64Array.of(0.6, 0.3, 0.1);
const p = Float64Array.of(0.2, 0.5, 0.3);
const options = { oracle: "argmax", objective: "angular", distance: "l1", epsilon: 0.3 } as const;

function answer(core: Core): number[] {
  return Array.from(core.createPerturber(options).perturb(y, 3, { kind: "probs", proxyProbs: p }));
}

test("default, bytes, ArrayBuffer and Module sources give the same answers", async () => {
  const expected = answer(await loadCore());
  assert.equal(answer(await loadCore(bytes)), expected);
  assert.equal(answer(await loadCore(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))), expected);
  assert.equal(answer(await loadCore(await WebAssembly.compile(bytes))), expected);
});

test("a URL is fetched (served as application/wasm: streamed)", async () => {
  const server = createServer((_, res) => {
    res.writeHead(200, { "content-type": "application/wasm" });
    res.end(bytes);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  try {
    const url = `http://127.0.0.1:${port}/core.wasm`;
    assert.equal(answer(await loadCore(url)), answer(await loadCore()));
    assert.equal(answer(await loadCore(new URL(url))), answer(await loadCore()));
  } finally {
    server.close();
  }
});

test("a bad source is rejected with a readable error", async () => {
  try {
    await loadCore(42 as never);
    assert.unreachable("should have thrown");
  } catch (error) {
    assert.instance(error, TypeError);
    assert.match((error as Error).message, /WebAssembly.Module, bytes/);
  }
});

test("scratch memory grows under big batches and views stay valid afterwards", async () => {
  const core = await loadCore();
  const perturber = core.createPerturber(options);
  const small = answer(core);
  const K = 20000;
  const big = new Float64Array(4 * K).fill(1 / K); // a row's work space is about 6 MB here: forces memory.grow
  const before = core.wasm.memory.buffer.byteLength;
  perturber.perturb(big, K);
  assert.ok(core.wasm.memory.buffer.byteLength > before);
  assert.equal(answer(core), small);
});

test("the option and problem codes are the module's own exported globals, read at load; a build without them is refused", async () => {
  const core = await loadCore();
  const globals = core.wasm.instance.exports as Record<string, WebAssembly.Global>;
  assert.is(ORACLE_CODES.argmax, globals.ORACLE_ARGMAX.value);
  assert.is(PROBLEM.negativeDiagonal, globals.PROBLEM_NEGATIVE_DIAGONAL.value);
  assert.is(FIELD_NAMES[globals.FIELD_PROXY_PROBS.value], "proxyProbs");
  const { ORACLE_ARGMIN: _dropped, ...rest } = core.wasm.instance.exports;
  assert.throws(() => readCodes(rest), /core\.wasm exports no ORACLE_ARGMIN/);
  readCodes(core.wasm.instance.exports);
});

test.run();
