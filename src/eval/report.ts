// Report writers: results.json, results.csv and a markdown table, all from the same points.
import type { EvalPoint } from "./point.js";

export interface ReportMeta {
  readonly dataset: string;
  readonly preset?: string;
  readonly budget: number;
  readonly transferSet: string;
  readonly victimAccuracy: number;
  readonly command?: string;
  readonly totalSeconds?: number;
  readonly threat?: string;
  readonly [key: string]: unknown;
}

export function toJson(points: readonly EvalPoint[], meta: ReportMeta): string {
  return JSON.stringify({ meta, points }, null, 2) + "\n";
}

const csvColumns = [
  "dataset", "threat", "attack", "defense", "setting", "budget", "seed", "thiefAccuracy", "fidelity", "defenderAccuracy", "victimAccuracy",
  "l1Mean", "l1Std", "l2Mean", "l2Std", "klMean", "klStd", "top1Agreement", "top1MarginMean", "top1MarginBelow001",
  "targetL1Mean", "targetsRecovered", "queriesUsed", "seconds", "transferSet", "reusedFrom", "params", "diagnostics",
] as const;

function csvField(value: unknown): string {
  const text = value === null || value === undefined ? "" : typeof value === "object" ? JSON.stringify(value) : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(points: readonly EvalPoint[]): string {
  const lines = [csvColumns.join(",")];
  for (const p of points) lines.push(csvColumns.map((c) => csvField(p[c])).join(","));
  return lines.join("\n") + "\n";
}

const pct = (x: number) => (x * 100).toFixed(1);
// KL of a row with itself can come out as -1e-9 in float32: print it as 0, not "-0.000".
const num = (x: number, digits = 3) => (Number.isFinite(x) ? x.toFixed(digits).replace(/^-(0\.0*)$/, "$1") : "-");

/** Points sorted as tables and plots show them: by attack, then defense (in sweep order). */
export function sortPoints(points: readonly EvalPoint[], attackOrder: readonly string[] = [], defenseOrder: readonly string[] = []): EvalPoint[] {
  const rank = (list: readonly string[], x: string) => (list.includes(x) ? list.indexOf(x) : list.length);
  return [...points].sort(
    (a, b) =>
      rank(attackOrder, a.attack) - rank(attackOrder, b.attack) ||
      a.attack.localeCompare(b.attack) ||
      rank(defenseOrder, a.defense) - rank(defenseOrder, b.defense) ||
      a.defense.localeCompare(b.defense) ||
      a.order - b.order,
  );
}

/** The undefended thief's accuracy per attack: how strong the thief is, said beside every curve. */
export function undefendedSummary(points: readonly EvalPoint[]): string {
  const none = points.filter((p) => p.defense === "none");
  if (none.length === 0) return "no undefended point (add the defense \"none\")";
  return none.map((p) => `${p.attack} ${pct(p.thiefAccuracy)} %`).join(", ");
}

/** The strongest thief against one defense setting in one threat setting: the measure of the defense. */
export interface WorstCase {
  readonly threat: string;
  readonly defense: string;
  readonly setting: string;
  readonly order: number;
  readonly defenderAccuracy: number;
  readonly victimAccuracy: number;
  readonly l1Mean: number;
  /** The best thief's accuracy and its name (the first listed on ties). */
  readonly thiefAccuracy: number;
  readonly attack: string;
  /** The highest fidelity any thief reached against this setting. */
  readonly fidelity: number;
  readonly attacks: number;
}

const groupKey = (p: Pick<EvalPoint, "threat" | "defense" | "setting">) => `${p.threat}\u0000${p.defense}\u0000${p.setting}`;

/** One row per (threat, defense setting): the maximum over every thief measured against it. */
export function worstCases(points: readonly EvalPoint[]): WorstCase[] {
  const groups = new Map<string, EvalPoint[]>();
  for (const p of points) groups.set(groupKey(p), [...(groups.get(groupKey(p)) ?? []), p]);
  return [...groups.values()].map((group) => {
    const best = group.reduce((a, b) => (b.thiefAccuracy > a.thiefAccuracy ? b : a));
    return {
      threat: best.threat,
      defense: best.defense,
      setting: best.setting,
      order: best.order,
      defenderAccuracy: best.defenderAccuracy,
      victimAccuracy: best.victimAccuracy,
      l1Mean: group[0].l1Mean,
      thiefAccuracy: best.thiefAccuracy,
      attack: best.attack,
      fidelity: Math.max(...group.map((p) => p.fidelity)),
      attacks: group.length,
    };
  });
}

/** The headline of a defense: its lowest worst-case thief accuracy over the settings that cost the defender at most `maxLoss`. */
export interface Headline {
  readonly threat: string;
  readonly defense: string;
  readonly best: WorstCase | null;
  /** Settings within the loss allowance, of all measured. */
  readonly eligible: number;
  readonly settings: number;
}

export const HEADLINE_MAX_LOSS = 0.01;

export function headlines(points: readonly EvalPoint[], maxLoss = HEADLINE_MAX_LOSS): Headline[] {
  const cases = worstCases(points);
  const out: Headline[] = [];
  for (const key of new Set(cases.map((c) => `${c.threat}\u0000${c.defense}`))) {
    const [threat, defense] = key.split("\u0000");
    const all = cases.filter((c) => c.threat === threat && c.defense === defense);
    // A tolerance of 1e-9 so that a loss of exactly one point (e.g. 95.5 -> 94.5) counts as within it.
    const eligible = all.filter((c) => c.victimAccuracy - c.defenderAccuracy <= maxLoss + 1e-9);
    const best = eligible.length ? eligible.reduce((a, b) => (b.thiefAccuracy < a.thiefAccuracy ? b : a)) : null;
    out.push({ threat, defense, best, eligible: eligible.length, settings: all.length });
  }
  return out;
}

export function toHeadlineMarkdown(points: readonly EvalPoint[]): string {
  const rows = headlines(points);
  const undefended = new Map(worstCases(points).filter((c) => c.defense === "none").map((c) => [c.threat, c]));
  const lines = [
    "| threat | defense | best setting within 1 point of defender loss | defender acc. % | worst-case thief % (thief) | undefended worst case % | worst-case fidelity % | thieves |",
    "|---|---|---|---:|---:|---:|---:|---:|",
  ];
  for (const h of rows) {
    const none = undefended.get(h.threat);
    const b = h.best;
    lines.push(
      b
        ? `| ${h.threat} | ${h.defense} | ${b.setting} | ${pct(b.defenderAccuracy)} | **${pct(b.thiefAccuracy)}** (${b.attack}) | ${none ? pct(none.thiefAccuracy) : "-"} | ${pct(b.fidelity)} | ${b.attacks} |`
        : `| ${h.threat} | ${h.defense} | none of ${h.settings} settings | - | - | ${none ? pct(none.thiefAccuracy) : "-"} | - | - |`,
    );
  }
  return lines.join("\n") + "\n";
}

/** What a reader must know about how the thieves ran (e.g. a JB thief whose augmentation was shallow). */
export function thiefNotes(points: readonly EvalPoint[]): string[] {
  const notes: string[] = [];
  for (const attack of new Set(points.map((p) => p.attack))) {
    const rounds = points.filter((p) => p.attack === attack && !p.reusedFrom).map((p) => p.diagnostics?.rounds).filter((r): r is number => r !== undefined);
    if (rounds.length === 0) continue;
    const params = points.find((p) => p.attack === attack)!.thiefParams;
    const lo = Math.min(...rounds);
    const hi = Math.max(...rounds);
    const shallow = hi <= 3 || Number(params.epochs) <= 3;
    notes.push(
      `${attack}: ${lo === hi ? lo : `${lo}-${hi}`} augmentation rounds, substitutes trained ${params.epochs} epochs per round, final model ${params.finalEpochs} epochs` +
        (shallow ? " (shallow: few rounds of briefly trained substitutes, so its queries are mostly its seeds and a few generations of steps from them; not the reference's augmentation)" : "") + ".",
    );
  }
  return notes;
}

/** The thief notes, the headline per defense and the compact table: what every report shows first. */
export function worstCaseSection(points: readonly EvalPoint[]): string {
  const lines = thiefNotes(points).map((note) => `Note: ${note}`);
  lines.push("");
  lines.push("Worst case (the strongest thief) per defense, at most 1 point of defender accuracy lost:");
  lines.push("");
  lines.push(toHeadlineMarkdown(points));
  lines.push(toSummaryMarkdown(points, [...new Set(points.map((p) => p.attack))]));
  return lines.join("\n");
}

/** What a run on a user's own victim and data used (meta.user, from setup.ts's UserRunInfo), one line each. */
export function userRunLines(meta: ReportMeta): string[] {
  const user = meta.user as Record<string, unknown> | undefined;
  if (!user) return [];
  const lines = [
    `Victim: ${String(user.victim)}.`,
    `Test set: ${String(user.test)}. Transfer set (Knockoff's pool): ${String(user.transfer)}. JB seeds: ${String(user.seeds)}.`,
    `Thieves' architecture: ${String(user.thiefArch)}. MAD's proxy: ${String(user.proxy)}.`,
  ];
  if (user.testLabels === "victim") {
    lines.push(
      "The test set has no labels: every accuracy in this report (victim, defender, thief) is agreement with the victim's top-1 answer " +
        "(fidelity); the victim's own is 100 % by definition, the defender's is the share of answers that keep the victim's top-1.",
    );
  }
  return lines;
}

export function toMarkdown(points: readonly EvalPoint[], meta: ReportMeta): string {
  const lines: string[] = [];
  lines.push(
    `Dataset ${meta.dataset}${meta.preset ? ` (preset ${meta.preset})` : ""}; victim accuracy ${pct(meta.victimAccuracy)} %; ` +
      `budget ${meta.budget} queries; threat ${meta.threat ?? "-"}; Knockoff transfer set: ${meta.transferSet}.`,
  );
  lines.push(...userRunLines(meta));
  lines.push(`Undefended thief accuracy: ${undefendedSummary(points)}.`);
  lines.push(worstCaseSection(points));
  lines.push("All points:");
  lines.push("");
  lines.push("| threat | attack | defense | setting | thief acc. % | fidelity % | defender acc. % | L1 mean ± std | KL mean | top-1 kept % | top-1 margin | targets recovered % | queries | seconds |");
  lines.push("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const p of points) {
    const reused = p.reusedFrom ? " (reused)" : "";
    lines.push(
      `| ${p.threat} | ${p.attack} | ${p.defense} | ${p.setting} | ${pct(p.thiefAccuracy)}${reused} | ${pct(p.fidelity)} | ${pct(p.defenderAccuracy)} | ` +
        `${num(p.l1Mean)} ± ${num(p.l1Std)} | ${num(p.klMean)} | ${pct(p.top1Agreement)} | ${num(p.top1MarginMean)} | ${pct(p.targetsRecovered)} | ${p.queriesUsed} | ${p.seconds.toFixed(1)} |`,
    );
  }
  return lines.join("\n") + "\n";
}

/**
 * One row per defense setting, one thief-accuracy column per attack and the worst case (the best thief)
 * as its own column: the compact view printed by the CLI. L1 is the first attack's (fixed-sample
 * thieves share one query set; adaptive thieves' differ slightly); the margin is over the test answers.
 */
export function toSummaryMarkdown(points: readonly EvalPoint[], attackOrder: readonly string[] = []): string {
  const attacks = [...new Set([...attackOrder.filter((a) => points.some((p) => p.attack === a)), ...points.map((p) => p.attack)])];
  const threats = new Set(points.map((p) => p.threat)).size > 1;
  const rows = new Map<string, EvalPoint[]>();
  for (const p of points) rows.set(groupKey(p), [...(rows.get(groupKey(p)) ?? []), p]);
  const worst = new Map(worstCases(points).map((c) => [groupKey(c), c]));
  const lines = [
    `| ${threats ? "threat | " : ""}defense | setting | defender acc. % | top-1 margin (< 0.01 %) | mean L1 | ${attacks.map((a) => `${a} %`).join(" | ")} | worst case % | worst fidelity % |`,
    `|${threats ? "---|" : ""}---|---|---:|---:|---:|${attacks.map(() => "---:").join("|")}|---:|---:|`,
  ];
  for (const [key, group] of rows) {
    const first = attacks.map((a) => group.find((p) => p.attack === a)).find((p) => p) ?? group[0];
    const cells = attacks.map((a) => {
      const p = group.find((q) => q.attack === a);
      return p ? pct(p.thiefAccuracy) : "-";
    });
    const w = worst.get(key)!;
    lines.push(
      `| ${threats ? `${first.threat} | ` : ""}${first.defense} | ${first.setting} | ${pct(first.defenderAccuracy)} | ${num(first.top1MarginMean)} (${pct(first.top1MarginBelow001)}) | ` +
        `${num(first.l1Mean)} | ${cells.join(" | ")} | **${pct(w.thiefAccuracy)}** (${w.attack}) | ${pct(w.fidelity)} |`,
    );
  }
  return lines.join("\n") + "\n";
}
