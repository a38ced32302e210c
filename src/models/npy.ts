// The NPY array format (numpy.save): the magic "\x93NUMPY", a version (1.0, 2.0 or 3.0), a header
// length, a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (N, H, W), } and the
// values in C order. Pure: takes bytes, never touches files. Only what image data sets use is read:
// booleans, integers and floats of 1-8 bytes, either byte order, C order (fortran_order False).
import { ModelDataError, ModelInputError } from "./errors.js";

export type NpyDataType = "bool" | "uint8" | "int8" | "uint16" | "int16" | "uint32" | "int32" | "uint64" | "int64" | "float32" | "float64";
export type NpyData = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array;

export interface NpyArray {
  readonly shape: number[];
  readonly dataType: NpyDataType;
  /** The values in C order; 64-bit integers as float64 (an error when a value is not a safe integer). */
  readonly data: NpyData;
}

const KINDS: Record<string, Partial<Record<number, NpyDataType>>> = {
  b: { 1: "bool" },
  u: { 1: "uint8", 2: "uint16", 4: "uint32", 8: "uint64" },
  i: { 1: "int8", 2: "int16", 4: "int32", 8: "int64" },
  f: { 4: "float32", 8: "float64" },
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Parses an NPY file; throws naming what is wrong (`what` names the source). */
export function parseNpy(bytes: Uint8Array, what = "NPY data"): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    const gz = bytes[0] === 0x1f && bytes[1] === 0x8b ? " (it is gzip-compressed: decompress it first)" : "";
    const npz = bytes[0] === 0x50 && bytes[1] === 0x4b ? " (it is a zip archive: an .npz? save each array with numpy.save)" : "";
    throw new ModelDataError(`${what}: not an NPY file (no \\x93NUMPY magic)${gz}${npz}`);
  }
  const major = bytes[6];
  if (major !== 1 && major !== 2 && major !== 3) throw new ModelDataError(`${what}: NPY format version ${major}.${bytes[7]} is not supported (1.0, 2.0 and 3.0 are)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lengthBytes) throw new ModelDataError(`${what}: truncated NPY header`);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = 8 + lengthBytes + headerLength;
  if (bytes.length < dataStart) throw new ModelDataError(`${what}: truncated NPY header (needs ${dataStart} bytes, file has ${bytes.length})`);
  // Versions 1 and 2 write the header in latin-1, version 3 in UTF-8; the keys and values read here are ASCII.
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(bytes.subarray(8 + lengthBytes, dataStart));
  const { descr, fortranOrder, shape } = parseHeader(header, what);
  if (fortranOrder) throw new ModelDataError(`${what}: the array is in Fortran order (fortran_order: True); save it with numpy.save(path, numpy.ascontiguousarray(a))`);
  const m = /^([<>|=])([a-zA-Z])(\d+)$/.exec(descr);
  const dataType = m ? KINDS[m[2]]?.[Number(m[3])] : undefined;
  if (!m || !dataType) {
    throw new ModelDataError(`${what}: dtype '${descr}' is not supported (booleans, integers and floats: |u1, |i1, <i4, <i8, <f4, <f8, ...; not strings, objects or structured dtypes)`);
  }
  const size = Number(m[3]);
  const littleEndian = m[1] !== ">";
  const count = shape.reduce((a, b) => a * b, 1);
  const expected = dataStart + count * size;
  if (!Number.isSafeInteger(expected)) throw new ModelDataError(`${what}: shape (${shape.join(", ")}) is implausibly large`);
  if (bytes.length < expected) {
    throw new ModelDataError(`${what}: truncated NPY data: shape (${shape.join(", ")}) of ${descr} needs ${expected} bytes, file has ${bytes.length}`);
  }
  if (bytes.length > expected) throw new ModelDataError(`${what}: ${bytes.length - expected} unexpected bytes after the data of shape (${shape.join(", ")}) (corrupt file?)`);
  return { shape, dataType, data: decode(view, dataStart, count, dataType, littleEndian, what) };
}

function parseHeader(header: string, what: string): { descr: string; fortranOrder: boolean; shape: number[] } {
  const text = header.trim();
  if (!text.startsWith("{") || !text.endsWith("}")) throw new ModelDataError(`${what}: the NPY header is not a dict literal: ${JSON.stringify(text.slice(0, 80))}`);
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(text);
  if (!descr) {
    const structured = /['"]descr['"]\s*:\s*\[/.test(text) ? " (a structured dtype: save a plain numeric array)" : "";
    throw new ModelDataError(`${what}: the NPY header has no 'descr' string${structured}`);
  }
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text);
  if (!fortran) throw new ModelDataError(`${what}: the NPY header has no 'fortran_order'`);
  const shape = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text);
  if (!shape) throw new ModelDataError(`${what}: the NPY header has no 'shape' tuple`);
  const dims = shape[1].split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  if (!dims.every((d) => /^\d+L?$/.test(d))) throw new ModelDataError(`${what}: the NPY shape (${shape[1]}) is not a tuple of non-negative integers`);
  return { descr: descr[1], fortranOrder: fortran[1] === "True", shape: dims.map((d) => Number.parseInt(d, 10)) };
}

function decode(view: DataView, offset: number, count: number, type: NpyDataType, little: boolean, what: string): NpyData {
  switch (type) {
    case "bool":
    case "uint8":
      return new Uint8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case "int8":
      return new Int8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
  }
  const out =
    type === "uint16" ? new Uint16Array(count) : type === "int16" ? new Int16Array(count) : type === "uint32" ? new Uint32Array(count) :
    type === "int32" ? new Int32Array(count) : type === "float32" ? new Float32Array(count) : new Float64Array(count);
  for (let i = 0; i < count; i++) {
    if (type === "uint16") out[i] = view.getUint16(offset + 2 * i, little);
    else if (type === "int16") out[i] = view.getInt16(offset + 2 * i, little);
    else if (type === "uint32") out[i] = view.getUint32(offset + 4 * i, little);
    else if (type === "int32") out[i] = view.getInt32(offset + 4 * i, little);
    else if (type === "float32") out[i] = view.getFloat32(offset + 4 * i, little);
    else if (type === "float64") out[i] = view.getFloat64(offset + 8 * i, little);
    else {
      const v = type === "int64" ? view.getBigInt64(offset + 8 * i, little) : view.getBigUint64(offset + 8 * i, little);
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw new ModelDataError(`${what}: value ${v} at index ${i} is too large for an exact number`);
      out[i] = Number(v);
    }
  }
  return out;
}

const DESCR: Record<NpyDataType, string> = {
  bool: "|b1", uint8: "|u1", int8: "|i1", uint16: "<u2", int16: "<i2", uint32: "<u4", int32: "<i4", uint64: "<u8", int64: "<i8", float32: "<f4", float64: "<f8",
};

/** Encodes a version 1.0 NPY file, little-endian, C order (tests and tools write small fixtures with it). */
export function encodeNpy(shape: readonly number[], dataType: NpyDataType, values: ArrayLike<number>): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (values.length !== count) throw new ModelInputError(`encodeNpy: shape (${shape.join(", ")}) needs ${count} values, got ${values.length}`);
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '${DESCR[dataType]}', 'fortran_order': False, 'shape': ${tuple}, }`;
  // numpy pads the header with spaces and a newline so that the data starts on a 64-byte boundary.
  const unpadded = 10 + header.length + 1;
  header += " ".repeat((64 - (unpadded % 64)) % 64) + "\n";
  const size = Number(DESCR[dataType].slice(2));
  const out = new Uint8Array(10 + header.length + count * size);
  out.set([...MAGIC, 1, 0]);
  const view = new DataView(out.buffer);
  view.setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const base = 10 + header.length;
  for (let i = 0; i < count; i++) {
    const v = values[i];
    const at = base + i * size;
    if (dataType === "bool" || dataType === "uint8") view.setUint8(at, v);
    else if (dataType === "int8") view.setInt8(at, v);
    else if (dataType === "uint16") view.setUint16(at, v, true);
    else if (dataType === "int16") view.setInt16(at, v, true);
    else if (dataType === "uint32") view.setUint32(at, v, true);
    else if (dataType === "int32") view.setInt32(at, v, true);
    else if (dataType === "uint64") view.setBigUint64(at, BigInt(v), true);
    else if (dataType === "int64") view.setBigInt64(at, BigInt(v), true);
    else if (dataType === "float32") view.setFloat32(at, v, true);
    else view.setFloat64(at, v, true);
  }
  return out;
}
