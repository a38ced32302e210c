// The NPY parser: the three header versions, every supported dtype in both byte orders, and a readable
// error for each way a file can be wrong (magic, version, dtype, Fortran order, shape, size).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { encodeNpy, parseNpy } from "../../src/models/npy.js";

/** An NPY file written by hand: `version` 1, 2 or 3, any header text, raw data bytes. */
function npyFile(version: 1 | 2 | 3, header: string, data: Uint8Array): Uint8Array {
  const head = new TextEncoder().encode(header);
  const lengthBytes = version === 1 ? 2 : 4;
  const out = new Uint8Array(8 + lengthBytes + head.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, head.length, true);
  else view.setUint32(8, head.length, true);
  out.set(head, 8 + lengthBytes);
  out.set(data, 8 + lengthBytes + head.length);
  return out;
}

const throwsWith = (fn: () => unknown, pattern: RegExp) => {
  try {
    fn();
  } catch (e) {
    assert.match((e as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected an error matching ${pattern}`);
};

test("encodeNpy and parseNpy round-trip every dtype; the data starts on a 64-byte boundary", () => {
  const values = [0, 1, 2, 7, 100];
  for (const dtype of ["bool", "uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64", "float32", "float64"] as const) {
    const v = dtype === "bool" ? [0, 1, 1, 0, 1] : values;
    const bytes = encodeNpy([5], dtype, v);
    const parsed = parseNpy(bytes);
    assert.equal(parsed.shape, [5]);
    assert.is(parsed.dataType, dtype);
    assert.equal(Array.from(parsed.data), v, dtype);
    const headerLength = new DataView(bytes.buffer).getUint16(8, true);
    assert.is((10 + headerLength) % 64, 0);
  }
  const images = parseNpy(encodeNpy([2, 3, 4, 1], "float32", Float32Array.from({ length: 24 }, (_, i) => i / 24)));
  assert.equal(images.shape, [2, 3, 4, 1]);
  assert.ok(Math.abs(images.data[23] - 23 / 24) < 1e-7);
});

test("versions 2 and 3, big-endian values, Python 2 long dimensions, a 0-d shape", () => {
  const be = new Uint8Array(8);
  new DataView(be.buffer).setFloat32(0, 0.25, false);
  new DataView(be.buffer).setFloat32(4, -1.5, false);
  for (const version of [2, 3] as const) {
    const parsed = parseNpy(npyFile(version, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n", be));
    assert.equal(Array.from(parsed.data), [0.25, -1.5]);
  }
  const longs = parseNpy(npyFile(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (1L, 2L), }", Uint8Array.of(3, 4)));
  assert.equal(longs.shape, [1, 2]);
  const scalar = parseNpy(npyFile(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (), }", Uint8Array.of(9, 0, 0, 0)));
  assert.equal(scalar.shape, []);
  assert.equal(Array.from(scalar.data), [9]);
});

test("errors name what is wrong", () => {
  throwsWith(() => parseNpy(new Uint8Array([1, 2, 3]), "x.npy"), /x\.npy: not an NPY file/);
  throwsWith(() => parseNpy(Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0, 0)), /gzip-compressed/);
  throwsWith(() => parseNpy(Uint8Array.of(0x50, 0x4b, 3, 4, 0, 0, 0, 0, 0, 0, 0)), /zip archive: an \.npz/);
  const v4 = npyFile(1, "{}", new Uint8Array(0));
  v4[6] = 4;
  throwsWith(() => parseNpy(v4), /version 4\.0 is not supported/);
  throwsWith(() => parseNpy(npyFile(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", new Uint8Array(4))), /Fortran order/);
  throwsWith(() => parseNpy(npyFile(1, "{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(12))), /dtype '<U3' is not supported/);
  throwsWith(() => parseNpy(npyFile(1, "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(8))), /dtype '\|O' is not supported/);
  throwsWith(() => parseNpy(npyFile(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", new Uint8Array(4))), /structured dtype/);
  throwsWith(() => parseNpy(npyFile(1, "{'descr': '<f2', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(2))), /'<f2' is not supported/);
  throwsWith(() => parseNpy(npyFile(1, "{'descr': '<f4', 'fortran_order': False}", new Uint8Array(4))), /no 'shape' tuple/);
  throwsWith(() => parseNpy(npyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", new Uint8Array(4))), /not a tuple of non-negative integers/);
  throwsWith(() => parseNpy(npyFile(1, "not a dict", new Uint8Array(4))), /not a dict literal/);
  throwsWith(() => parseNpy(npyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", new Uint8Array(8)), "a.npy"), /a\.npy: truncated NPY data: shape \(3\) of <f4 needs/);
  throwsWith(() => parseNpy(npyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(8))), /4 unexpected bytes after the data/);
  const header = encodeNpy([1], "uint8", [1]);
  throwsWith(() => parseNpy(header.subarray(0, 20)), /truncated NPY header/);
  const huge = new Uint8Array(8);
  new DataView(huge.buffer).setBigInt64(0, 2n ** 60n, true);
  throwsWith(() => parseNpy(npyFile(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", huge)), /too large for an exact number/);
  throwsWith(() => encodeNpy([2], "uint8", [1]), /needs 2 values, got 1/);
});

test.run();
