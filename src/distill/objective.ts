// The distillation objective: what Distiller.computeLoss runs for one batch.
//   student forward (with labels → the model's own hard-label loss)
//   teacher forward(s) under noGrad, or cached teacher logits (TeacherLogitCache)
//   loss = w_hard·CE + w_kd·KD(T) + w_ta·targetAlignment + w_hidden·hidden (+ attention-free)
// Several teachers are combined by averaging their softened distributions:
//   p̄ = mean_k softmax(t_k/T); the KD target logits are T·log p̄ (so softmax(·/T) = p̄).
// Weights and temperature may be schedules of the optimizer step.

import { Tensor } from "../tensor/tensor.js";
import { ConfigError } from "../tensor/errors.js";
import { noGrad } from "../tensor/autograd.js";
import * as ops from "../ops/index.js";
import type { ModelInputs, ModelOutput, PreTrainedModel } from "../models/modeling_utils.js";
import { kdLoss, softCrossEntropy, targetAlignmentFromLogits, ProjectedHiddenLoss } from "./losses.js";
import { resolveSchedule, Schedule, ScheduleLike } from "./schedules.js";
import { checkDistillCompatible, headKind, underlyingModel } from "./student.js";
import type { Module } from "../nn/module.js";
import type { TeacherLogitCache } from "./teacher_cache.js";

export interface DistillationWeights {
  /** Hard-label loss (the student model's own loss on labels). Default 1 − alpha. */
  hard?: ScheduleLike;
  /** Soft-label KD term. Default alpha. */
  kd?: ScheduleLike;
  /** targetAlignmentFromLogits (student probabilities vs one-hot labels). Default 0. */
  targetAlignment?: ScheduleLike;
  /** Hidden-state term (needs `hidden`). Default 1 when `hidden` is given. */
  hidden?: ScheduleLike;
}

export interface DistillationOptions {
  teacher: PreTrainedModel | PreTrainedModel[];
  temperature?: ScheduleLike;
  /** KD weight α; the hard loss gets 1 − α (Hinton et al.). Default 0.5. Ignored for terms given in `weights`. */
  alpha?: ScheduleLike;
  weights?: DistillationWeights;
  /** "kl" (KL·T², default) or "softCrossEntropy" (−Σ p_t log p_s, no T²). */
  kdKind?: "kl" | "softCrossEntropy";
  /** Hidden-state matching between mapped layers (its projection is trainable). */
  hidden?: ProjectedHiddenLoss;
  /** Precomputed teacher logits; batches must then carry `exampleIndex` (dataset row numbers). */
  cache?: TeacherLogitCache;
}

export interface DistillationResult {
  loss: Tensor;
  /** Each term's value (before weighting), for logging. */
  parts: Record<string, number>;
  outputs: ModelOutput;
}

const MODEL_KEYS = ["inputIds", "attentionMask", "tokenTypeIds", "positionIds", "labels", "startPositions", "endPositions"] as const;

function modelInputs(inputs: Record<string, unknown>, withLabels: boolean): ModelInputs {
  const out: Record<string, unknown> = {};
  for (const k of MODEL_KEYS) if (inputs[k] !== undefined && (withLabels || (k !== "labels" && k !== "startPositions" && k !== "endPositions"))) out[k] = inputs[k];
  return out as ModelInputs;
}

function flatLabels(l: unknown): number[] | null {
  if (l === undefined || l === null) return null;
  if (l instanceof Tensor) return Array.from(l.f32());
  return (l as unknown[]).flat(Infinity) as number[];
}

export class DistillationObjective {
  readonly teachers: PreTrainedModel[];
  readonly temperature: Schedule;
  readonly weights: { hard: Schedule; kd: Schedule; targetAlignment: Schedule; hidden: Schedule };
  readonly kdKind: "kl" | "softCrossEntropy";
  readonly hidden: ProjectedHiddenLoss | null;
  readonly cache: TeacherLogitCache | null;

  constructor(student: PreTrainedModel | Module, opts: DistillationOptions) {
    this.teachers = Array.isArray(opts.teacher) ? opts.teacher : [opts.teacher];
    if (this.teachers.length === 0) throw new ConfigError("distillation: at least one teacher is needed");
    this.teachers.forEach((t, k) => checkDistillCompatible(t, student, this.teachers.length > 1 ? `teacher ${k}` : "teacher"));
    for (const t of this.teachers) {
      t.eval();
      t.requiresGrad_(false); // frozen: never updated, no gradient buffers
    }
    const alpha = resolveSchedule(opts.alpha, 0.5);
    const w = opts.weights ?? {};
    this.weights = {
      hard: w.hard !== undefined ? resolveSchedule(w.hard, 0) : (s) => 1 - alpha(s),
      kd: w.kd !== undefined ? resolveSchedule(w.kd, 0) : alpha,
      targetAlignment: resolveSchedule(w.targetAlignment, 0),
      hidden: resolveSchedule(w.hidden, opts.hidden ? 1 : 0),
    };
    this.temperature = resolveSchedule(opts.temperature, 2);
    this.kdKind = opts.kdKind ?? "kl";
    this.hidden = opts.hidden ?? null;
    this.cache = opts.cache ?? null;
    if (this.cache && this.cache.numTeachers !== this.teachers.length) {
      throw new ConfigError(`distillation: the teacher cache holds ${this.cache.numTeachers} teachers but ${this.teachers.length} were given`);
    }
  }

  /** Trainable parameters the objective adds (hidden-state projections): give them to the optimizer. */
  parameters(): Tensor[] {
    return this.hidden ? this.hidden.parameters() : [];
  }

  private teacherLogits(inputs: Record<string, unknown>, needHidden: boolean): { logits: Tensor[]; hidden: Tensor[] | null } {
    const idx = inputs.exampleIndex as number[] | undefined;
    if (this.cache && !needHidden) {
      if (!Array.isArray(idx)) throw new ConfigError("distillation with a teacher cache: the batch needs `exampleIndex` (the dataset row of each example)");
      const mask = inputs.attentionMask as number[][] | undefined;
      return { logits: this.teachers.map((_, k) => this.cache!.batch(k, idx, mask)), hidden: null };
    }
    const mi = modelInputs(inputs, false);
    const outs = noGrad(() => this.teachers.map((t) => t.forward({ ...mi, outputHiddenStates: needHidden })));
    outs.forEach((o, k) => { if (!o.logits) throw new ConfigError(`distillation: teacher ${k} returned no logits`); });
    return { logits: outs.map((o) => o.logits!), hidden: needHidden ? outs[0].hiddenStates ?? null : null };
  }

  /** T·log(mean_k softmax(t_k/T)): one set of target logits whose softened distribution is the teachers' average. */
  private combine(logits: Tensor[], T: number): Tensor {
    if (logits.length === 1) return logits[0];
    return noGrad(() => {
      let acc = ops.softmax(ops.scale(logits[0], 1 / T), -1);
      for (let k = 1; k < logits.length; k++) acc = ops.add(acc, ops.softmax(ops.scale(logits[k], 1 / T), -1));
      return ops.scale(ops.log(ops.scale(acc, 1 / logits.length)), T);
    });
  }

  /** `student` is the model being trained (a PreTrainedModel or a PeftModel around one). */
  computeLoss(student: PreTrainedModel | Module, inputs: Record<string, unknown>, step = 0): DistillationResult {
    const T = this.temperature(step);
    const w = { hard: this.weights.hard(step), kd: this.weights.kd(step), ta: this.weights.targetAlignment(step), hidden: this.weights.hidden(step) };
    const needHidden = w.hidden !== 0 && this.hidden !== null;
    const out = (student as PreTrainedModel).forward({ ...modelInputs(inputs, true), outputHiddenStates: needHidden, keepLogits: true });
    const s = out.logits;
    if (!s) throw new ConfigError("distillation: the student returned no logits");
    const parts: Record<string, number> = {};
    let total: Tensor | null = null;
    const addTerm = (name: string, weight: number, t: Tensor) => {
      parts[name] = t.item();
      if (weight === 0) return;
      const wt = weight === 1 ? t : ops.scale(t, weight);
      total = total ? ops.add(total, wt) : wt;
    };
    if (w.hard !== 0) {
      if (!out.loss) throw new ConfigError("distillation: a hard-label weight is set but the batch has no labels (the student returned no loss)");
      addTerm("hard", w.hard, out.loss);
    }
    if (w.kd !== 0 || needHidden) {
      const tl = this.teacherLogits(inputs, needHidden);
      if (w.kd !== 0) {
        const tgt = this.combine(tl.logits, T);
        if (tgt.shape.join() !== s.shape.join()) {
          throw new ConfigError(`distillation: teacher logits [${tgt.shape}] and student logits [${s.shape}] differ (vocabulary / label count / sequence length must match)`);
        }
        // token-level logits: only real (unpadded) positions count
        const mask = s.ndim === 3 && Array.isArray(inputs.attentionMask) ? (inputs.attentionMask as number[][]).flat() : undefined;
        const kd = this.kdKind === "kl" ? kdLoss(s, tgt, { temperature: T, mask }) : softCrossEntropy(s, tgt, { temperature: T, mask });
        addTerm("kd", w.kd, kd);
      }
      if (needHidden) {
        if (!out.hiddenStates || !tl.hidden) throw new ConfigError("distillation: hidden-state loss needs models that return hiddenStates");
        addTerm("hidden", w.hidden, this.hidden!.forward(out.hiddenStates, tl.hidden));
      }
    }
    if (w.ta !== 0) {
      let labels = flatLabels(inputs.labels);
      if (!labels) throw new ConfigError("distillation: target alignment needs labels");
      let logits = s;
      if (headKind(underlyingModel(student).architectureName) === "causal-lm") {
        // position t predicts token t+1 (the model shifts its own labels the same way)
        const [B, L] = [s.shape[0], s.shape[1]];
        logits = s.slice(1, 0, L - 1);
        labels = labels.filter((_, i) => i % L !== 0);
        void B;
      }
      addTerm("targetAlignment", w.ta, targetAlignmentFromLogits(logits, labels));
    }
    if (!total) throw new ConfigError("distillation: every loss weight is 0");
    return { loss: total, parts, outputs: out };
  }
}
