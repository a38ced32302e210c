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
  readonly [key: string]: unknown;
}

export function toJson(points: readonly EvalPoint[], meta: ReportMeta): string {
  return JSON.stringify({ meta, points }, null, 2) + "\n";
}

const csvColumns = [
  "dataset", "attack", "defense", "setting", "budget", "seed", "thiefAccuracy", "defenderAccuracy", "victimAccuracy",
  "l1Mean", "l1Std", "l2Mean", "l2Std", "klMean", "klStd", "top1Agreement", "queriesUsed", "seconds", "transferSet", "reusedFrom", "params",
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

export function toMarkdown(points: readonly EvalPoint[], meta: ReportMeta): string {
  const lines: string[] = [];
  lines.push(
    `Dataset ${meta.dataset}${meta.preset ? ` (preset ${meta.preset})` : ""}; victim accuracy ${pct(meta.victimAccuracy)} %; ` +
      `budget ${meta.budget} queries; Knockoff transfer set: ${meta.transferSet}.`,
  );
  lines.push(`Undefended thief accuracy: ${undefendedSummary(points)}.`);
  lines.push("");
  lines.push(toSummaryMarkdown(points, [...new Set(points.map((p) => p.attack))]));
  lines.push("All points:");
  lines.push("");
  lines.push("| attack | defense | setting | thief acc. % | defender acc. % | L1 mean ± std | L2 mean | KL mean | top-1 kept % | queries | seconds |");
  lines.push("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const p of points) {
    const reused = p.reusedFrom ? " (reused)" : "";
    lines.push(
      `| ${p.attack} | ${p.defense} | ${p.setting} | ${pct(p.thiefAccuracy)}${reused} | ${pct(p.defenderAccuracy)} | ` +
        `${num(p.l1Mean)} ± ${num(p.l1Std)} | ${num(p.l2Mean)} | ${num(p.klMean)} | ${pct(p.top1Agreement)} | ${p.queriesUsed} | ${p.seconds.toFixed(1)} |`,
    );
  }
  return lines.join("\n") + "\n";
}

/**
 * One row per defense setting, one thief-accuracy column per attack: the compact view printed by the
 * CLI. L1 is the first attack's (pool thieves share one query set; adaptive thieves' differ slightly).
 */
export function toSummaryMarkdown(points: readonly EvalPoint[], attackOrder: readonly string[] = []): string {
  const attacks = [...new Set([...attackOrder.filter((a) => points.some((p) => p.attack === a)), ...points.map((p) => p.attack)])];
  const rows = new Map<string, EvalPoint[]>();
  for (const p of points) {
    const key = `${p.defense}\u0000${p.setting}`;
    rows.set(key, [...(rows.get(key) ?? []), p]);
  }
  const lines = [
    `| defense | setting | defender acc. % | mean L1 | ${attacks.map((a) => `${a} thief %`).join(" | ")} |`,
    `|---|---|---:|---:|${attacks.map(() => "---:").join("|")}|`,
  ];
  for (const group of rows.values()) {
    const first = attacks.map((a) => group.find((p) => p.attack === a)).find((p) => p) ?? group[0];
    const cells = attacks.map((a) => {
      const p = group.find((q) => q.attack === a);
      return p ? pct(p.thiefAccuracy) : "-";
    });
    lines.push(`| ${first.defense} | ${first.setting} | ${pct(first.defenderAccuracy)} | ${num(first.l1Mean)} | ${cells.join(" | ")} |`);
  }
  return lines.join("\n") + "\n";
}
