// The defender's proxy of the thief's model: any tfjs LayersModel with logits out; "scratch" is the
// victim's architecture with a seeded random initialisation. It gives the probabilities (and
// penultimate features) in one forward pass, and the Jacobian information MAD's core consumes.
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "./backend.js";
import { assertFiniteOutput, validateBatch } from "./inputs.js";
import type { InputBatch } from "./types.js";
import { buildModel, type ModelSpec } from "./zoo.js";

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

export class Proxy {
  private built: tf.LayersModel | null;
  private featureModel: tf.LayersModel | null = null;

  /** A proxy with the architecture of `spec`, randomly initialised from spec.seed, never trained. */
  static scratch(spec: ModelSpec): Proxy {
    return new Proxy(null, spec);
  }

  /** `model` outputs logits; for a scratch proxy pass null and the spec (built on first use). */
  constructor(model: tf.LayersModel | null, private readonly spec?: ModelSpec) {
    if (!model && !spec) throw new Error("Proxy needs a model or a ModelSpec");
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
    if (mode !== "layers") throw new Error(`unknown Jacobian mode "${String(mode)}"; expected one of ${jacobianModes.join(", ")}`);
    const model = await this.ready(batch);
    return { kind: "gram", gram: gramOfLogProbGradients(model, batch, this.selectWeights(model, layers)) };
  }

  private selectWeights(model: tf.LayersModel, layers?: string[]): tf.Variable[] {
    const names = layers && layers.length ? layers : [model.layers[model.layers.length - 1].name];
    const chosen: tf.Variable[] = [];
    for (const entry of names) {
      const [layerName, weightName] = entry.split("/");
      const layer = model.layers.find((l) => l.name === layerName);
      if (!layer) throw new Error(`Proxy: no layer "${layerName}" in the model; layers: ${model.layers.map((l) => l.name).join(", ")}`);
      const weights = layer.trainableWeights.filter((w) => !weightName || w.name.split("/").pop() === weightName || w.originalName.split("/").pop() === weightName);
      if (!weights.length) throw new Error(`Proxy: layer "${layerName}" has no trainable weight${weightName ? ` "${weightName}"` : "s"}`);
      for (const w of weights) chosen.push(w.read() as tf.Variable);
    }
    return chosen;
  }

  dispose(): void {
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
