// A preset with several threat settings runs each into its own folder; this writes the report over all
// of them at the top: every point (results.json, results.csv), the worst-case headline per threat and
// defense, and the worst-case plots.
import { renderPlots } from "./plot.js";
import type { EvalPoint } from "./point.js";
import { POINT_SCHEMA } from "./point.js";
import { toCsv, toJson, worstCaseSection, type ReportMeta } from "./report.js";
import type { EvalStore, RunSummary } from "./runner.js";

export interface CombinedReport {
  readonly points: EvalPoint[];
  readonly markdown: string;
  readonly plots: string[];
}

export async function writeCombinedReport(
  store: EvalStore,
  runs: readonly { readonly folder: string; readonly summary: RunSummary; readonly watermark?: string }[],
  info: { readonly preset?: string; readonly command?: string; readonly totalSeconds: number },
): Promise<CombinedReport> {
  const points = runs.flatMap((r) => r.summary.points);
  const first = runs[0].summary.meta;
  const meta: ReportMeta = {
    schema: POINT_SCHEMA,
    dataset: first.dataset,
    preset: info.preset,
    budget: first.budget,
    transferSet: runs.map((r) => r.summary.meta.transferSet).join(", "),
    victimAccuracy: first.victimAccuracy,
    victim: first.victim,
    threats: runs.map((r) => ({ folder: r.folder, ...r.summary.meta })),
    command: info.command,
    totalSeconds: info.totalSeconds,
  };
  const lines: string[] = [];
  lines.push(`Dataset ${meta.dataset}${meta.preset ? ` (preset ${meta.preset})` : ""}; victim accuracy ${(meta.victimAccuracy * 100).toFixed(1)} %.`);
  for (const r of runs) {
    const m = r.summary.meta;
    lines.push(`- ${m.threat}: ${m.budget} queries from ${m.transferSet}; undefended: ${m.undefendedThieves} (every point: ${r.folder}/results.md)`);
  }
  lines.push(worstCaseSection(points));
  const watermarks = runs.filter((r) => r.watermark);
  if (watermarks.length) {
    lines.push("", "## Ownership: watermarked answers (DAWN) and `verify`", "");
    for (const r of watermarks) lines.push(r.watermark!, `(every suspect: ${r.folder}/watermark/results.json)`, "");
  }
  const markdown = lines.join("\n") + "\n";
  await store.writeText("results.json", toJson(points, meta));
  await store.writeText("results.csv", toCsv(points));
  await store.writeText("results.md", markdown);
  const plots: string[] = [];
  for (const plot of await renderPlots(points, meta.dataset)) {
    await store.writeText(`plots/${plot.name}`, plot.svg);
    plots.push(store.where(`plots/${plot.name}`));
  }
  return { points, markdown, plots };
}
