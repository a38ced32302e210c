// The user-data loader: each layout (class folders of PNG and JPEG, an unlabeled folder, images.npy +
// labels.npy, IDX pairs plain and gzipped), resizing and channel conversion, and one readable error,
// naming the file or folder, for each way the data can be wrong.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import sharp from "sharp";
import { encodeIdx } from "../../src/models/idx.js";
import { encodeNpy } from "../../src/models/npy.js";
import { syntheticImages } from "../../src/models/synthetic.js";
import { architecturesFor, assertArchitectureFits, defaultArchitecture } from "../../src/models/zoo.js";
import { DataFileError, detectDataFormat, loadImageData, resizeImages, writeImageFolder, writeNpyData } from "../../src/node/data-files.js";

const root = mkdtempSync(join(tmpdir(), "pp-data-files-"));
let next = 0;
const fresh = (name = "d") => {
  const dir = join(root, `${name}-${next++}`);
  mkdirSync(dir, { recursive: true });
  return dir;
};

/** A width x height PNG (or JPEG) of one colour; channels 1 writes a greyscale file. */
async function image(path: string, width: number, height: number, rgb: [number, number, number], channels: 1 | 3 = 3, format: "png" | "jpeg" = "png") {
  const pixels = Buffer.alloc(width * height * channels);
  for (let i = 0; i < width * height; i++) for (let c = 0; c < channels; c++) pixels[i * channels + c] = rgb[c];
  let img = sharp(pixels, { raw: { width, height, channels } });
  if (channels === 1) img = img.toColourspace("b-w");
  await (format === "png" ? img.png() : img.jpeg({ quality: 100 })).toFile(path);
}

async function rejects(promise: Promise<unknown>, pattern: RegExp, path?: string): Promise<void> {
  try {
    await promise;
  } catch (e) {
    assert.match((e as Error).message, pattern);
    if (path !== undefined) {
      assert.instance(e, DataFileError);
      assert.is((e as DataFileError).path, path);
    }
    return;
  }
  assert.unreachable(`expected an error matching ${pattern}`);
}

test("class folders: sorted subfolder names are the classes, PNG and JPEG decoded to [0, 1] RGB", async () => {
  const dir = fresh("classes");
  mkdirSync(join(dir, "dog"));
  mkdirSync(join(dir, "cat"));
  await image(join(dir, "dog", "a.png"), 4, 3, [255, 0, 0]);
  await image(join(dir, "dog", "b.jpg"), 4, 3, [0, 0, 255], 3, "jpeg");
  await image(join(dir, "cat", "c.PNG"), 4, 3, [0, 255, 0]);
  writeFileSync(join(dir, "cat", "notes.txt"), "not an image: ignored");
  writeFileSync(join(dir, ".DS_Store"), "hidden: ignored");
  const loaded = await loadImageData(dir);
  assert.is(loaded.kind, "labeled");
  assert.is(loaded.format, "image-folder");
  if (loaded.kind !== "labeled") return;
  const d = loaded.data;
  assert.equal(d.classNames, ["cat", "dog"]);
  assert.is(d.numClasses, 2);
  assert.equal([...d.inputShape], [3, 4, 3]);
  assert.equal(Array.from(d.labels), [0, 1, 1]);
  assert.equal(Array.from(d.images.subarray(0, 3)), [0, 1, 0]);
  assert.equal(Array.from(d.images.subarray(12 * 3, 12 * 3 + 3)), [1, 0, 0]);
  // JPEG is lossy: the blue image is close to (0, 0, 1).
  const blue = d.images.subarray(24 * 3, 24 * 3 + 3);
  assert.ok(blue[0] < 0.05 && blue[2] > 0.95, `blue pixel ${Array.from(blue)}`);
});

test("greyscale images give one channel; a target shape resizes and converts channels", async () => {
  const dir = fresh("grey");
  for (const c of ["0", "1"]) {
    mkdirSync(join(dir, c));
    await image(join(dir, c, "x.png"), 6, 6, [c === "0" ? 51 : 204, 0, 0], 1);
  }
  const own = await loadImageData(dir);
  assert.equal([...own.data.inputShape], [6, 6, 1]);
  assert.ok(Math.abs(own.data.images[0] - 0.2) < 1e-6);
  const resized = await loadImageData(dir, { inputShape: [3, 5, 3] });
  assert.equal([...resized.data.inputShape], [3, 5, 3]);
  assert.is(resized.data.images.length, 2 * 3 * 5 * 3);
  assert.ok(Math.abs(resized.data.images[0] - 0.2) < 0.01 && Math.abs(resized.data.images[2] - 0.2) < 0.01);
  // Mixed sizes are resized when a target is given.
  await image(join(dir, "1", "big.png"), 12, 9, [204, 0, 0], 1);
  const mixed = await loadImageData(dir, { inputShape: [6, 6, 1] });
  assert.is(mixed.data.count, 3);
});

test("an unlabeled folder; the name option; detectDataFormat by content", async () => {
  const dir = fresh("loose");
  await image(join(dir, "1.png"), 2, 2, [10, 20, 30]);
  await image(join(dir, "2.jpeg"), 2, 2, [10, 20, 30], 3, "jpeg");
  const loaded = await loadImageData(dir, { name: "queries" });
  assert.is(loaded.kind, "unlabeled");
  assert.is(loaded.format, "unlabeled-folder");
  assert.is(loaded.data.count, 2);
  assert.is(loaded.data.name, "queries");
  assert.not.ok("labels" in loaded.data);
  assert.is(detectDataFormat(dir).format, "unlabeled-folder");
});

test("images.npy + labels.npy (+ classes.txt), uint8 and float; an images-only .npy file is unlabeled", async () => {
  const dir = fresh("npy");
  const pixels = Uint8Array.from({ length: 3 * 2 * 2 }, (_, i) => i * 20);
  writeFileSync(join(dir, "images.npy"), encodeNpy([3, 2, 2], "uint8", pixels));
  writeFileSync(join(dir, "labels.npy"), encodeNpy([3], "int64", [2, 0, 1]));
  const loaded = await loadImageData(dir);
  assert.is(loaded.format, "npy");
  if (loaded.kind !== "labeled") return assert.unreachable("labelled");
  assert.equal([...loaded.data.inputShape], [2, 2, 1]);
  assert.equal(Array.from(loaded.data.labels), [2, 0, 1]);
  assert.is(loaded.data.numClasses, 3);
  assert.ok(Math.abs(loaded.data.images[1] - 20 / 255) < 1e-7);
  // numClasses from the model: more classes than the labels use.
  const wider = await loadImageData(dir, { numClasses: 10 });
  assert.is(wider.kind === "labeled" && wider.data.numClasses, 10);
  writeFileSync(join(dir, "classes.txt"), "a\nb\nc\nd\n");
  const named = await loadImageData(dir);
  assert.equal(named.kind === "labeled" && named.data.classNames, ["a", "b", "c", "d"]);
  assert.is(named.kind === "labeled" && named.data.numClasses, 4);
  const floats = fresh("npy-float");
  writeFileSync(join(floats, "images.npy"), encodeNpy([2, 2, 2, 3], "float32", Float32Array.from({ length: 24 }, (_, i) => i / 24)));
  writeFileSync(join(floats, "labels.npy"), encodeNpy([2], "float64", [1, 0]));
  const f = await loadImageData(floats, { inputShape: [4, 4, 1] });
  assert.equal([...f.data.inputShape], [4, 4, 1]);
  assert.equal(f.kind === "labeled" && Array.from(f.data.labels), [1, 0]);
  const only = await loadImageData(join(floats, "images.npy"));
  assert.is(only.kind, "unlabeled");
});

test("IDX pairs, gzipped or not, by folder or by the images file", async () => {
  const dir = fresh("idx");
  const pixels = Array.from({ length: 4 * 5 * 5 }, (_, i) => i % 256);
  writeFileSync(join(dir, "train-images-idx3-ubyte.gz"), gzipSync(encodeIdx([4, 5, 5], "uint8", pixels)));
  writeFileSync(join(dir, "train-labels-idx1-ubyte.gz"), gzipSync(encodeIdx([4], "uint8", [0, 1, 2, 1])));
  const loaded = await loadImageData(dir);
  assert.is(loaded.format, "idx");
  assert.is(loaded.kind, "labeled");
  assert.equal([...loaded.data.inputShape], [5, 5, 1]);
  writeFileSync(join(dir, "t10k-images-idx3-ubyte"), encodeIdx([2, 5, 5], "uint8", pixels.slice(0, 50)));
  await rejects(loadImageData(dir), /several IDX image files.*give the path of one/, dir);
  const byFile = await loadImageData(join(dir, "t10k-images-idx3-ubyte"));
  assert.is(byFile.kind, "unlabeled");
  assert.is(byFile.data.count, 2);
  assert.is(byFile.data.name, "t10k");
});

test("writeImageFolder and writeNpyData write what loadImageData reads back", async () => {
  const data = syntheticImages({ perClass: 2, numClasses: 12, size: 16, seed: 3 });
  const folder = fresh("written");
  await writeImageFolder(folder, data);
  const back = await loadImageData(folder);
  assert.is(back.kind, "labeled");
  if (back.kind !== "labeled") return;
  assert.equal(back.data.classNames, data.classNames);
  assert.equal(Array.from(back.data.labels), Array.from(data.labels));
  let maxError = 0;
  for (let i = 0; i < data.images.length; i++) maxError = Math.max(maxError, Math.abs(back.data.images[i] - data.images[i]));
  assert.ok(maxError <= 0.5 / 255 + 1e-6, `PNG round trip error ${maxError}`);
  const npy = fresh("written-npy");
  writeNpyData(npy, data);
  const fromNpy = await loadImageData(npy);
  assert.equal(fromNpy.kind === "labeled" && fromNpy.data.classNames, data.classNames);
  const grey = syntheticImages({ perClass: 1, numClasses: 3, size: 16, channels: 1, seed: 1 });
  const greyDir = fresh("written-grey");
  await writeImageFolder(greyDir, { images: grey.images, count: grey.count, inputShape: grey.inputShape });
  const greyBack = await loadImageData(greyDir);
  assert.equal([...greyBack.data.inputShape], [16, 16, 1]);
});

test("errors name the path: missing, unreadable, undecodable, empty class, mixed sizes, layout", async () => {
  const missing = join(root, "no-such-dir");
  await rejects(loadImageData(missing), /no-such-dir: does not exist/, missing);
  const empty = fresh("empty");
  await rejects(loadImageData(empty), /holds no images \(\.png, \.jpg, \.jpeg\), no class subfolders/, empty);
  const broken = fresh("broken");
  mkdirSync(join(broken, "a"));
  mkdirSync(join(broken, "b"));
  await image(join(broken, "a", "ok.png"), 3, 3, [1, 2, 3]);
  writeFileSync(join(broken, "b", "bad.png"), "this is not a PNG");
  await rejects(loadImageData(broken), /bad\.png: cannot decode it as an image/, join(broken, "b", "bad.png"));
  const truncated = fresh("truncated");
  await image(join(truncated, "full.png"), 8, 8, [1, 2, 3]);
  const bytes = await sharp(Buffer.alloc(64 * 3, 7), { raw: { width: 8, height: 8, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
  writeFileSync(join(truncated, "cut.png"), bytes.subarray(0, bytes.length - 40));
  await rejects(loadImageData(truncated), /cut\.png: cannot decode it as an image/, join(truncated, "cut.png"));
  const emptyClass = fresh("empty-class");
  mkdirSync(join(emptyClass, "a"));
  mkdirSync(join(emptyClass, "b"));
  await image(join(emptyClass, "a", "x.png"), 3, 3, [1, 2, 3]);
  await rejects(loadImageData(emptyClass), /is an empty class folder/, join(emptyClass, "b"));
  const one = fresh("one-class");
  mkdirSync(join(one, "a"));
  await image(join(one, "a", "x.png"), 3, 3, [1, 2, 3]);
  await rejects(loadImageData(one), /has 1 class subfolder; a classifier needs at least 2/, one);
  const mixed = fresh("mixed");
  await image(join(mixed, "a.png"), 3, 3, [1, 2, 3]);
  await image(join(mixed, "b.png"), 4, 3, [1, 2, 3]);
  await rejects(loadImageData(mixed), /b\.png: is 4x3, but .*a\.png is 3x3: images of mixed sizes need a target size/, join(mixed, "b.png"));
  const both = fresh("both");
  mkdirSync(join(both, "sub"));
  await image(join(both, "a.png"), 3, 3, [1, 2, 3]);
  await rejects(loadImageData(both), /holds both images .* and subfolders/, both);
  const unknownClass = fresh("unknown-class");
  for (const c of ["cat", "emu"]) {
    mkdirSync(join(unknownClass, c));
    await image(join(unknownClass, c, "x.png"), 3, 3, [1, 2, 3]);
  }
  await rejects(loadImageData(unknownClass, { classNames: ["cat", "dog"] }), /emu: is not one of the model's classes \(cat, dog\)/, join(unknownClass, "emu"));
  await rejects(loadImageData(broken, { numClasses: 1 }), /has 2 class subfolders, the model has 1 classes/, broken);
  const single = join(one, "a", "x.png");
  await rejects(loadImageData(single), /is a single image; give the folder/, single);
  if (process.getuid?.() !== 0) {
    const locked = fresh("locked");
    writeFileSync(join(locked, "images.npy"), encodeNpy([1, 2, 2], "uint8", [1, 2, 3, 4]));
    chmodSync(join(locked, "images.npy"), 0o000);
    await rejects(loadImageData(locked), /images\.npy: cannot read it \(EACCES\)/, join(locked, "images.npy"));
  }
  await rejects(loadImageData(mixed, { inputShape: [3, 3, 2] }), /channels 1 or 3/);
});

test("array errors: wrong shape, dtype, NaN, out of [0, 1], labels out of range, non-integer, count mismatch", async () => {
  const pair = (images: Uint8Array, labels?: Uint8Array) => {
    const dir = fresh("npy-bad");
    writeFileSync(join(dir, "images.npy"), images);
    if (labels) writeFileSync(join(dir, "labels.npy"), labels);
    return dir;
  };
  const ok = encodeNpy([2, 2, 2], "uint8", [0, 1, 2, 3, 4, 5, 6, 7]);
  let dir = pair(encodeNpy([2, 4], "uint8", [0, 1, 2, 3, 4, 5, 6, 7]));
  await rejects(loadImageData(dir), /images must have shape \[count, height, width\] or \[count, height, width, channels\], got \[2,4\]/, join(dir, "images.npy"));
  dir = pair(encodeNpy([1, 2, 2, 2], "uint8", [0, 1, 2, 3, 4, 5, 6, 7]));
  await rejects(loadImageData(dir), /1 or 3 channels/, join(dir, "images.npy"));
  dir = pair(encodeNpy([2, 2, 2], "int32", [0, 1, 2, 3, 4, 5, 6, 7]));
  await rejects(loadImageData(dir), /images must be uint8 \(0\.\.255\) or float32\/float64 in \[0, 1\], got int32/);
  dir = pair(encodeNpy([2, 2, 2], "float32", [0, 0.5, NaN, 1, 0, 0, 0, 0]));
  await rejects(loadImageData(dir), /pixel value 2 \(image 0\) is NaN/, join(dir, "images.npy"));
  dir = pair(encodeNpy([2, 2, 2], "float64", [0, 0.5, 1, 1, 0, 0, 0, 255]));
  await rejects(loadImageData(dir), /pixel value 7 \(image 1\) is 255: float images must be scaled to \[0, 1\]/);
  dir = pair(encodeNpy([0, 2, 2], "uint8", []));
  await rejects(loadImageData(dir), /holds no images/);
  dir = pair(ok, encodeNpy([2], "int64", [0, 5]));
  await rejects(loadImageData(dir, { numClasses: 3 }), /label 1 is 5, outside 0\.\.2 \(3 classes\)/, join(dir, "labels.npy"));
  dir = pair(ok, encodeNpy([2], "int32", [0, -1]));
  await rejects(loadImageData(dir), /label 1 is -1: class indices start at 0/);
  dir = pair(ok, encodeNpy([2], "float32", [0, 1.5]));
  await rejects(loadImageData(dir), /label 1 is 1\.5, not an integer class index/, join(dir, "labels.npy"));
  dir = pair(ok, encodeNpy([3], "uint8", [0, 1, 1]));
  await rejects(loadImageData(dir), /3 labels for 2 images/);
  dir = pair(ok, encodeNpy([2, 2], "uint8", [0, 1, 1, 0]));
  await rejects(loadImageData(dir), /labels must have shape \[count\], got \[2,2\]/);
  dir = pair(ok, encodeNpy([2], "uint8", [0, 0]));
  await rejects(loadImageData(dir), /every label is 0: a classifier needs at least 2 classes/);
  dir = pair(ok, encodeNpy([2], "uint8", [0, 2]));
  writeFileSync(join(dir, "classes.txt"), "a\nb\n");
  await rejects(loadImageData(dir), /labels\.npy: label 1 is 2, outside 0\.\.1 \(2 classes\)/);
  dir = pair(Uint8Array.of(1, 2, 3));
  await rejects(loadImageData(dir), /images\.npy: not an NPY file/);
  const idx = fresh("idx-bad");
  writeFileSync(join(idx, "x-images-idx3-ubyte.gz"), Uint8Array.of(0x1f, 0x8b, 1, 2, 3));
  await rejects(loadImageData(idx), /not a valid gzip file/, join(idx, "x-images-idx3-ubyte.gz"));
  writeFileSync(join(idx, "x-images-idx3-ubyte.gz"), gzipSync(encodeIdx([2, 2, 2], "uint8", [1, 2, 3, 4, 5, 6, 7, 8]).subarray(0, 20)));
  await rejects(loadImageData(idx), /truncated IDX data/, join(idx, "x-images-idx3-ubyte.gz"));
});

test("resizeImages: identity, constant images stay constant, grey <-> RGB", () => {
  const img = Float32Array.from({ length: 2 * 3 * 3 }, (_, i) => i / 18);
  assert.equal(Array.from(resizeImages(img, 2, [3, 3, 1], [3, 3, 1])), Array.from(img));
  const constant = new Float32Array(4 * 4 * 3).fill(0.25);
  const out = resizeImages(constant, 1, [4, 4, 3], [7, 2, 1]);
  assert.is(out.length, 14);
  for (const v of out) assert.ok(Math.abs(v - 0.25) < 1e-6);
  const rgb = resizeImages(Float32Array.of(0.5), 1, [1, 1, 1], [2, 2, 3]);
  assert.equal(Array.from(rgb), new Array(12).fill(0.5));
});

test("the zoo says which architectures take a shape and picks one", () => {
  assert.equal(architecturesFor([32, 32, 3]), ["lenet", "mlp", "vgg"]);
  assert.equal(architecturesFor([12, 12, 1]), ["mlp"]);
  assert.equal(architecturesFor([28, 28, 1]), ["lenet", "mlp"]);
  assert.is(defaultArchitecture([32, 32, 3]), "vgg");
  assert.is(defaultArchitecture([28, 28, 1]), "lenet");
  assert.is(defaultArchitecture([20, 20, 3]), "lenet");
  assert.is(defaultArchitecture([12, 12, 3]), "mlp");
  assert.throws(() => assertArchitectureFits("vgg", [28, 28, 1]), /vgg needs height and width divisible by 8.*architectures that take \[28,28,1\]: lenet, mlp/);
});

test.after(() => rmSync(root, { recursive: true, force: true }));
test.run();
