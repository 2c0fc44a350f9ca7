// Distiller: a Trainer whose loss is the distillation objective (objective.ts). Everything else
// — batching, optimizer, schedule, clipping, logging, checkpoints — is the Trainer's.
//
//   const d = new Distiller({ model: student, teacher, args, trainDataset, dataCollator,
//                             temperature: 2, alpha: 0.5, cacheTeacherLogits: true });
//   await d.train();
//
// With cacheTeacherLogits the teachers run once over trainDataset before training and their
// logits are kept in <outputDir>/teacher_logits.safetensors (or the given path); a cache made for
// other teacher weights or other data is detected by its key and rebuilt. Batches then carry
// `exampleIndex` (added here) so each step reads its rows instead of running the teachers.

import { join } from "../platform/paths.js";
import { Tensor } from "../tensor/tensor.js";
import { ConfigError } from "../tensor/errors.js";
import { emitWarning } from "../platform/env.js";
import type { Module } from "../nn/module.js";
import type { PreTrainedModel } from "../models/modeling_utils.js";
import { Trainer } from "../train/trainer.js";
import type { Batch, Dataset, TrainerOptions } from "../train/trainer.js";
import type { Optimizer } from "../train/optim/optimizer.js";
import type { Features } from "../data/collate.js";
import { DistillationObjective, DistillationOptions } from "./objective.js";
import { TeacherLogitCache } from "./teacher_cache.js";

export interface DistillerOptions extends TrainerOptions, Omit<DistillationOptions, "cache"> {
  /** true: <outputDir>/teacher_logits.safetensors; a string: that path. Not used with hidden-state terms. */
  cacheTeacherLogits?: boolean | string;
  /** Batch size of the one-off teacher pass that fills the cache (default perDeviceEvalBatchSize). */
  cacheBatchSize?: number;
}

function rowsOf(d: Dataset): Features[] {
  const n = d.length;
  const out: Features[] = [];
  for (let i = 0; i < n; i++) out.push((Array.isArray(d) ? d[i] : (d as { get(i: number): unknown }).get(i)) as Features);
  return out;
}

export class Distiller extends Trainer {
  readonly objective: DistillationObjective;
  readonly teacherCache: TeacherLogitCache | null;
  private partSums: Record<string, number> = {};
  private partCount = 0;

  constructor(o: DistillerOptions) {
    if (o.computeLoss) throw new ConfigError("Distiller: computeLoss is the distillation objective; configure it with the distillation options instead");
    super(o);
    if (this.args.dp && !this.args.dpTeacherPublic) {
      throw new ConfigError("Distiller with dp: a teacher trained on the private training data carries it into every student step outside the DP-SGD guarantee (only the student's per-example gradients are clipped and noised). Set dp_teacher_public: true to state that the teacher(s) never saw this data (trained on public or other data)");
    }
    if (this.args.dp && o.cacheTeacherLogits) {
      emitWarning("dp: cacheTeacherLogits writes the teacher's logits for every private training example to a file; that file is not covered by the DP guarantee: keep it private or delete it after training", "PeftTsDpTeacherCache");
    }
    let cache: TeacherLogitCache | null = null;
    if (o.cacheTeacherLogits) {
      if (!o.trainDataset) throw new ConfigError("Distiller: cacheTeacherLogits needs a trainDataset");
      if (o.hidden) throw new ConfigError("Distiller: cacheTeacherLogits cannot be combined with hidden-state terms (they need the teacher's hidden states every step)");
      const path = typeof o.cacheTeacherLogits === "string" ? o.cacheTeacherLogits : join(this.args.outputDir, "teacher_logits.safetensors");
      const rows = rowsOf(o.trainDataset);
      const teachers = Array.isArray(o.teacher) ? o.teacher : [o.teacher];
      for (const t of teachers) t.eval();
      cache = TeacherLogitCache.loadOrBuild(path, teachers, rows, { batchSize: o.cacheBatchSize ?? this.args.perDeviceEvalBatchSize });
      // each example carries its row number so computeLoss can find its cached logits
      this.trainDataset = rows.map((r, i) => ({ ...r, exampleIndex: i }));
    }
    this.teacherCache = cache;
    this.objective = new DistillationObjective(this.model, { ...o, cache: cache ?? undefined });
  }

  get teachers(): PreTrainedModel[] {
    return this.objective.teachers;
  }

  /** Student forward + teacher(s) (or cache) → the configured mix of losses at the current step. */
  override computeLoss(model: Module, inputs: Batch): Tensor {
    const { loss, parts } = this.objective.computeLoss(model, inputs, this.state.globalStep);
    for (const [k, v] of Object.entries(parts)) this.partSums[k] = (this.partSums[k] ?? 0) + v;
    this.partCount++;
    return loss;
  }

  /** The optimizer also trains the objective's own parameters (hidden-state projections). */
  override createOptimizer(): Optimizer {
    if (this.optimizer) return this.optimizer;
    const opt = super.createOptimizer();
    const extra = this.objective?.parameters() ?? [];
    if (extra.length) {
      const base = opt.paramGroups[0];
      const names = this.objective.hidden!.namedParameters().map(([n]) => `distill.hidden.${n}`);
      opt.paramGroups.push({ ...base, params: extra, names, weightDecay: this.args.weightDecay });
    }
    return opt;
  }

  /** Adds the mean of each loss term since the last log (distill_hard, distill_kd, …) to training logs. */
  override log(logs: Record<string, number | string | boolean>): void {
    if (this.partCount > 0 && "loss" in logs) {
      const extra: Record<string, number> = {};
      for (const [k, v] of Object.entries(this.partSums)) extra[`distill_${k}`] = v / this.partCount;
      this.partSums = {};
      this.partCount = 0;
      logs = { ...logs, ...extra };
    }
    super.log(logs);
  }
}
