// Numbers for people: 3–4 significant digits, thousands separators, percentages for rates
// (accuracy, F1, …), durations as "1 min 42 s". Used by the report pages and the CLI's terminal summary.

/** A number with `sig` significant digits (default 4), thousands separators, no exponent between 1e-4 and 1e15. */
export function formatNumber(v: number, sig = 4): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (Number.isInteger(v) && a < 1e15) return v.toLocaleString("en-US");
  if (a < 1e-4) return v.toExponential(Math.max(0, sig - 1)).replace(/\.?0+e/, "e");
  if (a >= 1e15) return v.toExponential(Math.max(0, sig - 1)).replace(/\.?0+e/, "e");
  const digits = Math.max(0, sig - 1 - Math.floor(Math.log10(a)));
  const r = Number(v.toFixed(Math.min(digits, 20)));
  return r.toLocaleString("en-US", { maximumFractionDigits: Math.min(digits, 20) });
}

/** A whole count with thousands separators (1,234,567). */
export function formatCount(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : String(n);
}

/** A fraction in [0, 1] as a percentage: 0.7454 → "74.54%" (`sig` significant digits, at least one decimal). */
export function formatPercent(fraction: number, sig = 4): string {
  if (!Number.isFinite(fraction)) return String(fraction);
  const p = fraction * 100;
  const whole = Math.abs(p) >= 1 ? Math.floor(Math.log10(Math.abs(p))) + 1 : 1;
  // trailing zeros dropped down to one decimal: 55.0%, 74.54%
  return `${p.toFixed(Math.max(1, sig - whole)).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, ".0")}%`;
}

/** Seconds as "850 ms", "4.2 s", "1 min 42 s", "2 h 05 min". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return String(seconds);
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const total = Math.round(seconds);
  if (total < 3600) return `${Math.floor(total / 60)} min ${total % 60} s`;
  const h = Math.floor(total / 3600), m = Math.round((total % 3600) / 60);
  return m === 60 ? `${h + 1} h 00 min` : `${h} h ${String(m).padStart(2, "0")} min`;
}

/** Metric names whose values are fractions shown as percentages (accuracy, F1, precision, recall, …). */
export function isRateMetric(key: string): boolean {
  return /(^|_)(accuracy|acc|f1|precision|recall|matthews_correlation|mcc)$/.test(key) && !/exact_match/.test(key);
}

const SECONDS = /(_runtime|_seconds|^wall_time)$/;
const COUNTS = /(^|_)(total_flos|flos|step|steps|global_step|rows|tokens|params|parameters)$/;

/** A metric value as people read it: rates as percentages (when in [0, 1]), runtimes as durations, counts with separators. */
export function formatMetric(key: string, v: unknown): string {
  if (typeof v !== "number") return v === null || v === undefined ? "–" : typeof v === "object" ? JSON.stringify(v) : String(v);
  if (isRateMetric(key) && v >= 0 && v <= 1) return formatPercent(v);
  if (SECONDS.test(key)) return formatDuration(v);
  if (COUNTS.test(key) && Math.abs(v) >= 1e15) return v.toExponential(3);
  if (COUNTS.test(key)) return formatCount(v);
  return formatNumber(v);
}

/** Aligned `key  value` lines of a metrics dict (sorted keys), values by formatMetric: the CLI's terminal summary. */
export function metricTable(m: Record<string, unknown>, indent = "  "): string {
  const keys = Object.keys(m).sort();
  if (keys.length === 0) return "";
  const w = Math.max(...keys.map((k) => k.length));
  return keys.map((k) => `${indent}${k.padEnd(w)}  ${formatMetric(k, m[k])}`).join("\n");
}
