// What the Node side asserts on a runtime's answers: the core check's report and POST /v1/predict's body.
import * as assert from "uvu/assert";
import { defenses, type CoreCheckReport } from "./edge/core-check.js";
import { assertSameFloat32, nodeCoreReport, type PredictAnswer } from "./reference.js";

export async function assertCoreReport(report: CoreCheckReport, runtime: RegExp): Promise<void> {
  assert.match(report.runtime, runtime);
  assert.equal(report.failures, [], `invariants checked inside ${report.runtime}`);
  assert.equal(report.answers.map((a) => a.name), defenses.map((d) => d.name));
  const node = await nodeCoreReport();
  assert.equal(node.failures, [], "invariants checked in Node");
  for (const [i, answer] of report.answers.entries()) {
    assert.is(answer.keepsTop1, node.answers[i].keepsTop1, `${answer.name} keepsTop1`);
    assertSameFloat32(answer.probs, node.answers[i].probs, `${answer.name} in ${report.runtime}`);
  }
}

export function assertPredictAnswer(answer: PredictAnswer, node: PredictAnswer, runtime: string): void {
  assert.is(answer.probabilities.length, node.probabilities.length, `${runtime}: one answer per input`);
  for (const [i, row] of answer.probabilities.entries()) {
    assert.ok(Math.abs(row.reduce((s, p) => s + p, 0) - 1) < 1e-5 && row.every((p) => p >= 0 && Number.isFinite(p)), `${runtime}: row ${i} on the simplex`);
    assert.is(answer.labels[i], row.indexOf(Math.max(...row)), `${runtime}: label ${i} is the answer's top-1`);
    assertSameFloat32(row, node.probabilities[i], `${runtime} POST /v1/predict row ${i}`);
  }
  assert.equal(answer.labels, node.labels, `${runtime}: MAD-argmax keeps Node's (the victim's) top-1 labels`);
}
