// The IDX file format (MNIST, Fashion-MNIST): a 4-byte magic (0, 0, type code, rank), `rank`
// big-endian uint32 dimensions, then the values big-endian. Pure: takes bytes, never touches files.
import { ModelDataError, ModelInputError } from "./errors.js";

export type IdxDataType = "uint8" | "int8" | "int16" | "int32" | "float32" | "float64";
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

const TYPES: Record<number, { type: IdxDataType; bytes: number }> = {
  0x08: { type: "uint8", bytes: 1 },
  0x09: { type: "int8", bytes: 1 },
  0x0b: { type: "int16", bytes: 2 },
  0x0c: { type: "int32", bytes: 4 },
  0x0d: { type: "float32", bytes: 4 },
  0x0e: { type: "float64", bytes: 8 },
};

export interface IdxArray {
  dims: number[];
  dataType: IdxDataType;
  data: IdxData;
}

/** Parses an (uncompressed) IDX file; throws naming what is wrong (`what` names the source). */
export function parseIdx(bytes: Uint8Array, what = "IDX data"): IdxArray {
  if (bytes.length < 4) throw new ModelDataError(`${what}: ${bytes.length} bytes is too short for an IDX header (truncated or not IDX)`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const gz = bytes[0] === 0x1f && bytes[1] === 0x8b ? " (it is gzip-compressed: decompress it first)" : "";
    throw new ModelDataError(`${what}: bad IDX magic ${Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ")}${gz}`);
  }
  const kind = TYPES[bytes[2]];
  if (!kind) throw new ModelDataError(`${what}: unknown IDX element type code 0x${bytes[2].toString(16)}`);
  const rank = bytes[3];
  if (rank < 1) throw new ModelDataError(`${what}: IDX rank must be at least 1, got ${rank}`);
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) throw new ModelDataError(`${what}: truncated IDX header (needs ${headerBytes} bytes for ${rank} dimensions, has ${bytes.length})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < rank; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  const expected = headerBytes + count * kind.bytes;
  if (!Number.isSafeInteger(expected)) throw new ModelDataError(`${what}: IDX dimensions [${dims}] are implausibly large`);
  if (bytes.length < expected) {
    throw new ModelDataError(`${what}: truncated IDX data: dimensions [${dims}] of ${kind.type} need ${expected} bytes, file has ${bytes.length}`);
  }
  if (bytes.length > expected) {
    throw new ModelDataError(`${what}: ${bytes.length - expected} unexpected bytes after the IDX data for dimensions [${dims}] (corrupt file?)`);
  }
  return { dims, dataType: kind.type, data: decode(view, headerBytes, count, kind.type) };
}

function decode(view: DataView, offset: number, count: number, type: IdxDataType): IdxData {
  const bytes = new Uint8Array(view.buffer, view.byteOffset + offset, count * TYPES[typeCode(type)].bytes);
  switch (type) {
    case "uint8":
      return bytes.slice();
    case "int8":
      return new Int8Array(bytes.slice().buffer);
  }
  const out = type === "int16" ? new Int16Array(count) : type === "int32" ? new Int32Array(count) : type === "float32" ? new Float32Array(count) : new Float64Array(count);
  for (let i = 0; i < count; i++) {
    // IDX is big-endian
    if (type === "int16") out[i] = view.getInt16(offset + 2 * i, false);
    else if (type === "int32") out[i] = view.getInt32(offset + 4 * i, false);
    else if (type === "float32") out[i] = view.getFloat32(offset + 4 * i, false);
    else out[i] = view.getFloat64(offset + 8 * i, false);
  }
  return out;
}

function typeCode(type: IdxDataType): number {
  return Number(Object.keys(TYPES).find((k) => TYPES[Number(k)].type === type));
}

/** Encodes an IDX file (tests and tools write small fixtures with it). */
export function encodeIdx(dims: number[], dataType: IdxDataType, values: ArrayLike<number>): Uint8Array {
  const code = typeCode(dataType);
  const size = TYPES[code].bytes;
  const count = dims.reduce((a, b) => a * b, 1);
  if (values.length !== count) throw new ModelInputError(`encodeIdx: dimensions [${dims}] need ${count} values, got ${values.length}`);
  const out = new Uint8Array(4 + 4 * dims.length + count * size);
  const view = new DataView(out.buffer);
  out[2] = code;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const base = 4 + 4 * dims.length;
  for (let i = 0; i < count; i++) {
    const v = values[i];
    if (dataType === "uint8") view.setUint8(base + i, v);
    else if (dataType === "int8") view.setInt8(base + i, v);
    else if (dataType === "int16") view.setInt16(base + 2 * i, v, false);
    else if (dataType === "int32") view.setInt32(base + 4 * i, v, false);
    else if (dataType === "float32") view.setFloat32(base + 4 * i, v, false);
    else view.setFloat64(base + 8 * i, v, false);
  }
  return out;
}
