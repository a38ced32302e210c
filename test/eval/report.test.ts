import { test } from "uvu";
import * as assert from "uvu/assert";
import { accuracyFromProbs } from "../../src/eval/metrics.js";
import { argmaxRows } from "../../src/models/argmax.js";
import { plotSpec, renderPlots, worstCasePlotSpec } from "../../src/eval/plot.js";
import type { EvalPoint } from "../../src/eval/point.js";
import { pointKey, settingLabel } from "../../src/eval/point.js";
import { headlines, sortPoints, toCsv, toJson, toMarkdown, toSummaryMarkdown, undefendedSummary, worstCases } from "../../src/eval/report.js";

function point(attack: string, defense: string, params: Record<string, unknown>, order: number, thief: number, defender: number, l1: number): EvalPoint {
  return {
    dataset: "mnist", threat: "in-distribution", attack, defense, params, setting: settingLabel(params), order, budget: 100, seed: 0,
    thiefAccuracy: thief, fidelity: thief + 0.02, defenderAccuracy: defender, victimAccuracy: 0.96,
    top1MarginMean: 0.5, top1MarginBelow001: 0, targetL1Mean: l1, targetsRecovered: 0, diagnostics: null,
    l1Mean: l1, l1Std: 0.01, l2Mean: l1 / 2, l2Std: 0, klMean: l1 / 3, klStd: 0, top1Agreement: 1, queriesUsed: 100, seconds: 1.5,
    transferSet: "mnist-heldout", trainingDataHash: "abc", reusedFrom: null, thiefParams: { epochs: 1 }, defenseParams: { ...params },
  };
}

const points = [
  point("top1", "mad", { epsilon: 0.5 }, 1, 0.8, 0.9, 0.5),
  point("knockoff", "mad", { epsilon: 0.1 }, 0, 0.7, 0.95, 0.1),
  point("knockoff", "none", {}, 0, 0.9, 0.96, 0),
  point("knockoff", "mad", { epsilon: 0.5 }, 1, 0.5, 0.9, 0.5),
  { ...point("top1", "none", {}, 0, 0.85, 0.96, 0), reusedFrom: "top1 vs none -", setting: 'odd "label", with comma' },
];

test("sortPoints orders by attack, defense and sweep position", () => {
  const sorted = sortPoints(points, ["knockoff", "top1"], ["none", "mad"]);
  assert.equal(sorted.map((p) => `${p.attack}/${p.defense}/${p.order}`), ["knockoff/none/0", "knockoff/mad/0", "knockoff/mad/1", "top1/none/0", "top1/mad/1"]);
});

test("results.json has the issue's fields, accuracies as fractions", () => {
  const parsed = JSON.parse(toJson(points, { dataset: "mnist", budget: 100, transferSet: "mnist-heldout", victimAccuracy: 0.96 }));
  assert.is(parsed.points.length, 5);
  for (const p of parsed.points) {
    for (const field of ["dataset", "attack", "defense", "params", "budget", "thiefAccuracy", "defenderAccuracy", "l1Mean", "l1Std", "l2Mean", "klMean", "seconds", "queriesUsed"]) {
      assert.ok(field in p, field);
    }
    assert.ok(p.thiefAccuracy >= 0 && p.thiefAccuracy <= 1);
  }
  assert.is(parsed.meta.transferSet, "mnist-heldout");
});

test("results.csv has a header, one line per point, and quotes fields with commas and quotes", () => {
  const csv = toCsv(points);
  const lines = csv.trimEnd().split("\n");
  assert.is(lines.length, 6);
  const header = lines[0].split(",");
  assert.is(header[0], "dataset");
  assert.ok(header.includes("thiefAccuracy") && header.includes("defenderAccuracy") && header.includes("l1Mean"));
  assert.ok(csv.includes('"odd ""label"", with comma"'));
  assert.ok(csv.includes('"{""epsilon"":0.5}"'));
});

test("the markdown table has one row per point and says how strong the undefended thief is", () => {
  const md = toMarkdown(points, { dataset: "mnist", budget: 100, transferSet: "mnist-heldout", victimAccuracy: 0.96, preset: "quick" });
  const all = md.slice(md.indexOf("All points:"));
  const rows = all.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| threat"));
  assert.is(rows.length, 5);
  assert.ok(md.includes("Undefended thief accuracy: knockoff 90.0 %, top1 85.0 %"));
  assert.ok(md.includes("(reused)"));
  assert.ok(rows.every((r) => r.split("|").length === 16));
  assert.is(undefendedSummary([points[0]]), 'no undefended point (add the defense "none")');
});

test("the summary table has one row per defense setting and one column per thief", () => {
  const md = toSummaryMarkdown(sortPoints(points, ["knockoff", "top1"], ["none", "mad"]), ["knockoff", "top1"]);
  const lines = md.trimEnd().split("\n");
  assert.is(lines[0], "| defense | setting | defender acc. % | top-1 margin (< 0.01 %) | mean L1 | knockoff % | top1 % | worst case % | worst fidelity % |");
  assert.is(lines.length, 2 + 4); // header, rule; none (two labels in the fixture), mad 0.1, mad 0.5
  // The worst case is the best thief of the row: top1's 80 % against mad 0.5, knockoff's 70 % against mad 0.1.
  assert.ok(lines.includes("| mad | epsilon=0.5 | 90.0 | 0.500 (0.0) | 0.500 | 50.0 | 80.0 | **80.0** (top1) | 82.0 |"));
  assert.ok(lines.includes("| mad | epsilon=0.1 | 95.0 | 0.500 (0.0) | 0.100 | 70.0 | - | **70.0** (knockoff) | 72.0 |"));
});

test("plots: one line per defense in sweep order, rendered to standalone SVG", async () => {
  const spec = plotSpec(points, "knockoff", "defenderAccuracy") as unknown as { data: { values: { defense: string; order: number; thief: number }[] }; layer: unknown[] };
  // none, mad x 2, and mad's curve starting at the undefended point
  assert.is(spec.data.values.length, 4);
  const start = spec.data.values.find((r) => r.defense === "mad" && r.order === -1)!;
  assert.is(start.thief, 0.9);
  assert.is(spec.layer.length, 2); // the curves and the undefended thief's level
  const plots = await renderPlots(points, "mnist");
  assert.equal(plots.map((p) => p.name).sort(), ["knockoff-vs-defender.svg", "knockoff-vs-l1.svg", "top1-vs-defender.svg", "top1-vs-l1.svg", "worst-case-vs-defender.svg"]);
  const worst = worstCasePlotSpec(points, "w") as unknown as { data: { values: { defense: string; setting: string; thief: number }[] } };
  assert.is(worst.data.values.find((r) => r.defense === "mad" && r.setting === "epsilon=0.5")!.thief, 0.8);
  for (const { svg } of plots) {
    assert.ok(svg.startsWith("<svg") && svg.trimEnd().endsWith("</svg>"));
    assert.ok(svg.includes("defense"), "legend title");
    assert.ok(/<path[^>]*d="M/.test(svg), "a drawn line");
    // Well-formed enough for any XML reader: every opened group is closed.
    assert.is((svg.match(/<g[\s>]/g) ?? []).length, (svg.match(/<\/g>/g) ?? []).length);
  }
});

test("pointKey ignores measurements and key order; accuracy helpers validate shapes", () => {
  const a = points[1];
  assert.is(pointKey(a), pointKey({ ...a, params: { epsilon: 0.1 } }));
  assert.is(pointKey(a), pointKey({ ...a, thiefAccuracy: 0.1 } as EvalPoint));
  assert.is.not(pointKey(a), pointKey({ ...a, budget: 101 }));
  const probs = new Float32Array([0.1, 0.9, 0.8, 0.2, 0.5, 0.5]);
  assert.is(accuracyFromProbs(probs, new Int32Array([1, 0, 1]), 2), 2 / 3);
  assert.equal(Array.from(argmaxRows(probs, 3, 2)), [1, 0, 0]);
  assert.throws(() => accuracyFromProbs(probs, new Int32Array([1, 0]), 2), /6 values for 2 labels/);
  assert.throws(() => accuracyFromProbs(new Float32Array(0), new Int32Array(0), 2), /no rows/);
});

test.run();

test("worst case: per threat and setting the best thief; the headline is the lowest worst case within 1 point of defender loss", () => {
  const mk = (attack: string, defense: string, eps: number, order: number, thief: number, defender: number, threat = "in-distribution") => ({
    ...point(attack, defense, defense === "none" ? {} : { epsilon: eps }, order, thief, defender, eps),
    threat,
  });
  const grid = [
    mk("knockoff", "none", 0, 0, 0.9, 0.96),
    mk("top1", "none", 0, 0, 0.88, 0.96),
    mk("knockoff", "mad", 0.5, 0, 0.6, 0.955),
    mk("top1", "mad", 0.5, 0, 0.87, 0.955),
    mk("knockoff", "mad", 1, 1, 0.2, 0.95), // exactly 1 point lost: still eligible
    mk("top1", "mad", 1, 1, 0.5, 0.95),
    mk("knockoff", "mad", 2, 2, 0.1, 0.5), // the defender pays too much
    mk("top1", "mad", 2, 2, 0.1, 0.5),
    mk("knockoff", "mad", 1, 1, 0.3, 0.95, "out-of-distribution"),
  ];
  const cases = worstCases(grid);
  assert.is(cases.length, 5);
  const at = (eps: number, threat = "in-distribution") => cases.find((c) => c.defense === "mad" && c.setting === `epsilon=${eps}` && c.threat === threat)!;
  assert.is(at(0.5).thiefAccuracy, 0.87);
  assert.is(at(0.5).attack, "top1");
  assert.is(at(1).thiefAccuracy, 0.5);
  assert.is(at(1, "out-of-distribution").thiefAccuracy, 0.3);
  const h = headlines(grid).find((x) => x.defense === "mad" && x.threat === "in-distribution")!;
  assert.is(h.best!.setting, "epsilon=1");
  assert.is(h.best!.thiefAccuracy, 0.5);
  assert.is(h.eligible, 2);
  const md = toMarkdown(grid, { dataset: "mnist", budget: 100, transferSet: "x", victimAccuracy: 0.96 });
  assert.ok(md.includes("| in-distribution | mad | epsilon=1 | 95.0 | **50.0** (top1) | 90.0 |"), md);
});
