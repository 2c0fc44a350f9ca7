// A line chart of step series (loss, learning rate, grad norm, eval metrics): integer step ticks,
// epoch markers, the legend above the plot area, optional threshold lines (max_grad_norm), and a
// log-scale twin the page's checkbox switches to. Points carry their step and value for the hover.

import { esc } from "./html.js";
import { COLORS, chartFrame, legend, svgOf } from "./chart_frame.js";
import { formatMetric } from "./format.js";
import type { Plot } from "./series.js";

export interface LineChartOptions {
  /** Steps where epochs end: dashed vertical markers. */
  epochs?: { epoch: number; step: number }[];
  /** Horizontal reference lines (the clipping threshold). */
  hlines?: { y: number; label: string }[];
  /** Also draw a log-y version, shown by the caption's checkbox. */
  logOption?: boolean;
  /** Colours per series (compare pages: one per run). */
  colors?: string[];
}

function minMax(values: number[]): [number, number] {
  return [values.reduce((m, v) => Math.min(m, v), Infinity), values.reduce((m, v) => Math.max(m, v), -Infinity)];
}

function lineSvg(p: Plot, o: LineChartOptions, logY: boolean, colors: string[]): string {
  const all = p.series.flatMap((s) => s.points);
  // reduce, not a spread call: a long run logs more points than a call takes arguments
  const [x0, x1] = minMax(all.map((q) => q[0]));
  const ys = all.map((q) => q[1]).concat((o.hlines ?? []).map((h) => h.y));
  let [y0, y1] = minMax(logY ? ys.filter((y) => y > 0) : ys);
  if (!Number.isFinite(y0)) [y0, y1] = minMax(ys);
  const f = chartFrame({ x: [Math.min(0, x0), Math.max(x1, 1)], y: [y0, y1], xLabel: "step", integerX: true, logY, metric: p.metric });
  const body: string[] = [];
  for (const e of o.epochs ?? []) {
    if (e.step > x1 * 1.0001) continue;
    const x = f.sx(e.step).toFixed(1);
    body.push(`<g class="epoch"><line x1="${x}" x2="${x}" y1="${f.box.top}" y2="${f.box.bottom}" stroke="#9aa3af" stroke-dasharray="3 3"/><text x="${Number(x) - 3}" y="${f.box.top + 10}" text-anchor="end" font-size="10">epoch ${e.epoch}</text></g>`);
  }
  for (const h of o.hlines ?? []) {
    const y = f.sy(h.y).toFixed(1);
    body.push(`<g class="hline"><line x1="${f.box.left}" x2="${f.box.right}" y1="${y}" y2="${y}" stroke="#bc4c00" stroke-dasharray="6 3"/><text x="${f.box.right - 4}" y="${Number(y) - 4}" text-anchor="end" fill="#bc4c00">${esc(h.label)}</text></g>`);
  }
  p.series.forEach((s, i) => {
    const c = colors[i % colors.length];
    const pts = s.points.filter(([, y]) => !logY || y > 0);
    body.push(`<g class="series" data-series="${esc(s.name)}" data-count="${pts.length}" data-color="${c}">`);
    if (pts.length > 1) body.push(`<polyline fill="none" stroke="${c}" stroke-width="1.6"${s.dashed ? ` stroke-dasharray="5 3"` : ""} points="${pts.map(([x, y]) => `${f.sx(x).toFixed(1)},${f.sy(y).toFixed(1)}`).join(" ")}"/>`);
    for (const [x, y] of pts) body.push(`<circle class="pt" cx="${f.sx(x).toFixed(1)}" cy="${f.sy(y).toFixed(1)}" r="${pts.length > 200 ? 1.5 : 2.5}" fill="${c}" data-step="${x}" data-v="${esc(formatMetric(p.metric ?? s.name, y))}"/>`);
    body.push(`</g>`);
  });
  body.push(`<line class="guide" x1="0" x2="0" y1="${f.box.top}" y2="${f.box.bottom}" stroke="#6e7781" visibility="hidden"/>`);
  return svgOf(f, body, logY ? "chart log" : "chart lin");
}

/** A figure (id plot-<id>): caption, legend, the chart (and its log-y twin when asked), a hover tooltip. */
export function lineChart(p: Plot, o: LineChartOptions = {}): string {
  const colors = o.colors ?? COLORS;
  const canLog = Boolean(o.logOption) && p.series.some((s) => s.points.some(([, y]) => y > 0));
  const caption = `<figcaption>${esc(p.title)}${canLog ? `<label><input type="checkbox" class="logy"> log scale</label>` : ""}</figcaption>`;
  const items = p.series.map((s, i) => ({ name: s.name, color: colors[i % colors.length], dashed: s.dashed }));
  const charts = lineSvg(p, o, false, colors) + (canLog ? lineSvg(p, o, true, colors).replace("<svg ", `<svg style="display:none" `) : "");
  return `<figure class="plot" id="plot-${esc(p.id)}">${caption}${legend(items)}${charts}<div class="tip"></div></figure>`;
}
