// `evaluate --help` names every thief and defense the registries know (its lists are written out so
// that --help loads no model code).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { thiefNames } from "../../src/thieves/registry.js";
import { listDefenses } from "../../src/defenses/index.js";

test("the --attacks and --defenses help lists are the registries' names", () => {
  const help = execFileSync(process.execPath, ["--import", "tsx", "src/cli/index.ts", "evaluate", "--help"], { encoding: "utf8" }).replace(/\s+/g, " ");
  const listed = (flag: string) => {
    const match = new RegExp(`${flag} <list> [a-z, ]*?comma-separated: ([a-z0-9,-]+)`).exec(help);
    assert.ok(match, `no list in the help of ${flag}`);
    return match![1].split(",").sort();
  };
  assert.equal(listed("--attacks"), thiefNames().sort());
  assert.equal(listed("--defenses"), listDefenses().map((d) => d.name).sort());
});

test.run();
