// The defender's proxy of the thief's model: any tfjs LayersModel with logits out; "scratch" is the
// victim's architecture with a seeded random initialisation. It gives the probabilities (and
// penultimate features) in one forward pass, and the Jacobian information MAD's core consumes.
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "./backend.js";
import { assertFiniteOutput, validateBatch } from "./inputs.js";
import type { InputBatch } from "./types.js";
import { buildModel, type ModelSpec } from "./zoo.js";
import { ModelConfigError, ModelDataError } from "./errors.js";

/**
 * last-layer: G = grad of log p wrt the last dense layer's weights has a closed form in p, so the
 * core only needs the proxy's probabilities; layers: per-class gradients over chosen layers by
 * autodiff, reduced to the K x K Gram matrix G G^T; identity: no proxy information (G = I).
 */
export type JacobianMode = "last-layer" | "layers" | "identity";
export const jacobianModes: readonly JacobianMode[] = ["last-layer", "layers", "identity"];

export type ProxyJacobian =
  | { kind: "probs"; proxyProbs: Float32Array }
  | { kind: "gram"; gram: Float64Array }
  | { kind: "identity" };

/** A direction t over all trainable weights θ: "ones" is t = 𝟙, "theta" is t = θ (the weights themselves). */
export type WeightDirection = "ones" | "theta";
export const weightDirections: readonly WeightDirection[] = ["ones", "theta"];

/** The two weight-shifted copies θ ± a·t of the model, a = h·rms(θ)/rms(t) the absolute step. */
interface ShiftedPair {
  plus: tf.LayersModel;
  minus: tf.LayersModel;
  step: number;
}

export class Proxy {
  private built: tf.LayersModel | null;
  private featureModel: tf.LayersModel | null = null;
  private shifted = new Map<string, Promise<ShiftedPair>>();

  /** A proxy with the architecture of `spec`, randomly initialised from spec.seed, never trained. */
  static scratch(spec: ModelSpec): Proxy {
    return new Proxy(null, spec);
  }

  /** `model` outputs logits; for a scratch proxy pass null and the spec (built on first use). */
  constructor(model: tf.LayersModel | null, private readonly spec?: ModelSpec) {
    if (!model && !spec) throw new ModelConfigError("Proxy needs a model or a ModelSpec");
    this.built = model;
  }

  /** The underlying model (building a scratch proxy's model needs initBackend() to have run). */
  get model(): tf.LayersModel {
    if (!this.built) this.built = buildModel(this.spec!);
    return this.built;
  }

  get inputShape(): readonly number[] {
    return this.spec ? this.spec.inputShape : (this.model.inputs[0].shape.slice(1) as number[]);
  }

  get numClasses(): number {
    if (this.spec) return this.spec.numClasses;
    const shape = this.model.outputs[0].shape;
    return shape[shape.length - 1] as number;
  }

  private async ready(batch: InputBatch): Promise<tf.LayersModel> {
    await initBackend();
    validateBatch(batch, this.inputShape, "Proxy");
    return this.model;
  }

  /** softmax of the proxy's logits, B x K. */
  async probs(batch: InputBatch): Promise<Float32Array> {
    const model = await this.ready(batch);
    const out = tf.tidy(() => tf.softmax(model.predict(tf.tensor(batch.data, [batch.batchSize, ...this.inputShape])) as tf.Tensor));
    const p = (await out.data()) as Float32Array;
    out.dispose();
    assertFiniteOutput(p, "Proxy");
    return p;
  }

  /** Probabilities (B x K) and the penultimate features, i.e. the input of the last layer (B x D), in one pass. */
  async probsAndFeatures(batch: InputBatch): Promise<{ probs: Float32Array; features: Float32Array; featureSize: number }> {
    const model = await this.ready(batch);
    if (!this.featureModel) {
      const last = model.layers[model.layers.length - 1];
      this.featureModel = tf.model({ inputs: model.inputs, outputs: [last.input as tf.SymbolicTensor, model.outputs[0]] });
    }
    const fm = this.featureModel;
    const [h, p] = tf.tidy(() => {
      const [features, logits] = fm.predict(tf.tensor(batch.data, [batch.batchSize, ...this.inputShape])) as tf.Tensor[];
      return [features.reshape([batch.batchSize, -1]), tf.softmax(logits)];
    });
    const features = (await h.data()) as Float32Array;
    const probs = (await p.data()) as Float32Array;
    const featureSize = h.shape[1] as number;
    tf.dispose([h, p]);
    assertFiniteOutput(probs, "Proxy");
    return { probs, features, featureSize };
  }

  /**
   * What the core needs to know about G = d log p / d theta. `layers` (mode "layers") names the
   * layers whose trainable weights form theta ("fc1" = all its weights, "fc1/kernel" = one of
   * them); default: the last layer's weights.
   */
  async jacobian(batch: InputBatch, mode: JacobianMode, layers?: string[]): Promise<ProxyJacobian> {
    if (mode === "identity") {
      validateBatch(batch, this.inputShape, "Proxy");
      return { kind: "identity" };
    }
    if (mode === "last-layer") return { kind: "probs", proxyProbs: await this.probs(batch) };
    if (mode !== "layers") throw new ModelConfigError(`unknown Jacobian mode "${String(mode)}"; expected one of ${jacobianModes.join(", ")}`);
    const model = await this.ready(batch);
    return { kind: "gram", gram: gramOfLogProbGradients(model, batch, this.selectWeights(model, layers)) };
  }

  private selectWeights(model: tf.LayersModel, layers?: string[]): tf.Variable[] {
    const names = layers && layers.length ? layers : [model.layers[model.layers.length - 1].name];
    const chosen: tf.Variable[] = [];
    for (const entry of names) {
      const [layerName, weightName] = entry.split("/");
      const layer = model.layers.find((l) => l.name === layerName);
      if (!layer) throw new ModelConfigError(`Proxy: no layer "${layerName}" in the model; layers: ${model.layers.map((l) => l.name).join(", ")}`);
      const weights = layer.trainableWeights.filter((w) => !weightName || w.name.split("/").pop() === weightName || w.originalName.split("/").pop() === weightName);
      if (!weights.length) throw new ModelConfigError(`Proxy: layer "${layerName}" has no trainable weight${weightName ? ` "${weightName}"` : "s"}`);
      for (const w of weights) chosen.push(w.read() as tf.Variable);
    }
    return chosen;
  }

  /**
   * D[b][k] = d/da log softmax(f(x_b; θ + a·t))_k at a = 0 = ⟨∇_θ log p_k(x_b), t⟩, B x K, for a direction t
   * over ALL trainable weights (GRAD², Mazeika et al. 2022), by central finite differences:
   * (log p(θ + a·t) − log p(θ − a·t)) / 2a, two forward passes of copies of the model built on first use
   * for each (direction, h) and kept until releaseDirectionalCopies() or dispose(). `h` is relative: the
   * absolute step is a = h·rms(θ)/rms(t), so the weights move by about a fraction h of their scale
   * (t = 𝟙: a = h·rms(θ); t = θ: a = h). The copies snapshot θ when built: release them after training.
   */
  async directionalLogProbDerivative(batch: InputBatch, direction: WeightDirection, h: number): Promise<Float32Array> {
    if (!weightDirections.includes(direction)) throw new ModelConfigError(`Proxy: unknown weight direction "${String(direction)}"; expected one of ${weightDirections.join(", ")}`);
    if (!(Number.isFinite(h) && h > 0)) throw new ModelConfigError(`Proxy: finite-difference step h must be a positive number, got ${h}`);
    const model = await this.ready(batch);
    const key = `${direction}:${h}`;
    let pending = this.shifted.get(key);
    if (!pending) {
      pending = shiftedCopies(model, direction, h);
      this.shifted.set(key, pending);
      pending.catch(() => this.shifted.delete(key));
    }
    const { plus, minus, step } = await pending;
    const out = tf.tidy(() => {
      const x = tf.tensor(batch.data, [batch.batchSize, ...this.inputShape]);
      const up = tf.logSoftmax(plus.predict(x) as tf.Tensor);
      const down = tf.logSoftmax(minus.predict(x) as tf.Tensor);
      return tf.div(tf.sub(up, down), 2 * step);
    });
    const d = (await out.data()) as Float32Array;
    out.dispose();
    assertFiniteOutput(d, "Proxy");
    return d;
  }

  /** Frees the weight-shifted copies of directionalLogProbDerivative (rebuilt on the next call). */
  releaseDirectionalCopies(): void {
    const pending = [...this.shifted.values()];
    this.shifted.clear();
    for (const p of pending) p.then((pair) => { pair.plus.dispose(); pair.minus.dispose(); }, () => undefined);
  }

  dispose(): void {
    this.releaseDirectionalCopies();
    this.featureModel = null;
    this.built?.dispose();
    this.built = null;
  }
}

/**
 * B x K x K Gram matrices M_b[k][j] = <g_bk, g_bj> of g_bk = grad of log p_k(x_b) wrt `variables`,
 * one backward pass per (example, class); inner products in float64.
 */
export function gramOfLogProbGradients(model: tf.LayersModel, batch: InputBatch, variables: tf.Variable[]): Float64Array {
  const shape = [1, ...batch.inputShape];
  const size = batch.inputShape.reduce((a, b) => a * b, 1);
  const k = model.outputs[0].shape[model.outputs[0].shape.length - 1] as number;
  const gram = new Float64Array(batch.batchSize * k * k);
  for (let b = 0; b < batch.batchSize; b++) {
    const rows: Float32Array[] = [];
    const x = tf.tensor(batch.data.subarray(b * size, (b + 1) * size), shape);
    for (let c = 0; c < k; c++) {
      const flat = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => {
          const logp = tf.logSoftmax(model.apply(x) as tf.Tensor);
          return tf.slice(logp, [0, c], [1, 1]).reshape([]) as tf.Scalar;
        }, variables);
        value.dispose();
        return tf.concat(variables.map((v) => grads[v.name].reshape([-1])));
      });
      rows.push(flat.dataSync() as Float32Array);
      flat.dispose();
    }
    x.dispose();
    const base = b * k * k;
    for (let i = 0; i < k; i++) {
      for (let j = i; j < k; j++) {
        const gi = rows[i], gj = rows[j];
        let dot = 0;
        for (let t = 0; t < gi.length; t++) dot += gi[t] * gj[t];
        gram[base + i * k + j] = dot;
        gram[base + j * k + i] = dot;
      }
    }
  }
  for (let i = 0; i < gram.length; i++) {
    if (!Number.isFinite(gram[i])) throw new Error(`Proxy: non-finite Jacobian Gram entry ${gram[i]}`);
  }
  return gram;
}

/** An independent copy of a LayersModel (topology and weights), through the in-memory tfjs format. */
async function cloneModel(model: tf.LayersModel): Promise<tf.LayersModel> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
    }),
  );
  return tf.loadLayersModel(tf.io.fromMemory(artifacts!));
}

/** Copies of `model` with every trainable weight moved to θ ± a·t (non-trainable weights unchanged). */
async function shiftedCopies(model: tf.LayersModel, direction: WeightDirection, h: number): Promise<ShiftedPair> {
  const weights = model.weights;
  const values = model.getWeights();
  const trainable = weights.map((w) => w.trainable);
  const data = values.map((v) => v.dataSync() as Float32Array);
  let sumSquares = 0;
  let count = 0;
  for (let i = 0; i < data.length; i++) {
    if (!trainable[i]) continue;
    for (const v of data[i]) sumSquares += v * v;
    count += data[i].length;
  }
  if (count === 0) throw new ModelDataError("Proxy: the model has no trainable weights to differentiate along");
  const rmsTheta = Math.sqrt(sumSquares / count);
  if (!(rmsTheta > 0)) throw new ModelDataError("Proxy: every trainable weight is 0; the direction has no scale");
  // rms(t) is 1 for t = 𝟙 and rms(θ) for t = θ.
  const step = direction === "ones" ? h * rmsTheta : h;
  const shifted = (sign: 1 | -1): tf.Tensor[] =>
    values.map((v, i) => {
      if (!trainable[i]) return v.clone();
      const src = data[i];
      const out = new Float32Array(src.length);
      for (let j = 0; j < src.length; j++) out[j] = src[j] + sign * step * (direction === "ones" ? 1 : src[j]);
      return tf.tensor(out, v.shape, v.dtype);
    });
  const plus = await cloneModel(model);
  const minus = await cloneModel(model);
  for (const [copy, sign] of [[plus, 1], [minus, -1]] as const) {
    const tensors = shifted(sign);
    copy.setWeights(tensors);
    tf.dispose(tensors);
  }
  return { plus, minus, step };
}
