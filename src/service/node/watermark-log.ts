// The watermark log: every watermarked answer the server gave (the input and the label it returned), for
// `prediction-poisoning verify`. Either a directory or a Redis list shared by every replica.
//   Directory: one file per writer (process × worker thread × start), DIR/wm-<pid>-<thread>-<random>.jsonl,
//   opened O_APPEND with mode 0600; each batch's records go out in one write(2) of whole JSON lines, so
//   writers never interleave inside a line and nothing is lost when several threads and processes write.
//   Redis: RPUSH of the same JSON lines onto one list (default key "pp:watermarks").
// One line: {"v":1,"time","kind":"label"|"soft",["keying":"class"|"input",]"shape":[...],"classes":K,"label":w,"victimLabel":c,"victimProb":y_w,
// "input":base64 float32 LE} (no "kind": a label mark).
// The log holds the queries and their watermark labels: keep it as private as the key file.
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { threadId } from "node:worker_threads";
import { Redis } from "ioredis";
import type { WatermarkRecord } from "../../defenses/watermark.js";
import type { WatermarkEntry } from "../../defenses/watermark-verify.js";
import { redactUrl } from "./redis-budgets.js";

export const DEFAULT_REDIS_KEY = "pp:watermarks";
const FILE_PATTERN = /^wm-.*\.jsonl$/;

export type { WatermarkEntry } from "../../defenses/watermark-verify.js";

export interface WatermarkSink {
  append(records: readonly WatermarkRecord[]): Promise<void>;
  close(): Promise<void>;
}

export type WatermarkLogTarget = { readonly dir: string } | { readonly redis: string; readonly key?: string };

function encode(values: Float32Array): string {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i], true);
  return Buffer.from(bytes).toString("base64");
}

function decode(base64: string): Float32Array {
  const bytes = Buffer.from(base64, "base64");
  if (bytes.length % 4 !== 0) throw new Error("input is not float32 data");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

export function formatRecord(r: WatermarkRecord): string {
  return JSON.stringify({
    v: 1,
    time: new Date().toISOString(),
    kind: r.kind ?? "label",
    ...(r.keying ? { keying: r.keying } : {}),
    shape: r.inputShape,
    classes: r.numClasses,
    label: r.label,
    victimLabel: r.victimLabel,
    victimProb: r.victimProb,
    input: encode(r.input),
  });
}

/** Parses one log line; throws on anything malformed. */
export function parseRecord(line: string): WatermarkEntry {
  const o = JSON.parse(line) as Record<string, unknown>;
  const shape = o.shape as number[];
  if (o.v !== 1 || !Array.isArray(shape) || typeof o.classes !== "number" || typeof o.label !== "number" || typeof o.input !== "string") {
    throw new Error("not a watermark record");
  }
  if (o.kind !== undefined && o.kind !== "label" && o.kind !== "soft") throw new Error(`unknown watermark kind ${JSON.stringify(o.kind)}`);
  if (o.keying !== undefined && o.keying !== "class" && o.keying !== "input") throw new Error(`unknown soft-mark keying ${JSON.stringify(o.keying)}`);
  const input = decode(o.input);
  if (input.length !== shape.reduce((a, b) => a * b, 1)) throw new Error(`input has ${input.length} values, shape [${shape}] needs ${shape.reduce((a, b) => a * b, 1)}`);
  return {
    kind: (o.kind as "label" | "soft" | undefined) ?? "label",
    keying: o.keying as "class" | "input" | undefined,
    input,
    inputShape: shape,
    numClasses: o.classes,
    label: o.label,
    victimLabel: typeof o.victimLabel === "number" ? o.victimLabel : undefined,
    victimProb: typeof o.victimProb === "number" ? o.victimProb : undefined,
  };
}

/** An append-only file of this writer's own in `dir` (created lazily on the first record). */
export class FileWatermarkLog implements WatermarkSink {
  private fd?: number;
  readonly path: string;

  constructor(readonly dir: string) {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`watermark log ${dir}: not a directory (create it first)`);
    this.path = join(dir, `wm-${process.pid}-${threadId}-${randomBytes(4).toString("hex")}.jsonl`);
  }

  async append(records: readonly WatermarkRecord[]): Promise<void> {
    if (records.length === 0) return;
    this.fd ??= openSync(this.path, "a", 0o600);
    const text = Buffer.from(records.map(formatRecord).join("\n") + "\n");
    // One write(2) of whole lines (O_APPEND: the offset is the file's end, atomically); loop only on a short write.
    let done = 0;
    while (done < text.length) done += writeSync(this.fd, text, done, text.length - done);
  }

  async close(): Promise<void> {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

export class RedisWatermarkLog implements WatermarkSink {
  private constructor(
    private readonly redis: Redis,
    readonly key: string,
  ) {}

  static async connect(url: string, key = DEFAULT_REDIS_KEY): Promise<RedisWatermarkLog> {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2, connectTimeout: 5000 });
    redis.on("error", () => {});
    try {
      await redis.connect();
      await redis.ping();
    } catch (e) {
      redis.disconnect();
      throw new Error(`cannot reach Redis at ${redactUrl(url)}: ${e instanceof Error ? e.message : String(e)}`);
    }
    return new RedisWatermarkLog(redis, key);
  }

  async append(records: readonly WatermarkRecord[]): Promise<void> {
    if (records.length) await this.redis.rpush(this.key, ...records.map(formatRecord));
  }

  /** Every entry so far, in order. */
  async readAll(): Promise<WatermarkEntry[]> {
    const lines = await this.redis.lrange(this.key, 0, -1);
    return lines.map((l, i) => {
      try {
        return parseRecord(l);
      } catch (e) {
        throw new Error(`watermark log ${this.key} entry ${i}: ${(e as Error).message}`);
      }
    });
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

export async function openWatermarkLog(target: WatermarkLogTarget): Promise<WatermarkSink> {
  return "dir" in target ? new FileWatermarkLog(target.dir) : RedisWatermarkLog.connect(target.redis, target.key);
}

export interface ReadLog {
  readonly entries: WatermarkEntry[];
  readonly files: number;
  /** Lines that did not parse (e.g. a last line cut short by a crash); skipped. */
  readonly skipped: number;
}

/** Every entry of every writer's file in `dir` (files in name order, lines in order). */
export function readWatermarkDir(dir: string): ReadLog {
  if (!existsSync(dir)) throw new Error(`watermark log ${dir}: no such directory`);
  if (!statSync(dir).isDirectory()) throw new Error(`watermark log ${dir}: not a directory`);
  const files = readdirSync(dir).filter((f) => FILE_PATTERN.test(f)).sort();
  const entries: WatermarkEntry[] = [];
  let skipped = 0;
  for (const f of files) {
    for (const line of readFileSync(join(dir, f), "utf8").split("\n")) {
      if (!line.trim()) continue;
      try {
        entries.push(parseRecord(line));
      } catch {
        skipped++;
      }
    }
  }
  return { entries, files: files.length, skipped };
}
