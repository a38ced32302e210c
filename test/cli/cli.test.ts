// The `prediction-poisoning` command, spawned: help for every subcommand, readable errors and
// non-zero exits for bad flags and bad config files.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const cli = (...args: string[]) => {
  const r = spawnSync(process.execPath, ["--import", "tsx", "src/cli/index.ts", ...args], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const dir = mkdtempSync(join(tmpdir(), "pp-cli-"));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

test("--help lists the subcommands; each subcommand has --help", () => {
  const root = cli("--help");
  assert.is(root.code, 0);
  for (const sub of ["serve", "bench"]) assert.match(root.out, new RegExp(`\\b${sub}\\b`));
  const serve = cli("serve", "--help");
  assert.is(serve.code, 0);
  for (const flag of ["--model", "--defense", "--epsilon", "--port", "--budget", "--redis", "--config", "--oracle"]) assert.match(serve.out, new RegExp(flag));
  const bench = cli("bench", "--help");
  assert.is(bench.code, 0);
  assert.match(bench.out, /--list/);
});

test("bad flags: one readable line and exit code 2", () => {
  // Parsers and config files are covered in process (config.test.ts); here, one of each path through the CLI.
  const cases: [string[], RegExp][] = [
    [["serve", "--port", "abc"], /--port <n>' argument 'abc' is invalid\. expected an integer/],
    [["serve", "--bogus"], /unknown option '--bogus'/],
    [["serve", "--defense", "topk", "--epsilon", "1"], /--epsilon does not apply to this defense \(its parameter flags: --k, --renormalize\)/],
    [["serve", "--defense", "mad-argmax", "--epsilon", "-1"], /parameter "epsilon"/],
    [["frobnicate"], /unknown command 'frobnicate'/],
    [["bench", "no-such-suite"], /unknown bench suite\(s\): no-such-suite; available: /],
  ];
  for (const [args, message] of cases) {
    const r = cli(...args);
    assert.is(r.code, 2, args.join(" ") + "\n" + r.err);
    assert.match(r.err, message, args.join(" "));
    assert.not.match(r.err, /\n\s+at /, "no stack trace");
  }
});

test("--config: values checked like flags, unknown keys and unreadable files named, exit 2", () => {
  const cases: [string, RegExp][] = [
    [file("port.json", '{"port": "abc"}'), /option "port": expected an integer, got "abc"/],
    [join(dir, "missing.json"), /missing\.json: cannot read it \(ENOENT\)/],
  ];
  for (const [path, message] of cases) {
    const r = cli("serve", "--config", path);
    assert.is(r.code, 2, path + "\n" + r.err);
    assert.match(r.err, message);
  }
  // Values from the file go through the same parsers: a defense parameter the defense lacks is caught too.
  const wrongParam = cli("serve", "--config", file("k.json", '{"defense": "mad-argmax", "k": 3}'));
  assert.is(wrongParam.code, 2);
  assert.match(wrongParam.err, /--k does not apply to this defense/);
  // A flag on the command line wins over the file.
  const override = cli("serve", "--config", file("port-ok.json", '{"port": "abc", "defense": "none"}'), "--port", "1", "--model", join(dir, "none"));
  assert.is(override.code, 1);
  assert.match(override.err, /no model\.json there/);
});

test("a missing model directory is a readable error with exit code 1", () => {
  const r = cli("serve", "--model", join(dir, "no-model"), "--defense", "none");
  assert.is(r.code, 1);
  assert.match(r.err, /--model .*no-model: no model\.json there/);
  assert.not.match(r.err, /\n\s+at /);
});

test("bench --list names the suites", () => {
  const r = cli("bench", "--list");
  assert.is(r.code, 0);
  assert.match(r.out, /\bservice\b/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
