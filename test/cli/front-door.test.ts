// The front door as the documentation writes it: every command line in the README's and docs/'s sh
// blocks names a subcommand that `--help` answers through the package's launcher (bin/, what
// `npx prediction-poisoning` runs where the package is installed) and through `npm run cli`, which is
// what works in a clone (`npm ci` does not link a package's own bin). And evaluate checks its flags
// before training anything.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const launcher = "bin/prediction-poisoning.mjs";
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [launcher, ...args], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

const docs = ["README.md", ...readdirSync("docs").filter((f) => f.endsWith(".md")).map((f) => join("docs", f))];
const command = /(npx prediction-poisoning|npm run(?: -s| --silent)? cli --) ([a-z][a-z-]*)/;

/** Every line of a fenced sh block that runs the command: [file, line, how, subcommand]. */
function documentedCommands(): [string, string, string, string][] {
  const found: [string, string, string, string][] = [];
  for (const file of docs) {
    let inSh = false;
    for (const line of readFileSync(file, "utf8").split("\n")) {
      if (/^\s*```/.test(line)) {
        inSh = !inSh && /^\s*```(sh|bash|shell)\s*$/.test(line);
        continue;
      }
      const m = inSh ? command.exec(line) : null;
      if (m) found.push([file, line.trim(), m[1], m[2]]);
    }
  }
  return found;
}

test("the documented command lines: no npx in a clone, every subcommand answers --help", () => {
  const found = documentedCommands();
  for (const file of ["README.md", "docs/DEPLOY.md", "docs/MODELS.md"]) assert.ok(found.some(([f]) => f === file), `no command line found in ${file}`);
  // `npx prediction-poisoning` does not resolve in a fresh clone (npm ci links no bin of the package itself).
  const npx = found.filter(([, , how]) => how.startsWith("npx"));
  assert.equal(npx.map(([f, l]) => `${f}: ${l}`), [], "sh blocks use npm run cli -- (the clone's command)");
  const subcommands = [...new Set(found.map(([, , , sub]) => sub))];
  assert.ok(subcommands.includes("evaluate") && subcommands.includes("serve"), subcommands.join(", "));
  for (const sub of subcommands) {
    const r = run(sub, "--help");
    const where = found.filter(([, , , s]) => s === sub).map(([f]) => f).join(", ");
    assert.is(r.code, 0, `${sub} --help (documented in ${where})\n${r.err}`);
    assert.match(r.out, new RegExp(`^Usage: prediction-poisoning ${sub} `, "m"), sub);
  }
});

test("npm run cli (with precli's ensure-built) answers --help", () => {
  const r = spawnSync("npm", ["run", "-s", "cli", "--", "perturb", "--help"], { encoding: "utf8", timeout: 60_000 });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Usage: prediction-poisoning perturb /);
  const scripts = JSON.parse(readFileSync("package.json", "utf8")).scripts as Record<string, string>;
  assert.match(scripts.precli, /ensure-built/);
});

test("evaluate: bad --thief-params and --grid are flag errors (exit 2) before the victim is trained", () => {
  const cache = mkdtempSync(join(tmpdir(), "pp-front-door-"));
  try {
    const cases: [string[], RegExp][] = [
      [["--thief-params", "knockoff:epochs=abc"], /^error: --thief-params knockoff:epochs=abc: thief "knockoff": parameter "epochs"/m],
      [["--thief-params", "knockoff:bogus=1"], /^error: --thief-params knockoff:bogus=1: .*"bogus"/m],
      [["--thief-params", "jbtop3:k=5"], /^error: --thief-params jbtop3:k=5: .*"k" is fixed/m],
      [["--thief-params", "nope:epochs=1"], /^error: --thief-params nope:epochs=1: unknown thief "nope"/m],
      [["--grid", "mad:epsilon=-1"], /^error: --grid mad:epsilon=-1: defense "mad": parameter "epsilon"/m],
      [["--grid", "mad:bogus=0.1,0.2"], /^error: --grid mad:bogus=0.1,0.2: .*unknown parameter/m],
      [["--grid", "topk:k=1"], /^error: --grid topk:k=1: "topk" is not among the defenses/m],
    ];
    for (const [args, message] of cases) {
      const started = Date.now();
      const r = run("evaluate", "--cache-dir", cache, "--out", join(cache, "out"), ...args);
      assert.is(r.code, 2, args.join(" ") + "\n" + r.err);
      assert.match(r.err, message, args.join(" ") + "\n" + r.err);
      assert.not.match(r.err, /\n\s+at /, "no stack trace");
      assert.not.match(r.out, /training the victim/, "fails before any work");
      assert.ok(Date.now() - started < 20_000, `${args.join(" ")}: took ${Date.now() - started} ms`);
    }
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

test.run();
