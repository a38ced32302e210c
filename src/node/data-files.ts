// A user's own images from files, in one call: loadImageData(path) reads an image folder (one subfolder
// per class, or images directly in it: unlabeled), a NumPy pair (images.npy + labels.npy) or an IDX pair
// (*-images-idx3-ubyte[.gz] + *-labels-idx1-ubyte[.gz]), and returns the project's LabeledImages (or an
// unlabeled image set) with pixels in [0, 1]. PNG and JPEG are decoded and resized with sharp. Every
// error names the file or folder at fault (DataFileError). The layouts are described in docs/DATA.md.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { basename, extname, join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import { PredictionPoisoningError } from "../core/errors.js";
import { FileError } from "./errors.js";
import { parseIdx } from "../models/idx.js";
import type { LabeledImages } from "../models/labeled-images.js";
import { encodeNpy, parseNpy, type NpyData } from "../models/npy.js";
import type { ImageSet } from "../thieves/thief.js";

/** A data file or folder that cannot be used; `path` is the file or folder at fault. */
export class DataFileError extends FileError {
  declare readonly detail: string;

  constructor(path: string, message: string, kind: "data" | "not-found" = "data") {
    super(path, `${path}: ${message}`, kind, message);
    this.name = "DataFileError";
  }
}

export type DataFormat = "image-folder" | "unlabeled-folder" | "npy" | "idx";

export interface UnlabeledImageSet extends ImageSet {
  readonly name: string;
}

export type LoadedData =
  | { readonly kind: "labeled"; readonly data: LabeledImages; readonly format: DataFormat; readonly path: string }
  | { readonly kind: "unlabeled"; readonly data: UnlabeledImageSet; readonly format: DataFormat; readonly path: string };

export interface LoadImageDataOptions {
  /** [height, width, channels] (channels 1 or 3): every image is resized and converted to it. Default: the data's own shape. */
  readonly inputShape?: readonly number[];
  /** The classes expected (a victim's): an image folder's subfolders must be among them and are labelled by their position. */
  readonly classNames?: readonly string[];
  /** Labels must be below this (a victim's class count); default: the data's own (subfolders, or the largest label + 1). */
  readonly numClasses?: number;
  /** The data set's name in reports; default: the folder's (or file's) name. */
  readonly name?: string;
}

// sharp is a native module: loaded on first use, so importing this module (every evaluation worker does) costs nothing.
let sharpModule: Promise<typeof import("sharp")> | undefined;
const loadSharp = async () => (await (sharpModule ??= import("sharp"))).default;

const IMAGE_EXTENSIONS = new Set([".png", ".jpg", ".jpeg"]);
const IDX_IMAGES = /images-idx[34]-ubyte(\.gz)?$/;
/** How many images sharp decodes at once (it has its own thread pool; this bounds memory). */
const DECODE_CONCURRENCY = 8;

const isImageFile = (name: string) => IMAGE_EXTENSIONS.has(extname(name).toLowerCase());
const visible = (name: string) => !name.startsWith(".");

function readBytes(path: string): Uint8Array {
  try {
    const bytes = readFileSync(path);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } catch (e) {
    throw new DataFileError(path, `cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

function listDir(dir: string): { files: string[]; dirs: string[] } {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    throw new DataFileError(dir, `cannot list it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const files: string[] = [];
  const dirs: string[] = [];
  for (const e of entries) {
    if (!visible(e.name)) continue;
    // Symbolic links count as what they point to.
    const kind = e.isSymbolicLink() ? statSync(join(dir, e.name), { throwIfNoEntry: false }) : e;
    if (kind?.isDirectory()) dirs.push(e.name);
    else if (kind?.isFile()) files.push(e.name);
  }
  return { files: files.sort(), dirs: dirs.sort() };
}

/** What a path holds, by its content: the format and the files that make it up. */
export function detectDataFormat(path: string): { format: DataFormat; images: string; labels?: string; classes?: string } {
  const full = resolve(path);
  const stat = statSync(full, { throwIfNoEntry: false });
  if (!stat) throw new DataFileError(full, "does not exist", "not-found");
  if (stat.isFile()) {
    if (full.endsWith(".npy")) return { format: "npy", images: full };
    if (IDX_IMAGES.test(full)) {
      const labels = full.replace(/images-idx[34]-ubyte/, "labels-idx1-ubyte");
      return { format: "idx", images: full, labels: existsSync(labels) ? labels : undefined };
    }
    if (isImageFile(full)) throw new DataFileError(full, "is a single image; give the folder that holds the images");
    throw new DataFileError(full, "is not a data set (expected a folder of images, a folder with images.npy, an .npy file or an *-images-idx3-ubyte[.gz] file)");
  }
  const { files, dirs } = listDir(full);
  const classes = files.includes("classes.txt") ? join(full, "classes.txt") : undefined;
  if (files.includes("images.npy")) {
    return { format: "npy", images: join(full, "images.npy"), labels: files.includes("labels.npy") ? join(full, "labels.npy") : undefined, classes };
  }
  const idx = files.filter((f) => IDX_IMAGES.test(f));
  if (idx.length > 1) throw new DataFileError(full, `holds several IDX image files (${idx.join(", ")}): give the path of one of them`);
  if (idx.length === 1) {
    const labels = idx[0].replace(/images-idx[34]-ubyte/, "labels-idx1-ubyte");
    return { format: "idx", images: join(full, idx[0]), labels: files.includes(labels) ? join(full, labels) : undefined, classes };
  }
  const images = files.filter(isImageFile);
  if (dirs.length > 0 && images.length > 0) {
    throw new DataFileError(full, `holds both images (${images.slice(0, 3).join(", ")}${images.length > 3 ? ", ..." : ""}) and subfolders (${dirs.slice(0, 3).join(", ")}): ` +
      "put labelled images in one subfolder per class, or unlabeled images directly in the folder, not both");
  }
  if (dirs.length > 0) return { format: "image-folder", images: full };
  if (images.length > 0) return { format: "unlabeled-folder", images: full };
  throw new DataFileError(full, "holds no images (.png, .jpg, .jpeg), no class subfolders, no images.npy and no *-images-idx3-ubyte[.gz] file");
}

/** Reads the data set at `path` (see detectDataFormat for the layouts). */
export async function loadImageData(path: string, options: LoadImageDataOptions = {}): Promise<LoadedData> {
  if (options.inputShape) checkTargetShape(options.inputShape);
  const found = detectDataFormat(path);
  const root = resolve(path);
  const name = options.name ?? basename(root).replace(/\.npy$|-images-idx[34]-ubyte(\.gz)?$/, "");
  if (found.format === "image-folder") return { kind: "labeled", data: await loadClassFolders(root, name, options), format: found.format, path: root };
  if (found.format === "unlabeled-folder") {
    const files = listDir(root).files.filter(isImageFile).map((f) => join(root, f));
    const { images, inputShape } = await decodeImages(files, options.inputShape, root);
    return { kind: "unlabeled", data: { name, images, count: files.length, inputShape }, format: found.format, path: root };
  }
  const array = found.format === "npy" ? parseNpy(readBytes(found.images), found.images) : readIdx(found.images);
  const { images, count, inputShape } = imagesFromArray(array, found.images, options.inputShape);
  const classNames = found.classes ? readClassNames(found.classes) : options.classNames;
  if (!found.labels) return { kind: "unlabeled", data: { name, images, count, inputShape }, format: found.format, path: root };
  const labelArray = found.format === "npy" ? parseNpy(readBytes(found.labels), found.labels) : readIdx(found.labels);
  const { labels, numClasses } = labelsFromArray(labelArray, found.labels, count, options.numClasses ?? classNames?.length);
  if (classNames && classNames.length < numClasses) {
    throw new DataFileError(found.classes ?? found.labels, `names ${classNames.length} classes, the labels go up to ${numClasses - 1}`);
  }
  return {
    kind: "labeled",
    data: { name, images, labels, count, inputShape, numClasses: classNames?.length ?? numClasses, ...(classNames ? { classNames } : {}) },
    format: found.format,
    path: root,
  };
}

function checkTargetShape(shape: readonly number[]): void {
  if (shape.length !== 3 || shape.some((d) => !Number.isInteger(d) || d < 1) || (shape[2] !== 1 && shape[2] !== 3)) {
    throw new PredictionPoisoningError("config", `input shape must be [height, width, channels] with channels 1 or 3, got [${shape}]`, { field: "inputShape" });
  }
}

function readClassNames(path: string): string[] {
  const names = new TextDecoder().decode(readBytes(path)).split(/\r?\n/).map((s) => s.trim()).filter((s) => s.length > 0);
  if (names.length < 2) throw new DataFileError(path, `names ${names.length} classes; expected one class name per line, at least 2`);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new DataFileError(path, `names class "${dup}" twice`);
  return names;
}

function readIdx(path: string) {
  let bytes = readBytes(path);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = new Uint8Array(gunzipSync(bytes));
    } catch (e) {
      throw new DataFileError(path, `not a valid gzip file (${(e as Error).message})`);
    }
  }
  try {
    const idx = parseIdx(bytes, path);
    return { shape: idx.dims, dataType: idx.dataType as string, data: idx.data as NpyData };
  } catch (e) {
    throw new DataFileError(path, (e as Error).message.replace(`${path}: `, ""));
  }
}

interface NumericArray {
  readonly shape: readonly number[];
  readonly dataType: string;
  readonly data: NpyData;
}

/** [N, H, W] or [N, H, W, C] (C = 1 or 3): uint8 scaled by 1/255, floats taken as they are (they must be in [0, 1]). */
function imagesFromArray(array: NumericArray, path: string, target: readonly number[] | undefined): { images: Float32Array; count: number; inputShape: number[] } {
  const { shape, dataType, data } = array;
  if (shape.length !== 3 && shape.length !== 4) {
    throw new DataFileError(path, `images must have shape [count, height, width] or [count, height, width, channels], got [${shape}]`);
  }
  const inputShape = shape.length === 3 ? [shape[1], shape[2], 1] : shape.slice(1);
  if (inputShape[2] !== 1 && inputShape[2] !== 3) throw new DataFileError(path, `images must have 1 or 3 channels, got shape [${shape}] (${inputShape[2]} channels)`);
  if (shape[0] === 0) throw new DataFileError(path, "holds no images (shape [0, ...])");
  const images = new Float32Array(data.length);
  if (dataType === "uint8") {
    for (let i = 0; i < data.length; i++) images[i] = data[i] / 255;
  } else if (dataType === "float32" || dataType === "float64") {
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (Number.isNaN(v)) throw new DataFileError(path, `pixel value ${i} (image ${Math.floor(i / (data.length / shape[0]))}) is NaN`);
      if (!(v >= 0 && v <= 1)) {
        throw new DataFileError(path, `pixel value ${i} (image ${Math.floor(i / (data.length / shape[0]))}) is ${v}: float images must be scaled to [0, 1] (or saved as uint8 0..255)`);
      }
      images[i] = v;
    }
  } else {
    throw new DataFileError(path, `images must be uint8 (0..255) or float32/float64 in [0, 1], got ${dataType}`);
  }
  if (!target || target.join() === inputShape.join()) return { images, count: shape[0], inputShape };
  return { images: resizeImages(images, shape[0], inputShape, target), count: shape[0], inputShape: [...target] };
}

/** Integer labels [N] (or [N, 1]), also as floats with integral values; all in 0..numClasses-1. */
function labelsFromArray(array: NumericArray, path: string, count: number, numClasses: number | undefined): { labels: Int32Array; numClasses: number } {
  const { shape, dataType, data } = array;
  if (!(shape.length === 1 || (shape.length === 2 && shape[1] === 1))) throw new DataFileError(path, `labels must have shape [count], got [${shape}]`);
  if (shape[0] !== count) throw new DataFileError(path, `${shape[0]} labels for ${count} images`);
  if (dataType === "bool") throw new DataFileError(path, "labels must be integers, got booleans");
  const labels = new Int32Array(count);
  let max = 0;
  for (let i = 0; i < count; i++) {
    const y = data[i];
    if (!Number.isInteger(y)) throw new DataFileError(path, `label ${i} is ${y}, not an integer class index`);
    if (y < 0) throw new DataFileError(path, `label ${i} is ${y}: class indices start at 0`);
    if (numClasses !== undefined && y >= numClasses) throw new DataFileError(path, `label ${i} is ${y}, outside 0..${numClasses - 1} (${numClasses} classes)`);
    labels[i] = y;
    if (y > max) max = y;
  }
  const classes = numClasses ?? max + 1;
  if (classes < 2) throw new DataFileError(path, `every label is ${max}: a classifier needs at least 2 classes`);
  return { labels, numClasses: classes };
}

async function loadClassFolders(root: string, name: string, options: LoadImageDataOptions): Promise<LabeledImages> {
  const folders = listDir(root).dirs;
  const classNames = options.classNames ?? folders;
  if (classNames.length < 2) throw new DataFileError(root, `has ${classNames.length} class subfolder${classNames.length === 1 ? "" : "s"}; a classifier needs at least 2`);
  if (options.numClasses !== undefined && classNames.length > options.numClasses) {
    throw new DataFileError(root, `has ${classNames.length} class subfolders, the model has ${options.numClasses} classes`);
  }
  const files: string[] = [];
  const labels: number[] = [];
  for (const folder of folders) {
    const label = classNames.indexOf(folder);
    if (label < 0) throw new DataFileError(join(root, folder), `is not one of the model's classes (${classNames.slice(0, 10).join(", ")}${classNames.length > 10 ? ", ..." : ""})`);
    const images = listDir(join(root, folder)).files.filter(isImageFile);
    if (images.length === 0) throw new DataFileError(join(root, folder), "is an empty class folder (no .png, .jpg or .jpeg files)");
    for (const f of images) {
      files.push(join(root, folder, f));
      labels.push(label);
    }
  }
  const { images, inputShape } = await decodeImages(files, options.inputShape, root);
  return { name, images, labels: Int32Array.from(labels), count: files.length, inputShape, numClasses: options.numClasses ?? classNames.length, classNames: [...classNames] };
}

interface ImageInfo {
  readonly width: number;
  readonly height: number;
  readonly colour: boolean;
}

async function inspect(file: string): Promise<ImageInfo> {
  const sharp = await loadSharp();
  try {
    const m = await sharp(file).metadata();
    if (!m.width || !m.height) throw new Error("no dimensions");
    return { width: m.width, height: m.height, colour: m.space !== "b-w" && (m.channels ?? 3) - (m.hasAlpha ? 1 : 0) >= 3 };
  } catch (e) {
    throw new DataFileError(file, `cannot decode it as an image (${(e as Error).message})`);
  }
}

/** Runs `fn` over `items` with at most `limit` in flight, results in order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Decodes image files into one row-major array. Without a target shape, every image must have the first
 * one's size; channels are 3 if any image is in colour, else 1. With one, every image is resized (stretched
 * to fill) and converted to its channels. Transparent pixels are composited onto black.
 */
async function decodeImages(files: readonly string[], target: readonly number[] | undefined, root: string): Promise<{ images: Float32Array; inputShape: number[] }> {
  if (files.length === 0) throw new DataFileError(root, "holds no images");
  const infos = await mapLimited(files, DECODE_CONCURRENCY, inspect);
  let shape: number[];
  if (target) shape = [...target];
  else {
    const first = infos[0];
    const other = infos.findIndex((m) => m.width !== first.width || m.height !== first.height);
    if (other >= 0) {
      throw new DataFileError(files[other], `is ${infos[other].width}x${infos[other].height}, but ${files[0]} is ${first.width}x${first.height}: ` +
        "images of mixed sizes need a target size (train --input-shape HxWxC; evaluate resizes to the victim's input)");
    }
    shape = [first.height, first.width, infos.some((m) => m.colour) ? 3 : 1];
  }
  const [height, width, channels] = shape;
  const size = height * width * channels;
  const images = new Float32Array(files.length * size);
  const sharp = await loadSharp();
  await mapLimited(files.map((f, i) => i), DECODE_CONCURRENCY, async (i) => {
    let raw: Buffer;
    try {
      let pipeline = sharp(files[i]).flatten({ background: "#000000" }).toColourspace(channels === 1 ? "b-w" : "srgb");
      if (infos[i].width !== width || infos[i].height !== height) pipeline = pipeline.resize(width, height, { fit: "fill" });
      const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
      if (info.channels !== channels || info.width !== width || info.height !== height) {
        throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}, expected ${width}x${height}x${channels}`);
      }
      raw = data;
    } catch (e) {
      throw new DataFileError(files[i], `cannot decode it as an image (${(e as Error).message})`);
    }
    const base = i * size;
    for (let j = 0; j < size; j++) images[base + j] = raw[j] / 255;
  });
  return { images, inputShape: shape };
}

/** Bilinear resizing (pixel centres aligned, as image libraries do) and channel conversion (grey <-> RGB) of row-major images. */
export function resizeImages(images: Float32Array, count: number, from: readonly number[], to: readonly number[]): Float32Array {
  const [h0, w0, c0] = from;
  const [h1, w1, c1] = to;
  if (c0 !== 1 && c0 !== 3) throw new PredictionPoisoningError("input", `resizeImages: 1 or 3 channels, got ${c0}`, { field: "from" });
  if (c1 !== 1 && c1 !== 3) throw new PredictionPoisoningError("input", `resizeImages: 1 or 3 channels, got ${c1}`, { field: "to" });
  const out = new Float32Array(count * h1 * w1 * c1);
  const pixel = new Float32Array(3);
  const sy = h0 / h1, sx = w0 / w1;
  for (let n = 0; n < count; n++) {
    const src = n * h0 * w0 * c0;
    const dst = n * h1 * w1 * c1;
    for (let y = 0; y < h1; y++) {
      const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), h0 - 1);
      const y0 = Math.floor(fy), y1 = Math.min(y0 + 1, h0 - 1), ty = fy - y0;
      for (let x = 0; x < w1; x++) {
        const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), w0 - 1);
        const x0 = Math.floor(fx), x1 = Math.min(x0 + 1, w0 - 1), tx = fx - x0;
        for (let c = 0; c < c0; c++) {
          const at = (yy: number, xx: number) => images[src + (yy * w0 + xx) * c0 + c];
          pixel[c] = (1 - ty) * ((1 - tx) * at(y0, x0) + tx * at(y0, x1)) + ty * ((1 - tx) * at(y1, x0) + tx * at(y1, x1));
        }
        const o = dst + (y * w1 + x) * c1;
        if (c0 === c1) for (let c = 0; c < c1; c++) out[o + c] = pixel[c];
        else if (c1 === 3) out[o] = out[o + 1] = out[o + 2] = pixel[0];
        // Rec. 601 luma, the weights image libraries use for greyscale.
        else out[o] = 0.299 * pixel[0] + 0.587 * pixel[1] + 0.114 * pixel[2];
      }
    }
  }
  return out;
}

function toBytes(images: Float32Array): Uint8Array {
  return Uint8Array.from(images, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
}

/**
 * Writes images as files under `dir`: labelled ones into one subfolder per class (the class names, or
 * "class-000", ...), unlabeled ones directly in it. Names keep the data's order when sorted.
 */
export async function writeImageFolder(dir: string, data: LabeledImages | ImageSet, options: { format?: "png" | "jpeg" } = {}): Promise<void> {
  const format = options.format ?? "png";
  const [height, width, channels] = data.inputShape;
  const size = height * width * channels;
  const labeled = "labels" in data ? data : null;
  const digits = String(Math.max(data.count - 1, 1)).length;
  const classDigits = labeled ? String(labeled.numClasses - 1).length : 0;
  const folderOf = (k: number) => labeled?.classNames?.[k] ?? `class-${String(k).padStart(classDigits, "0")}`;
  const sharp = await loadSharp();
  for (const k of labeled ? new Set(labeled.labels) : [null]) mkdirSync(k === null ? dir : join(dir, folderOf(k)), { recursive: true });
  await mapLimited(Array.from({ length: data.count }, (_, i) => i), DECODE_CONCURRENCY, async (i) => {
    const file = `${String(i).padStart(digits, "0")}.${format === "png" ? "png" : "jpg"}`;
    const path = labeled ? join(dir, folderOf(labeled.labels[i]), file) : join(dir, file);
    const pixels = Buffer.from(toBytes(data.images.subarray(i * size, (i + 1) * size)));
    let image = sharp(pixels, { raw: { width, height, channels: channels as 1 | 3 } });
    // Without this sharp writes one-channel input as RGB.
    if (channels === 1) image = image.toColourspace("b-w");
    await (format === "png" ? image.png() : image.jpeg({ quality: 95 })).toFile(path);
  });
}

/** Writes `dir`/images.npy (uint8, [N, H, W, C]) and, for labelled data, labels.npy (int64) and classes.txt when the classes are named. */
export function writeNpyData(dir: string, data: LabeledImages | ImageSet): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "images.npy"), encodeNpy([data.count, ...data.inputShape], "uint8", toBytes(data.images)));
  if ("labels" in data) {
    writeFileSync(join(dir, "labels.npy"), encodeNpy([data.count], "int64", data.labels));
    if (data.classNames) writeFileSync(join(dir, "classes.txt"), data.classNames.join("\n") + "\n");
  }
}
