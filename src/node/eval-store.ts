// The evaluation's file storage: the output directory (results, reports, plots and cached answers)
// and the victim models cached between runs (.cache/victims/<key>/).
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { EvalStore } from "../eval/runner.js";
import type { VictimStore } from "../eval/setup.js";
import { loadLayersModelFromDir, saveModelToDir } from "./model-files.js";
import { FileError } from "./errors.js";

/** Writes go to a temporary file first and are renamed into place, so a killed run never leaves half a file. */
function writeAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

export class FileEvalStore implements EvalStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
    mkdirSync(this.dir, { recursive: true });
  }

  where(name: string): string {
    return join(this.dir, name);
  }

  async readText(name: string): Promise<string | null> {
    const path = this.where(name);
    return existsSync(path) ? readFileSync(path, "utf8") : null;
  }

  async writeText(name: string, text: string): Promise<void> {
    writeAtomic(this.where(name), text);
  }

  async readFloats(name: string): Promise<Float32Array | null> {
    const path = this.where(name);
    if (!existsSync(path)) return null;
    const bytes = readFileSync(path);
    if (bytes.byteLength % 4 !== 0) throw new FileError(path, `${path}: ${bytes.byteLength} bytes is not a whole number of float32 values (delete it to recompute)`);
    // Copy into a fresh, aligned buffer (Buffer pools may start at an odd offset).
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  }

  async writeFloats(name: string, data: Float32Array): Promise<void> {
    writeAtomic(this.where(name), new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
}

export class FileVictimStore implements VictimStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  where(key: string): string {
    return join(this.dir, key);
  }

  async load(key: string) {
    const dir = this.where(key);
    return existsSync(join(dir, "model.json")) ? loadLayersModelFromDir(dir) : null;
  }

  async save(key: string, model: Parameters<typeof saveModelToDir>[0]): Promise<void> {
    await saveModelToDir(model, this.where(key));
  }
}
