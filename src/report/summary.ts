// The summary card: which task, model, PEFT method and data produced the run, what it cost (steps,
// wall time, tokens/s, hardware) and what it achieved (final and best metric, baseline → after).

import type { RunData } from "./run_data.js";
import { formatCount, formatDuration, formatMetric, formatNumber, formatPercent, isRateMetric } from "./format.js";
import { pointsOf } from "./series.js";

type Obj = Record<string, unknown>;

export interface SummaryItem {
  /** Stable key (tests, compare tables). */
  key: string;
  label: string;
  text: string;
  /** Extra detail shown small next to the value. */
  detail?: string;
}

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
const obj = (v: unknown): Obj => (v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {});

/** A parameter count as people say it: 1,234 / 12.3 k / 4.57 M / 1.2 B. */
export function paramCount(n: number): string {
  if (n < 1e4) return formatCount(n);
  if (n < 1e6) return `${formatNumber(n / 1e3, 3)} k`;
  if (n < 1e9) return `${formatNumber(n / 1e6, 3)} M`;
  return `${formatNumber(n / 1e9, 3)} B`;
}

/** The metric the run is judged by: metric_for_best_model, else eval_accuracy, else the first eval metric, else eval_loss. */
export function primaryMetric(run: RunData): string | null {
  const m = run.metrics;
  const want = typeof run.args.metric_for_best_model === "string" ? String(run.args.metric_for_best_model) : null;
  if (want) {
    const k = want.startsWith("eval_") ? want : `eval_${want}`;
    if (num(m[k]) !== undefined || pointsOf(run.logHistory, k).length) return k;
  }
  // NER: entity F1 (seqeval) says more than token accuracy
  if ((run.evalPredictions?.kind === "token_classification" || run.runInfo.task === "token-cls") && num(m.eval_f1) !== undefined) return "eval_f1";
  for (const k of ["eval_accuracy", "eval_f1", "eval_exact_match", "eval_pearson", "eval_bleu", "eval_rougeL", "eval_perplexity"]) if (num(m[k]) !== undefined) return k;
  const other = Object.keys(m).filter((k) => k.startsWith("eval_") && !/loss|runtime|per_second/.test(k) && num(m[k]) !== undefined).sort();
  if (other.length) return other[0];
  return num(m.eval_loss) !== undefined || pointsOf(run.logHistory, "eval_loss").length ? "eval_loss" : null;
}

/** Whether a larger value of `metric` is better (losses, perplexity, errors: smaller). */
export function higherIsBetter(metric: string, args: Obj = {}): boolean {
  if (typeof args.greater_is_better === "boolean" && typeof args.metric_for_best_model === "string" && metric.endsWith(String(args.metric_for_best_model))) return args.greater_is_better;
  return !/loss|perplexity|mae|mse|rmse|error|wer|cer/.test(metric);
}

/** The best logged value of `metric` and its step. */
export function bestOf(run: RunData, metric: string): { value: number; step: number } | null {
  const pts = pointsOf(run.logHistory, metric);
  if (!pts.length) return null;
  const hi = higherIsBetter(metric, run.args);
  let best = pts[0];
  for (const p of pts) if (hi ? p[1] > best[1] : p[1] < best[1]) best = p;
  return { value: best[1], step: best[0] };
}

/** The last value of `metric`: metrics.json, else the last logged one. */
export function finalOf(run: RunData, metric: string): number | undefined {
  const v = num(run.metrics[metric]);
  if (v !== undefined) return v;
  const pts = pointsOf(run.logHistory, metric);
  return pts.length ? pts[pts.length - 1][1] : undefined;
}

function peftText(cfg: Obj): { text: string; detail?: string } | null {
  const type = cfg.peft_type ?? cfg.method;
  if (typeof type !== "string") return null;
  const bits: string[] = [];
  if (num(cfg.r) !== undefined) bits.push(`r=${cfg.r}`);
  if (num(cfg.lora_alpha) !== undefined) bits.push(`alpha=${cfg.lora_alpha}`);
  const t = cfg.target_modules;
  if (Array.isArray(t)) {
    // full module paths (all-linear expanded) shown by their last name: q_proj, v_proj … (28 modules)
    const leaves = [...new Set(t.map((x) => String(x).split(".").pop()!))].sort();
    bits.push(`targets ${leaves.join(", ")}${leaves.length < t.length ? ` (${t.length} modules)` : ""}`);
  }
  else if (typeof t === "string") bits.push(`targets ${t}`);
  return { text: type, ...(bits.length ? { detail: bits.join(" · ") } : {}) };
}

function hardwareText(info: Obj): { text: string; detail?: string } | null {
  const backend = typeof info.backend === "string" ? info.backend : null;
  if (!backend) return null;
  const world = num(info.world_size) ?? 1;
  const cpu = obj(info.cpu);
  const flags = Array.isArray(cpu.flags) ? (cpu.flags as string[]).join(" ") : "";
  const text = `${backend} backend${world > 1 ? ` · ${world} ranks` : ""}`;
  const detail = [typeof cpu.model === "string" ? cpu.model : "", num(cpu.cores) !== undefined ? `${cpu.cores} cores` : "", flags].filter(Boolean).join(" · ");
  return { text, ...(detail ? { detail } : {}) };
}

/** The card's items, in display order; items whose facts the run dir lacks are left out. */
export function runSummary(run: RunData): SummaryItem[] {
  const info = run.runInfo, m = run.metrics, st = run.state;
  const items: SummaryItem[] = [];
  const add = (key: string, label: string, text: string | null | undefined, detail?: string) => {
    if (text !== null && text !== undefined && text !== "") items.push({ key, label, text, ...(detail ? { detail } : {}) });
  };
  const metric = primaryMetric(run);
  if (metric) {
    const fin = finalOf(run, metric);
    const base = num(m[`baseline_${metric}`]) ?? num(obj(info.baseline)[metric]);
    if (fin !== undefined && base !== undefined) {
      const diff = fin - base;
      const rate = isRateMetric(metric) && Math.abs(fin) <= 1 && Math.abs(base) <= 1;
      const d = rate ? `${diff >= 0 ? "+" : "−"}${formatNumber(Math.abs(diff * 100), 3)} points` : `${diff >= 0 ? "+" : "−"}${formatNumber(Math.abs(diff), 3)}`;
      add("baseline", `${metric}: baseline → after`, `${formatMetric(metric, base)} → ${formatMetric(metric, fin)}`, d);
    }
    if (fin !== undefined) add("final", `final ${metric}`, formatMetric(metric, fin));
    const best = bestOf(run, metric);
    if (best) add("best", `best ${metric}`, formatMetric(metric, best.value), `at step ${formatCount(best.step)}`);
  }
  add("task", "task", typeof info.task === "string" ? info.task : null);
  const model = obj(info.model);
  const modelName = (model.name_or_path as string | undefined) ?? (run.adapterConfig?.base_model_name_or_path as string | undefined);
  const shortName = modelName && /[\\/]/.test(modelName) && !/^[\w.-]+\/[\w.-]+$/.test(modelName) ? modelName.replace(/[\\/]+$/, "").split(/[\\/]/).pop() : modelName;
  add("model", "base model", shortName, [typeof model.model_type === "string" ? model.model_type : "", num(model.num_parameters) !== undefined ? `${paramCount(model.num_parameters as number)} parameters` : ""].filter(Boolean).join(" · "));
  const peft = peftText(run.adapterConfig ?? obj(info.peft));
  if (peft) add("method", "PEFT method", peft.text, peft.detail);
  else if (num(info.trainable_params) !== undefined) add("method", "method", "full fine-tuning");
  const line = obj(info.peft).trainable_line;
  const tp = num(info.trainable_params);
  if (typeof line === "string") {
    const all = /all params: ([\d,]+)/.exec(line)?.[1];
    const share = tp !== undefined && all ? ` (${formatPercent(tp / Number(all.replace(/,/g, "")), 3)})` : "";
    add("trainable", "trainable parameters", tp !== undefined ? `${formatCount(tp)}${share}` : line, line);
  }
  else if (num(info.trainable_params) !== undefined) add("trainable", "trainable parameters", formatCount(info.trainable_params as number));
  const rows = [num(info.train_rows) !== undefined ? `${formatCount(info.train_rows as number)} train` : "", num(info.eval_rows) !== undefined ? `${formatCount(info.eval_rows as number)} eval` : ""].filter(Boolean).join(" · ");
  add("rows", "rows", rows);
  const steps = num(st.global_step), epoch = num(st.epoch) ?? num(m.epoch);
  if (steps !== undefined) add("steps", "steps / epochs", `${formatCount(steps)} steps`, epoch !== undefined ? `${formatNumber(epoch, 3)} epochs` : undefined);
  else if (epoch !== undefined) add("steps", "steps / epochs", `${formatNumber(epoch, 3)} epochs`);
  const runtime = num(m.train_runtime);
  add("wall", "wall time", runtime !== undefined ? formatDuration(runtime) : null);
  const tokens = num(info.train_tokens);
  const tps = num(m.train_tokens_per_second) ?? (tokens !== undefined && runtime ? tokens / runtime : undefined);
  add("tokens", "tokens / s", tps !== undefined ? formatNumber(tps, 3) : null, tokens !== undefined ? `${formatCount(tokens)} tokens (padded batches)` : undefined);
  const hw = hardwareText(info);
  if (hw) add("hardware", "hardware", hw.text, hw.detail);
  return items;
}
