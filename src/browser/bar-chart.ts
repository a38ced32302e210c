// A probability bar chart in plain SVG: one bar per class, its value above it, the top-1 bar highlighted,
// and optionally the bars of a reference vector drawn as outlines (the victim's answer behind the poisoned
// one), so the shift the defense made is visible at a glance. Numbers stay readable in the DOM for tests.

const SVG_NS = "http://www.w3.org/2000/svg";

export interface BarChartData {
  /** Probabilities, one per class. */
  probs: ArrayLike<number>;
  /** Drawn as outlines behind the bars (same length as probs). */
  reference?: ArrayLike<number>;
  /** Class names; defaults to 0..K-1. */
  labels?: readonly string[];
  /** Accessible description of the chart. */
  caption: string;
}

function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Replaces the content of `container` with the chart. */
export function renderBarChart(container: HTMLElement, data: BarChartData): void {
  const k = data.probs.length;
  const width = 360, height = 200, top = 22, bottom = 24, left = 30, right = 6;
  const plotH = height - top - bottom;
  const slot = (width - left - right) / k;
  const barW = Math.max(4, slot * 0.62);
  const best = argmax(data.probs);
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": data.caption, class: "bar-chart" });
  svg.appendChild(el("title", {}, data.caption));
  // Probabilities on a fixed 0..1 scale, so charts are comparable at a glance.
  for (const tick of [0.25, 0.5, 0.75, 1]) {
    const y = top + plotH - tick * plotH;
    svg.appendChild(el("line", { x1: left, x2: width - right, y1: y, y2: y, class: "grid" }));
    svg.appendChild(el("text", { x: left - 4, y: y + 3, class: "tick-label" }, `${tick * 100}%`));
  }
  svg.appendChild(el("line", { x1: left, x2: width - right, y1: top + plotH, y2: top + plotH, class: "axis" }));
  for (let i = 0; i < k; i++) {
    const p = Math.min(1, Math.max(0, data.probs[i]));
    const x = left + i * slot + (slot - barW) / 2;
    const h = p * plotH;
    const group = el("g", { class: i === best ? "bar top1" : "bar", "data-class": i, "data-prob": data.probs[i] });
    if (data.reference) {
      const r = Math.min(1, Math.max(0, data.reference[i]));
      group.appendChild(el("rect", { x: x - 2, y: top + plotH - r * plotH, width: barW + 4, height: r * plotH, class: "reference" }));
    }
    const rect = el("rect", { x, y: top + plotH - h, width: barW, height: Math.max(h, 0.5), class: "value" });
    rect.appendChild(el("title", {}, `${data.labels?.[i] ?? i}: ${data.probs[i].toFixed(4)}`));
    group.appendChild(rect);
    // Tiny values would only crowd the chart with "<0.1%" labels; their bar's tooltip still has the number.
    if (p >= 0.005) group.appendChild(el("text", { x: x + barW / 2, y: top + plotH - h - 4, class: "value-label" }, formatPercent(data.probs[i])));
    group.appendChild(el("text", { x: x + barW / 2, y: height - 6, class: "class-label" }, data.labels?.[i] ?? String(i)));
    svg.appendChild(group);
  }
  container.replaceChildren(svg);
  container.dataset.probs = JSON.stringify(Array.from(data.probs));
  container.dataset.top1 = String(best);
}

function formatPercent(p: number): string {
  const pct = p * 100;
  return pct >= 9.95 ? `${pct.toFixed(0)}%` : `${pct.toFixed(1)}%`;
}
