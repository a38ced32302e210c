// The shared CLI plumbing in process: argument parsers and --config files applied to a command.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command, Option } from "commander";
import { applyConfig, bytesArg, integerArg, keyValueArg, numberArg, rangeArg, withConfigFile } from "../../src/cli/config.js";

const dir = mkdtempSync(join(tmpdir(), "pp-config-"));
let n = 0;
const config = (value: unknown) => {
  const path = join(dir, `c${n++}.json`);
  writeFileSync(path, typeof value === "string" ? value : JSON.stringify(value));
  return path;
};

function command() {
  return new Command("demo")
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: () => {} })
    .option("--port <n>", "port", integerArg(0, 65535), 8080)
    .option("--epsilon <x>", "epsilon", numberArg(0))
    .option("--max-body <size>", "size", bytesArg(64))
    .option("--input-range <r>", "range", rangeArg)
    .addOption(new Option("--outputs <kind>").choices(["logits", "probabilities"]).default("logits"))
    .option("--demo", "a switch")
    .option("--no-color", "negatable")
    .option("--tag <t...>", "variadic");
}

test("parsers accept good values and name the expectation for bad ones", () => {
  assert.is(integerArg(0, 10)("7"), 7);
  assert.throws(() => integerArg(0, 10)("7.5"), /expected an integer, got "7.5"/);
  assert.throws(() => integerArg(0, 10)("11"), /in \[0, 10\], got 11/);
  assert.throws(() => integerArg()(""), /expected an integer/);
  assert.is(numberArg(0)("0.25"), 0.25);
  assert.throws(() => numberArg(0)("NaN"), /expected a number/);
  assert.throws(() => numberArg(0)("-1"), /in \[0, Infinity\]/);
  assert.is(bytesArg()("512k"), 512 * 1024);
  assert.is(bytesArg()("8m"), 8 * 1024 * 1024);
  assert.is(bytesArg()("65536"), 65536);
  assert.throws(() => bytesArg()("lots"), /expected a size like/);
  assert.throws(() => bytesArg(64)("10"), /at least 64 bytes/);
  assert.equal(rangeArg("0,1"), [0, 1]);
  assert.equal(rangeArg("-1, 1"), [-1, 1]);
  assert.is(rangeArg("none"), null);
  assert.throws(() => rangeArg("1,0"), /min <= max/);
  assert.throws(() => rangeArg("0"), /min,max/);
  assert.equal(keyValueArg("k=3", { a: "1" }), { a: "1", k: "3" });
  assert.throws(() => keyValueArg("k", undefined), /key=value/);
});

test("a config file fills options through their parsers; flags on the command line win", async () => {
  const cmd = command();
  await cmd.parseAsync(["--port", "9000"], { from: "user" });
  applyConfig(cmd, config({ port: 1234, epsilon: "0.5", "max-body": "1m", inputRange: "none", outputs: "probabilities", demo: true, color: false, tag: ["a", "b"] }));
  const o = cmd.opts();
  assert.is(o.port, 9000, "the flag wins");
  assert.is(o.epsilon, 0.5);
  assert.is(o.maxBody, 1024 * 1024);
  assert.is(o.inputRange, null);
  assert.is(o.outputs, "probabilities");
  assert.is(o.demo, true);
  assert.is(o.color, false);
  assert.equal(o.tag, ["a", "b"]);
  assert.is(cmd.getOptionValueSource("epsilon"), "config");
});

test("config errors name the file, the option and the problem", async () => {
  const cases: [unknown, RegExp][] = [
    [{ port: "abc" }, /option "port": expected an integer, got "abc"/],
    [{ port: 70000 }, /option "port": expected an integer in \[0, 65535\], got 70000/],
    [{ epsilonn: 1 }, /unknown option "epsilonn" for `demo` \(known: port, epsilon, max-body, input-range, outputs, demo, color, tag\)/],
    [{ outputs: "logprobs" }, /option "outputs": "logprobs" is not one of logits, probabilities/],
    [{ demo: "yes" }, /option "demo": expected true or false, got "yes"/],
    [{ epsilon: { x: 1 } }, /option "epsilon": expected a string or number/],
    ['{"port": 80', /not valid JSON/],
    ["[1]", /expected a JSON object/],
  ];
  for (const [value, message] of cases) {
    const cmd = command();
    await cmd.parseAsync([], { from: "user" });
    const path = config(value);
    assert.throws(() => applyConfig(cmd, path), (e: Error) => message.test(e.message) && e.message.includes(path));
  }
  assert.throws(() => applyConfig(command(), join(dir, "absent.json")), /absent\.json: cannot read it \(ENOENT\)/);
});

test("withConfigFile adds --config and applies it before the action", async () => {
  let seen: Record<string, unknown> = {};
  const cmd = withConfigFile(command().action((opts) => void (seen = opts)));
  await cmd.parseAsync(["--config", config({ epsilon: 2 })], { from: "user" });
  assert.is(seen.epsilon, 2);
  const bad = withConfigFile(command().action(() => {}));
  const err = await bad.parseAsync(["--config", config({ port: "x" })], { from: "user" }).catch((e) => e);
  assert.is(err.exitCode, 2);
  assert.match(err.message, /option "port": expected an integer/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
