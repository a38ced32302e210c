// A victim behind a defense: the object the service and the evaluation query. It asks the victim, hands the
// batch to the defense and keeps running statistics of what the defense changed.
import type { InputBatch, ProbabilityModel } from "../models/types.js";
import { argmaxRows, checkProbabilityRows } from "./batch.js";
import type { Defense, DefenseBatch } from "./defense.js";
import type { DefenseProxy } from "./deps.js";
import { DefenseInputError } from "./errors.js";
import { perturbationDistances, RunningStats, type DistanceSummary } from "./stats.js";
import { PredictionPoisoningError } from "../core/errors.js";

/** A victim given as a plain function: a batch of inputs to B x K probabilities. */
export type VictimFunction = (batch: InputBatch) => Promise<Float32Array>;

export interface DefendedModelOptions {
  /** Run on every batch's inputs to fill `proxyProbs` (MAD's last-layer view), unless the defense has a proxy of its own. */
  readonly proxy?: Pick<DefenseProxy, "probs">;
  /** Needed only for a VictimFunction before its first answer (otherwise inferred from it). */
  readonly numClasses?: number;
  readonly inputShape?: readonly number[];
}

export interface QueryContext {
  readonly clientId?: string;
}

export interface DefendedAnswer {
  /** The defended probabilities ỹ, B x K. */
  readonly probs: Float32Array;
  /** argmax ỹ per row (ties: the lowest index). */
  readonly labels: Int32Array;
  /** The victim's own probabilities y, B x K (for evaluation; never send these to a client). */
  readonly victimProbs: Float32Array;
  readonly victimLabels: Int32Array;
  /** Detectors only: per-row verdicts. */
  readonly flagged?: Uint8Array;
  readonly batchSize: number;
  readonly numClasses: number;
}

export interface DefenseStats {
  readonly defense: string;
  readonly params: Readonly<Record<string, unknown>>;
  /** Rows answered. */
  readonly queries: number;
  readonly batches: number;
  readonly l1: DistanceSummary;
  readonly l2: DistanceSummary;
  /** KL(y‖ỹ) with ỹ floored at 1e-8. */
  readonly kl: DistanceSummary;
  /** Fraction of answers whose top-1 class is the victim's (1 before any query). */
  readonly top1Agreement: number;
  /** Rows a detector flagged. */
  readonly flagged: number;
}

export class DefendedModel implements ProbabilityModel {
  private readonly predictVictim: VictimFunction;
  private readonly victimModel?: ProbabilityModel;
  private knownClasses?: number;
  private knownShape?: readonly number[];
  private readonly l1 = new RunningStats();
  private readonly l2 = new RunningStats();
  private readonly kl = new RunningStats();
  private agreements = 0;
  private batches = 0;
  private flaggedRows = 0;

  constructor(
    victim: ProbabilityModel | VictimFunction,
    readonly defense: Defense,
    private readonly options: DefendedModelOptions = {},
  ) {
    if (typeof victim === "function") {
      this.predictVictim = victim;
    } else if (victim && typeof victim.predict === "function") {
      this.victimModel = victim;
      this.predictVictim = (batch) => victim.predict(batch);
    } else {
      throw new PredictionPoisoningError("config", "DefendedModel: victim must be a ProbabilityModel or a function (batch) => Promise<Float32Array>", { field: "victim" });
    }
    this.knownClasses = options.numClasses ?? this.victimModel?.numClasses;
    this.knownShape = options.inputShape ?? this.victimModel?.inputShape;
  }

  get numClasses(): number {
    if (this.knownClasses === undefined) throw new PredictionPoisoningError("config", "DefendedModel: numClasses is unknown until the first answer (pass options.numClasses)", { field: "numClasses" });
    return this.knownClasses;
  }

  get inputShape(): readonly number[] {
    if (this.knownShape === undefined) throw new PredictionPoisoningError("config", "DefendedModel: inputShape is unknown until the first query (pass options.inputShape)", { field: "inputShape" });
    return this.knownShape;
  }

  async predict(batch: InputBatch, context?: QueryContext): Promise<Float32Array> {
    return (await this.answer(batch, context)).probs;
  }

  async answer(batch: InputBatch, context: QueryContext = {}): Promise<DefendedAnswer> {
    const B = batch.batchSize;
    const victimProbs = await this.predictVictim(batch);
    if (!(victimProbs instanceof Float32Array)) throw new DefenseInputError("victim output", undefined, "must be a Float32Array");
    if (B === 0) {
      const K = this.knownClasses ?? 0;
      return { probs: new Float32Array(0), labels: new Int32Array(0), victimProbs, victimLabels: new Int32Array(0), batchSize: 0, numClasses: K };
    }
    if (victimProbs.length % B !== 0) {
      throw new DefenseInputError("victim output", undefined, `length ${victimProbs.length} is not a multiple of batchSize ${B}`);
    }
    const K = victimProbs.length / B;
    if (this.knownClasses !== undefined && K !== this.knownClasses) {
      throw new DefenseInputError("victim output", undefined, `has ${K} classes per row, expected ${this.knownClasses}`);
    }
    checkProbabilityRows("victim output", victimProbs, B, K);
    this.knownClasses = K;
    this.knownShape ??= batch.inputShape;

    // A defense with its own proxy (needsInput) runs it itself; otherwise the proxy view rides along as proxyProbs.
    const needsProxyView = this.options.proxy !== undefined && !this.defense.traits.needsInput;
    const defenseBatch: DefenseBatch = {
      probs: victimProbs,
      batchSize: B,
      numClasses: K,
      inputs: batch,
      clientId: context.clientId,
      proxyProbs: needsProxyView ? await this.options.proxy!.probs(batch) : undefined,
    };
    const result = await this.defense.apply(defenseBatch);
    if (!(result.probs instanceof Float32Array) || result.probs.length !== B * K) {
      throw new Error(`defense "${this.defense.name}" answered ${result.probs?.length} values for ${B} x ${K}`);
    }
    const labels = argmaxRows(result.probs, B, K);
    const victimLabels = argmaxRows(victimProbs, B, K);
    for (let i = 0; i < B; i++) {
      const d = perturbationDistances(victimProbs, result.probs, i, K);
      this.l1.push(d.l1);
      this.l2.push(d.l2);
      this.kl.push(d.kl);
      if (labels[i] === victimLabels[i]) this.agreements++;
      if (result.flagged?.[i]) this.flaggedRows++;
    }
    this.batches++;
    return { probs: result.probs, labels, victimProbs, victimLabels, flagged: result.flagged, batchSize: B, numClasses: K };
  }

  stats(): DefenseStats {
    const queries = this.l1.count;
    return {
      defense: this.defense.name,
      params: this.defense.params,
      queries,
      batches: this.batches,
      l1: this.l1.summary(),
      l2: this.l2.summary(),
      kl: this.kl.summary(),
      top1Agreement: queries === 0 ? 1 : this.agreements / queries,
      flagged: this.flaggedRows,
    };
  }

  resetStats(): void {
    this.l1.reset();
    this.l2.reset();
    this.kl.reset();
    this.agreements = 0;
    this.batches = 0;
    this.flaggedRows = 0;
  }

  exportStats(): string {
    return JSON.stringify(this.stats());
  }

  dispose(): void {
    this.defense.dispose?.();
  }
}
