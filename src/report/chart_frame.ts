// The frame every report chart draws in: plot box, nice ticks on both axes (integer steps on x),
// gridlines, axis titles, linear or log y, and the scales that map data to SVG coordinates.

import { esc } from "./html.js";
import { formatNumber, isRateMetric } from "./format.js";
import { logTicks, niceTicks } from "./ticks.js";

export const CHART = { W: 500, H: 250, L: 60, R: 14, T: 12, B: 38 };

export const COLORS = ["#1f6feb", "#d1242f", "#1a7f37", "#8250df", "#bc4c00", "#0a7f8c", "#bf3989", "#6e7781"];

export interface FrameOptions {
  x: [number, number];
  y: [number, number];
  xLabel: string;
  yLabel?: string;
  /** Whole-number x ticks (steps, counts). */
  integerX?: boolean;
  logY?: boolean;
  /** The metric the y values carry: rates get percent ticks. */
  metric?: string;
  /** Pin the y range instead of widening it to nice ticks (0–1 reliability diagrams). */
  fixedY?: boolean;
  fixedX?: boolean;
  width?: number;
  height?: number;
}

export interface Frame {
  sx(x: number): number;
  sy(y: number): number;
  /** SVG elements of the frame (box, gridlines, tick labels, axis titles). */
  parts: string[];
  width: number;
  height: number;
  box: { left: number; top: number; right: number; bottom: number };
}

/** A tick label: percent for rate metrics, else 3 significant digits with separators. */
export function tickLabel(v: number, metric?: string): string {
  if (metric && isRateMetric(metric)) return `${Number((v * 100).toPrecision(3))}%`;
  return formatNumber(v, 3);
}

export function chartFrame(o: FrameOptions): Frame {
  const W = o.width ?? CHART.W, H = o.height ?? CHART.H;
  const { L, R, T, B } = CHART;
  const xt = o.fixedX ? { lo: o.x[0], hi: o.x[1], values: niceTicks(o.x[0], o.x[1], 5).values.filter((v) => v >= o.x[0] && v <= o.x[1]) }
    : niceTicks(o.x[0], o.x[1], 6, { integer: o.integerX ?? false });
  const positive = o.y[0] > 0;
  const logY = Boolean(o.logY && positive);
  let yt = logY ? logTicks(o.y[0], o.y[1]) : niceTicks(o.y[0], o.y[1], 5);
  if (o.fixedY) yt = { lo: o.y[0], hi: o.y[1], values: niceTicks(o.y[0], o.y[1], 5).values.filter((v) => v >= o.y[0] && v <= o.y[1]) };
  if (logY && yt.lo === yt.hi) yt = { ...yt, lo: yt.lo / 2, hi: yt.hi * 2 };
  // a rate's axis stays inside 0–100% (a constant 0% run would otherwise show −100%…100%)
  if (!logY && o.metric && isRateMetric(o.metric) && o.y[0] >= 0 && o.y[1] <= 1) {
    const lo = Math.max(0, yt.lo), hi = Math.min(1, yt.hi);
    yt = { lo, hi: hi > lo ? hi : lo + 0.1, values: yt.values.filter((v) => v >= lo - 1e-12 && v <= hi + 1e-12) };
  }
  const box = { left: L, top: T, right: W - R, bottom: H - B };
  const sx = (x: number) => box.left + ((x - xt.lo) / (xt.hi - xt.lo || 1)) * (box.right - box.left);
  const ty = (y: number) => (logY ? Math.log10(y) : y);
  const sy = (y: number) => box.bottom - ((ty(y) - ty(yt.lo)) / (ty(yt.hi) - ty(yt.lo) || 1)) * (box.bottom - box.top);
  const parts: string[] = [`<rect class="box" x="${box.left}" y="${box.top}" width="${box.right - box.left}" height="${box.bottom - box.top}" fill="#fff" stroke="#c9ced6"/>`];
  for (const v of yt.values) {
    const y = sy(v).toFixed(1);
    parts.push(`<line x1="${box.left}" x2="${box.right}" y1="${y}" y2="${y}" stroke="#eceef2"/>`);
    parts.push(`<text class="ytick" x="${box.left - 6}" y="${Number(y) + 4}" text-anchor="end">${esc(tickLabel(v, o.metric))}</text>`);
  }
  for (const v of xt.values) {
    const x = sx(v).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${box.top}" y2="${box.bottom}" stroke="#f1f2f5"/>`);
    parts.push(`<text class="xtick" x="${x}" y="${box.bottom + 14}" text-anchor="middle">${esc(o.integerX ? v.toLocaleString("en-US") : tickLabel(v))}</text>`);
  }
  parts.push(`<text class="axis-title" x="${(box.left + box.right) / 2}" y="${H - 6}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  if (o.yLabel) parts.push(`<text class="axis-title" transform="translate(12 ${(box.top + box.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  return { sx, sy, parts, width: W, height: H, box };
}

/** The svg element around a frame's parts and the chart's own elements. */
export function svgOf(f: Frame, body: string[], cls = ""): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" class="${cls}" width="${f.width}" height="${f.height}" viewBox="0 0 ${f.width} ${f.height}">${f.parts.join("")}${body.join("")}</svg>`;
}

/** The HTML legend above a chart (outside the plot area): colour swatch and name per series. */
export function legend(items: { name: string; color: string; dashed?: boolean }[]): string {
  return `<div class="legend">${items.map((s) => `<span class="item" style="color:${s.color}"><span class="sw${s.dashed ? " dash" : ""}" style="background:${s.color}"></span><span style="color:#333">${esc(s.name)}</span></span>`).join("")}</div>`;
}
