// The watermark log (src/service/node/watermark-log.ts): two writer processes appending to one directory at
// once lose nothing and never interleave inside a line; files are mode 0600; records round-trip; a line cut
// short is skipped, not fatal; the Redis list shared by two writers (when redis-server is installed).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { FileWatermarkLog, readWatermarkDir, RedisWatermarkLog } from "../../src/service/node/watermark-log.js";
import type { WatermarkRecord } from "../../src/defenses/watermark.js";
import { startRedis } from "./redis-server.js";
import { needs } from "../tools.js";

const dir = mkdtempSync(join(tmpdir(), "pp-wmlog-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const record = (writer: number, i: number): WatermarkRecord => ({
  input: Float32Array.from({ length: 784 }, (_, j) => (j === 0 ? writer : j === 1 ? i : (i * j) % 7 / 7)),
  inputShape: [28, 28, 1],
  numClasses: 10,
  label: i % 10,
  victimLabel: (i + 1) % 10,
  victimProb: 0.01,
});

test("log: two writer processes appending concurrently to one directory lose nothing", async () => {
  const logDir = join(dir, "two");
  freshDir(logDir);
  const BATCHES = 200;
  const PER = 5;
  const script = join(dir, "writer.mts");
  writeFileSync(
    script,
    `import { FileWatermarkLog } from ${JSON.stringify(resolve("src/service/node/watermark-log.ts"))};
const [dir, writer, batches, per] = process.argv.slice(2).map((a, i) => (i === 0 ? a : Number(a)));
const log = new FileWatermarkLog(dir as string);
for (let b = 0; b < (batches as number); b++) {
  const records = Array.from({ length: per as number }, (_, k) => {
    const i = b * (per as number) + k;
    return { input: Float32Array.from({ length: 784 }, (_, j) => (j === 0 ? (writer as number) : j === 1 ? i : ((i * j) % 7) / 7)), inputShape: [28, 28, 1], numClasses: 10, label: i % 10, victimLabel: (i + 1) % 10, victimProb: 0.01 };
  });
  await log.append(records);
  if (b % 20 === 0) await new Promise((r) => setImmediate(r));
}
await log.close();
`,
  );
  const run = (writer: number) =>
    new Promise<number | null>((done) => {
      const child = spawn(process.execPath, ["--import", "tsx", script, logDir, String(writer), String(BATCHES), String(PER)], { stdio: "inherit" });
      child.once("exit", (code) => done(code));
    });
  const codes = await Promise.all([run(1), run(2)]);
  assert.equal(codes, [0, 0]);
  const read = readWatermarkDir(logDir);
  assert.is(read.skipped, 0);
  assert.is(read.files, 2);
  assert.is(read.entries.length, 2 * BATCHES * PER);
  for (const writer of [1, 2]) {
    const mine = read.entries.filter((e) => e.input[0] === writer).map((e) => e.input[1]);
    assert.equal(mine, Array.from({ length: BATCHES * PER }, (_, i) => i), `writer ${writer}: every record, in order`);
  }
  for (const f of readdirSync(logDir)) assert.is(statSync(join(logDir, f)).mode & 0o777, 0o600);
});

test("log: two writers in one process (two worker threads' worth) share a directory; a torn last line is skipped", async () => {
  const logDir = join(dir, "one");
  freshDir(logDir);
  const a = new FileWatermarkLog(logDir);
  const b = new FileWatermarkLog(logDir);
  assert.is.not(a.path, b.path);
  await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).append([record(i % 2, i)])));
  await a.close();
  await b.close();
  appendFileSync(b.path, '{"v":1,"shape":[28,28');
  const read = readWatermarkDir(logDir);
  assert.is(read.entries.length, 50);
  assert.is(read.skipped, 1);
  const e = read.entries.find((x) => x.input[1] === 7)!;
  assert.equal(Array.from(e.input), Array.from(record(1, 7).input));
  assert.is(e.label, 7);
  assert.is(e.victimLabel, 8);
  assert.throws(() => readWatermarkDir(join(dir, "missing")), /no such directory/);
  assert.throws(() => new FileWatermarkLog(join(dir, "missing")), /not a directory/);
});

needs("redis-server", test)("log: a Redis list shared by two writers", async () => {
  const redis = await startRedis();
  if (!redis) throw new Error("redis-server did not start");
  try {
    const [a, b] = await Promise.all([RedisWatermarkLog.connect(redis.url, "t:wm"), RedisWatermarkLog.connect(redis.url, "t:wm")]);
    await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).append([record(i % 2, i), record(i % 2, i + 1000)])));
    const all = await a.readAll();
    assert.is(all.length, 80);
    assert.is(new Set(all.map((e) => `${e.input[0]}:${e.input[1]}`)).size, 80);
    await a.close();
    await b.close();
  } finally {
    await redis.stop();
  }
});

function freshDir(d: string) {
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d);
}

test.run();
