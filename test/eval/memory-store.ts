// The evaluation's output directory in memory, for the runner tests.
import type { EvalStore } from "../../src/eval/runner.js";

export class MemoryStore implements EvalStore {
  readonly files = new Map<string, string | Float32Array>();
  async readText(name: string) {
    const v = this.files.get(name);
    return typeof v === "string" ? v : null;
  }
  async writeText(name: string, text: string) {
    this.files.set(name, text);
  }
  async readFloats(name: string) {
    const v = this.files.get(name);
    return v instanceof Float32Array ? v.slice() : null;
  }
  async writeFloats(name: string, data: Float32Array) {
    this.files.set(name, data.slice());
  }
  where(name: string) {
    return `memory:${name}`;
  }
}
