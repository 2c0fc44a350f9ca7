// report.html: one self-contained page (inline SVG, no scripts, no network) with the curves of a
// run (train/eval loss, learning rate, grad norm, every eval metric) over steps, the run's
// arguments and its final metrics.

import type { LogEntry } from "./callbacks.js";

export interface Series {
  name: string;
  points: [number, number][];
}

export interface Plot {
  id: string;
  title: string;
  series: Series[];
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf"];

function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

function fmt(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(2) : String(Number(v.toPrecision(4)));
}

/** The plots of a log history (series with no finite points are left out; empty plots too). */
export function plotsFromLogHistory(log: LogEntry[]): Plot[] {
  const pick = (key: string, filter: (e: LogEntry) => boolean = () => true): [number, number][] =>
    log.filter((e) => typeof e[key] === "number" && typeof e.step === "number" && Number.isFinite(e[key] as number) && filter(e))
      .map((e) => [e.step as number, e[key] as number]);
  const plots: Plot[] = [
    { id: "loss", title: "Loss", series: [{ name: "train loss", points: pick("loss") }, { name: "eval loss", points: pick("eval_loss") }] },
    { id: "learning_rate", title: "Learning rate", series: [{ name: "learning_rate", points: pick("learning_rate") }] },
    { id: "grad_norm", title: "Gradient norm (before clipping)", series: [{ name: "grad_norm", points: pick("grad_norm") }] },
    // DP-SGD runs (TrainingArguments.dp): the privacy spent so far
    { id: "epsilon", title: "Privacy spent ε (DP-SGD)", series: [{ name: "epsilon", points: pick("epsilon") }] },
  ];
  const skip = new Set(["eval_loss", "eval_runtime", "eval_samples_per_second", "eval_steps_per_second"]);
  const metricKeys = new Set<string>();
  for (const e of log) for (const k of Object.keys(e)) if (k.startsWith("eval_") && !skip.has(k) && typeof e[k] === "number") metricKeys.add(k);
  for (const k of [...metricKeys].sort()) plots.push({ id: k, title: k, series: [{ name: k, points: pick(k) }] });
  for (const p of plots) p.series = p.series.filter((s) => s.points.length > 0);
  return plots.filter((p) => p.series.length > 0);
}

function svgPlot(p: Plot): string {
  const W = 520, H = 260, L = 64, R = 16, T = 16, B = 36;
  const all = p.series.flatMap((s) => s.points);
  // reduce, not a spread call: a long run logs more points than a call takes arguments
  let [x0, x1] = [all.reduce((m, q) => Math.min(m, q[0]), Infinity), all.reduce((m, q) => Math.max(m, q[0]), -Infinity)];
  let [y0, y1] = [all.reduce((m, q) => Math.min(m, q[1]), Infinity), all.reduce((m, q) => Math.max(m, q[1]), -Infinity)];
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  if (y0 === y1) { const d = Math.abs(y0) * 0.1 || 1; y0 -= d; y1 += d; }
  const sx = (x: number) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y: number) => H - B - ((y - y0) / (y1 - y0)) * (H - T - B);
  const parts: string[] = [];
  parts.push(`<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="#fff" stroke="#ccc"/>`);
  for (let i = 0; i <= 4; i++) {
    const y = y0 + ((y1 - y0) * i) / 4, x = x0 + ((x1 - x0) * i) / 4;
    parts.push(`<text x="${L - 6}" y="${sy(y) + 4}" text-anchor="end" font-size="10">${esc(fmt(y))}</text>`);
    parts.push(`<text x="${sx(x)}" y="${H - B + 14}" text-anchor="middle" font-size="10">${esc(fmt(Math.round(x * 100) / 100))}</text>`);
  }
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 4}" text-anchor="middle" font-size="11">step</text>`);
  p.series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const pts = s.points.map(([x, y]) => `${sx(x).toFixed(2)},${sy(y).toFixed(2)}`).join(" ");
    parts.push(`<g class="series" data-series="${esc(s.name)}" data-count="${s.points.length}">`);
    if (s.points.length > 1) parts.push(`<polyline fill="none" stroke="${c}" stroke-width="1.5" points="${pts}"/>`);
    for (const [x, y] of s.points) parts.push(`<circle class="pt" cx="${sx(x).toFixed(2)}" cy="${sy(y).toFixed(2)}" r="2.5" fill="${c}"><title>step ${x}: ${esc(fmt(y))}</title></circle>`);
    parts.push(`</g>`);
    parts.push(`<text x="${L + 8}" y="${T + 14 + 13 * i}" font-size="11" fill="${c}">${esc(s.name)}</text>`);
  });
  return `<figure class="plot" id="plot-${esc(p.id)}"><figcaption>${esc(p.title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">${parts.join("")}</svg></figure>`;
}

function table(obj: Record<string, unknown>): string {
  const rows = Object.entries(obj).map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(typeof v === "object" ? JSON.stringify(v) : v)}</td></tr>`);
  return `<table>${rows.join("")}</table>`;
}

export function renderReport(opts: { title: string; logHistory: LogEntry[]; args: Record<string, unknown>; metrics: Record<string, unknown> }): string {
  const plots = plotsFromLogHistory(opts.logHistory);
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(opts.title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}.plots{display:flex;flex-wrap:wrap;gap:16px}
figure{margin:0;border:1px solid #ddd;padding:8px}figcaption{font-weight:600;margin-bottom:4px}
table{border-collapse:collapse;font-size:13px}td{border:1px solid #ddd;padding:2px 8px}</style></head>
<body><h1>${esc(opts.title)}</h1>
<h2>Final metrics</h2>${table(opts.metrics)}
<h2>Curves</h2><div class="plots">${plots.map(svgPlot).join("\n")}</div>
<h2>Arguments</h2>${table(opts.args)}
</body></html>
`;
}
