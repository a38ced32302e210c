// Scratch buffers inside WASM memory, handed out by name. A region keeps its pointer until its
// owner asks for more than it has; growing memory detaches old views, so views are re-made lazily.

/** What the arena needs from the instance: its memory and a way to grow it. */
export interface GrowableMemory {
  memory: WebAssembly.Memory;
  /** Grows memory to at least `bytes`; false if the engine refuses. */
  ensure(bytes: number): boolean;
}

interface Region {
  ptr: number;
  bytes: number;
}

const ALIGN = 16;

export class ScratchArena {
  private readonly regions = new Map<string, Region>();
  private top: number;
  private buffer: ArrayBuffer;
  private readonly f64Views = new Map<string, Float64Array>();
  private readonly f32Views = new Map<string, Float32Array>();

  constructor(
    private readonly host: GrowableMemory,
    base: number,
  ) {
    this.top = align(base);
    this.buffer = host.memory.buffer;
  }

  /** A pointer to at least `bytes` bytes that stays valid until `key` asks for more. */
  reserve(key: string, bytes: number): number {
    const region = this.regions.get(key);
    if (region && region.bytes >= bytes) return region.ptr;
    // Grow geometrically so a slowly rising batch size does not leak a region per call.
    const size = align(Math.max(bytes, region ? region.bytes * 2 : 0, ALIGN));
    const ptr = this.top;
    if (!this.host.ensure(ptr + size)) throw new RangeError(`WASM memory cannot grow to ${ptr + size} bytes`);
    this.top = ptr + size;
    this.regions.set(key, { ptr, bytes: size });
    this.f64Views.delete(key);
    this.f32Views.delete(key);
    return ptr;
  }

  /** A Float64Array over the whole region `key` (cached; re-made after memory grows). */
  regionF64(key: string): Float64Array {
    this.refresh();
    let view = this.f64Views.get(key);
    if (!view) {
      const region = this.mustGet(key);
      view = new Float64Array(this.buffer, region.ptr, region.bytes >> 3);
      this.f64Views.set(key, view);
    }
    return view;
  }

  /** A Float32Array over the whole region `key` (cached; re-made after memory grows). */
  regionF32(key: string): Float32Array {
    this.refresh();
    let view = this.f32Views.get(key);
    if (!view) {
      const region = this.mustGet(key);
      view = new Float32Array(this.buffer, region.ptr, region.bytes >> 2);
      this.f32Views.set(key, view);
    }
    return view;
  }

  /** A fresh Float64Array view at ptr (invalid after the next reserve that grows memory). */
  f64(ptr: number, length: number): Float64Array {
    return new Float64Array(this.host.memory.buffer, ptr, length);
  }

  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.host.memory.buffer, ptr, length);
  }

  private refresh(): void {
    if (this.buffer !== this.host.memory.buffer) {
      this.buffer = this.host.memory.buffer;
      this.f64Views.clear();
      this.f32Views.clear();
    }
  }

  private mustGet(key: string): Region {
    const region = this.regions.get(key);
    if (!region) throw new Error(`scratch region ${key} was never reserved`);
    return region;
  }
}

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}
