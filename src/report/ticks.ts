// "Nice" axis ticks (1, 2, 2.5, 5 × 10^k steps) over a data range; integer ticks for step axes.

/** The nice step for `span` split into about `target` intervals (1, 2, 2.5 or 5 × 10^k). */
export function niceStep(span: number, target: number): number {
  if (!(span > 0) || !Number.isFinite(span)) return 1;
  const raw = span / Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = (raw / mag) * (1 - 1e-9); // 0.0025 / 5 is 0.0005000…1 in floats: still a 5
  const m = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
  return m * mag;
}

export interface Ticks {
  /** The axis range (the data range widened to whole ticks). */
  lo: number;
  hi: number;
  values: number[];
}

/**
 * Ticks covering [lo, hi] with about `target` intervals. `integer`: every tick a whole number
 * (steps), the step at least 1. The range is widened to the enclosing ticks.
 */
export function niceTicks(lo: number, hi: number, target = 5, opts: { integer?: boolean } = {}): Ticks {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return { lo: 0, hi: 1, values: [0, 1] };
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) {
    const d = opts.integer ? 1 : Math.abs(lo) * 0.1 || 1;
    lo -= d;
    hi += d;
  }
  let step = niceStep(hi - lo, target);
  if (opts.integer) step = Math.max(1, Math.round(step));
  const start = Math.floor(lo / step + 1e-9) * step, end = Math.ceil(hi / step - 1e-9) * step;
  const values: number[] = [];
  const digits = Math.max(0, -Math.floor(Math.log10(step)) + 2);
  for (let i = 0, v = start; v <= end + step * 1e-9 && i < 1000; i++, v = start + i * step) values.push(opts.integer ? Math.round(v) : Number(v.toFixed(digits)));
  return { lo: values[0], hi: values[values.length - 1], values };
}

/** Ticks of a log axis over [lo, hi] (lo > 0): the powers of ten inside, with 2 and 5 multiples when there are few. */
export function logTicks(lo: number, hi: number): Ticks {
  const a = Math.floor(Math.log10(lo)), b = Math.ceil(Math.log10(hi));
  const values: number[] = [];
  const mult = b - a <= 2 ? [1, 2, 5] : [1];
  for (let e = a; e <= b; e++) for (const m of mult) {
    const v = Number((m * 10 ** e).toPrecision(6));
    if (v >= lo * 0.999 && v <= hi * 1.001) values.push(v);
  }
  if (values.length < 2) return { lo, hi, values: [Number(lo.toPrecision(3)), Number(hi.toPrecision(3))] };
  return { lo, hi, values };
}
