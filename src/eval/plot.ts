// SVG plots like the paper's figures: for one thief, its accuracy against the defender's accuracy (or
// against the mean L1 perturbation), one line per defense along its parameter sweep. Rendered by
// vega-lite + vega headless (renderer "none", no canvas needed), so the plotting is a spec, not code.
// Pinned to vega 5 / vega-lite 5: their 6.x releases require Node >= 22.
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import type { EvalPoint } from "./point.js";
import { worstCases } from "./report.js";

export type PlotAxis = "defenderAccuracy" | "l1Mean";

const axisTitle: Record<PlotAxis, string> = {
  defenderAccuracy: "defender accuracy (argmax of the answers on the test set)",
  l1Mean: "mean L1 distance between the victim's and the defended answers",
};

interface CurvePoint {
  readonly defense: string;
  readonly setting: string;
  readonly order: number;
  readonly x: number;
  readonly thief: number;
}

/** Lines of thief accuracy against `x`, one per defense along its sweep, each starting at the undefended point. */
function curvesSpec(rows: CurvePoint[], xTitle: string, yTitle: string, title: string): TopLevelSpec {
  const undefended = rows.find((r) => r.defense === "none");
  // As in the paper's figures, every defense's curve starts at the undefended point (epsilon = 0).
  if (undefended) {
    for (const defense of new Set(rows.filter((r) => r.defense !== "none").map((r) => r.defense))) {
      rows.push({ ...undefended, defense, setting: "undefended", order: -1 });
    }
  }
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title,
    width: 420,
    height: 300,
    data: { values: rows },
    layer: [
      {
        mark: { type: "line", point: { filled: true, size: 50 }, strokeWidth: 2 },
        encoding: {
          x: { field: "x", type: "quantitative", title: xTitle, scale: { zero: false } },
          y: { field: "thief", type: "quantitative", title: yTitle, scale: { domain: [0, 1] } },
          color: { field: "defense", type: "nominal", title: "defense" },
          order: { field: "order", type: "quantitative" },
        },
      },
      ...(undefended
        ? [
            {
              mark: { type: "rule" as const, strokeDash: [4, 4], color: "#888" },
              encoding: { y: { datum: undefended.thief, type: "quantitative" as const } },
            },
          ]
        : []),
    ],
    config: { font: "sans-serif", background: "white" },
  } as TopLevelSpec;
}

export function plotSpec(points: readonly EvalPoint[], attack: string, x: PlotAxis, title?: string): TopLevelSpec {
  const rows = points
    .filter((p) => p.attack === attack)
    .map((p) => ({ defense: p.defense, setting: p.setting, order: p.order, x: p[x], thief: p.thiefAccuracy }));
  return curvesSpec(rows, axisTitle[x], `${attack} thief's test accuracy`, title ?? `${attack} thief`);
}

/** The worst case against defender accuracy: per defense setting, the best thief's accuracy. */
export function worstCasePlotSpec(points: readonly EvalPoint[], title: string): TopLevelSpec {
  const rows = worstCases(points).map((c) => ({ defense: c.defense, setting: c.setting, order: c.order, x: c.defenderAccuracy, thief: c.thiefAccuracy }));
  return curvesSpec(rows, axisTitle.defenderAccuracy, "worst-case thief's test accuracy (the best of all thieves)", title);
}

/** Renders a vega-lite spec to an SVG string without a browser or canvas. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** One file name and SVG per (threat, thief, x axis), and the worst case per threat; threat folders when there are several. */
export async function renderPlots(points: readonly EvalPoint[], dataset: string): Promise<{ name: string; svg: string }[]> {
  const threats = [...new Set(points.map((p) => p.threat))];
  const out: { name: string; svg: string }[] = [];
  for (const threat of threats) {
    const here = points.filter((p) => p.threat === threat);
    const dir = threats.length > 1 ? `${threat}/` : "";
    const budget = here[0]?.budget;
    out.push({ name: `${dir}worst-case-vs-defender.svg`, svg: await renderSvg(worstCasePlotSpec(here, `${dataset}, ${threat}: worst-case thief (${budget} queries)`)) });
    for (const attack of new Set(here.map((p) => p.attack))) {
      for (const [x, suffix] of [["defenderAccuracy", "vs-defender"], ["l1Mean", "vs-l1"]] as const) {
        const svg = await renderSvg(plotSpec(here, attack, x, `${dataset}, ${threat}: ${attack} thief (${budget} queries)`));
        out.push({ name: `${dir}${attack}-${suffix}.svg`, svg });
      }
    }
  }
  return out;
}
