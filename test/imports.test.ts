// src/ has no import cycles: no file reaches itself through its imports (static, `export ... from`,
// `await import("./x.js")`, type-only ones included), and no folder imports another that imports it
// back (src/node/ and src/service/node/ once did: the Node entry is src/node.ts, above both). The walker
// is test/import-graph.ts; it is checked here on small graphs first.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { relative, resolve } from "node:path";
import { findCycles, folderGraph, importGraph, specifiersOf } from "./import-graph.js";

const root = resolve("src");
const graph = importGraph(root);
const show = (cycle: string[]) => cycle.map((f) => relative(root, f) || f).join(" -> ");

test("the walker: specifiers of every import form, cycles of small graphs", () => {
  const text = [
    'import { a } from "./a.js";',
    'import type { B } from "./b.js";',
    "import {\n  c,\n  d,\n} from './c.js';",
    'export * from "./e.js";',
    'export { f, type G } from "./f.js";',
    'import "./side-effect.js";',
    'const { h } = await import("./h.js");',
    'import { x } from "pkg";',
    "const s = `import(${name})`; // not a literal",
  ].join("\n");
  assert.equal(specifiersOf(text).sort(), ["./a.js", "./b.js", "./c.js", "./e.js", "./f.js", "./h.js", "./side-effect.js", "pkg"]);
  const g = (pairs: string[]) => {
    const m = new Map<string, string[]>();
    for (const p of pairs) {
      const [a, b] = p.split(">");
      if (!m.has(a)) m.set(a, []);
      if (!m.has(b)) m.set(b, []);
      m.get(a)!.push(b);
    }
    return m;
  };
  assert.equal(findCycles(g(["a>b", "b>c", "a>c"])), []);
  const [cycle, ...rest] = findCycles(g(["a>b", "b>c", "c>a", "c>d"]));
  assert.equal(rest, []);
  assert.is(cycle.length, 4);
  assert.is(cycle[0], cycle[3]);
  assert.equal([...cycle.slice(0, 3)].sort(), ["a", "b", "c"]);
  assert.equal(findCycles(g(["a>a"])), [["a", "a"]]);
  assert.is(findCycles(g(["a>b", "b>a", "c>d", "d>c"])).length, 2);
});

test("every relative import in src/ names a .ts file", () => {
  assert.ok(graph.edges.size > 100, `read ${graph.edges.size} files`);
  assert.equal(graph.unresolved, []);
});

test("no file in src/ imports itself through others", () => {
  const cycles = findCycles(graph.edges).map(show);
  for (const c of cycles) console.log(`import cycle: ${c}`);
  assert.equal(cycles, [], `import cycles:\n${cycles.join("\n")}`);
});

test("no folder of src/ imports another that imports it back", () => {
  const folders = folderGraph(graph, root);
  const cycles = findCycles(folders.edges).map((cycle) => {
    const steps = cycle.slice(1).map((b, i) => `${cycle[i]} -> ${b}`);
    return `${cycle.join(" -> ")} (${steps.map((s) => folders.because.get(s)![0]).join("; ")})`;
  });
  for (const c of cycles) console.log(`folder cycle: ${c}`);
  assert.equal(cycles, [], `folder import cycles:\n${cycles.join("\n")}`);
});

test.run();
