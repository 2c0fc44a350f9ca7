// The curves of a run's log history: train/eval loss, learning rate, grad norm, ε (DP-SGD) and
// every eval metric over steps, and the steps where each epoch ends.

/** One log_history entry (HF's Trainer.state.log_history). */
export type LogRecord = Record<string, number | string | boolean | undefined>;

export interface Series {
  name: string;
  points: [number, number][];
  /** Dashed line (eval curves next to train curves). */
  dashed?: boolean;
}

export interface Plot {
  id: string;
  title: string;
  series: Series[];
  /** The metric key the y values carry (percent axes for rates). */
  metric?: string;
}

const SKIP = new Set(["eval_loss", "eval_runtime", "eval_samples_per_second", "eval_steps_per_second"]);

/**
 * [step, value] of the entries carrying a finite number under `key`; an entry repeating the
 * previous point (a final evaluate() after the last epoch's evaluation) is drawn once.
 */
export function pointsOf(log: LogRecord[], key: string): [number, number][] {
  const out: [number, number][] = [];
  for (const e of log) {
    const v = e[key], step = e.step;
    if (typeof v !== "number" || typeof step !== "number" || !Number.isFinite(v)) continue;
    const last = out[out.length - 1];
    if (last && last[0] === step && last[1] === v) continue;
    out.push([step, v]);
  }
  return out;
}

/** The eval metric keys logged (eval_accuracy, eval_f1, …; loss and speed figures left out), sorted. */
export function evalMetricKeys(log: LogRecord[]): string[] {
  const keys = new Set<string>();
  for (const e of log) for (const k of Object.keys(e)) if (k.startsWith("eval_") && !SKIP.has(k) && typeof e[k] === "number") keys.add(k);
  return [...keys].sort();
}

/** The plots of a log history (series with no finite points are left out; empty plots too). */
export function plotsFromLogHistory(log: LogRecord[]): Plot[] {
  const plots: Plot[] = [
    { id: "loss", title: "Loss", metric: "loss", series: [{ name: "train loss", points: pointsOf(log, "loss") }, { name: "eval loss", points: pointsOf(log, "eval_loss"), dashed: true }] },
    { id: "learning_rate", title: "Learning rate", metric: "learning_rate", series: [{ name: "learning_rate", points: pointsOf(log, "learning_rate") }] },
    { id: "grad_norm", title: "Gradient norm (before clipping)", metric: "grad_norm", series: [{ name: "grad_norm", points: pointsOf(log, "grad_norm") }] },
    // DP-SGD runs (TrainingArguments.dp): the privacy spent so far
    { id: "epsilon", title: "Privacy spent ε (DP-SGD)", metric: "epsilon", series: [{ name: "epsilon", points: pointsOf(log, "epsilon") }] },
  ];
  for (const k of evalMetricKeys(log)) plots.push({ id: k, title: k, metric: k, series: [{ name: k, points: pointsOf(log, k) }] });
  for (const p of plots) p.series = p.series.filter((s) => s.points.length > 0);
  return plots.filter((p) => p.series.length > 0);
}

/**
 * The step where each whole epoch ends (epoch 1, 2, …): HF logs epoch = step / steps-per-epoch, so
 * the last entry's ratio gives the steps of an epoch. None for runs shorter than an epoch, or over 50 epochs.
 */
export function epochSteps(log: LogRecord[]): { epoch: number; step: number }[] {
  const last = [...log].reverse().find((e) => typeof e.epoch === "number" && typeof e.step === "number" && (e.epoch as number) > 0 && (e.step as number) > 0);
  if (!last) return [];
  const maxEpoch = last.epoch as number, perEpoch = (last.step as number) / maxEpoch;
  const n = Math.floor(maxEpoch + 1e-6);
  if (n < 1 || n > 50) return [];
  return Array.from({ length: n }, (_, i) => ({ epoch: i + 1, step: Math.round((i + 1) * perEpoch) }));
}
