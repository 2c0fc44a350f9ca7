// Knowledge-distillation losses, built from differentiable ops so gradients flow to the student.
// Definitions follow the PyTorch expressions named in each comment (checked against
// golden/distill). Teacher inputs are detached: no gradient ever reaches the teacher.
// Logits of any rank [..., C] are flattened to rows [N, C] first ("batchmean" then divides by N,
// the number of rows, e.g. tokens for a causal LM).

import { Tensor } from "../tensor/tensor.js";
import { ConfigError, ShapeError } from "../tensor/errors.js";
import { Module } from "../nn/module.js";
import { Linear } from "../nn/layers.js";
import { Rng } from "../tensor/random.js";
import * as ops from "../ops/index.js";
import type { TensorLike } from "../ops/index.js";

function asT(x: TensorLike): Tensor {
  return x instanceof Tensor ? x : Tensor.from(x as never);
}

/** [..., C] → [N, C] (a view when possible). */
function rows(x: Tensor, what: string): Tensor {
  if (x.ndim < 1) throw new ShapeError(`${what}: expected logits [..., C], got a scalar`);
  if (x.ndim === 2) return x;
  return x.reshape([-1, x.shape[x.ndim - 1]]);
}

function checkPair(op: string, s: Tensor, t: Tensor): void {
  if (s.shape.length !== t.shape.length || s.shape.some((d, i) => d !== t.shape[i])) {
    const sc = s.shape[s.ndim - 1], tc = t.shape[t.ndim - 1];
    if (sc !== tc) throw new ConfigError(`${op}: student has ${sc} classes/vocabulary entries but the teacher has ${tc}; they must match (student [${s.shape}], teacher [${t.shape}])`);
    throw new ShapeError(`${op}: student logits [${s.shape}] and teacher logits [${t.shape}] differ in shape`);
  }
}

function checkTemperature(op: string, T: number): void {
  if (!(T > 0) || !Number.isFinite(T)) throw new ConfigError(`${op}: temperature must be a positive number, got ${T}`);
}

/** Selects rows where keep[r] (e.g. tokens whose label is not −100). */
function keepRows(x: Tensor, keep: boolean[] | null): Tensor {
  if (!keep) return x;
  const idx: number[] = [];
  keep.forEach((k, i) => k && idx.push(i));
  if (idx.length === x.shape[0]) return x;
  return ops.cat(idx.map((i) => x.slice(0, i, i + 1)), 0);
}

export interface KdOptions {
  temperature?: number;
  /** Rows to include (same length as the flattened rows), e.g. from labels !== −100. */
  mask?: boolean[] | number[];
  /** KL reduction: "batchmean" (default), "sum" or "mean" (over elements). */
  reduction?: "batchmean" | "sum" | "mean";
  /** Multiply by T² (default true; keeps gradient magnitudes comparable across temperatures). */
  scaleT2?: boolean;
}

function maskOf(m: KdOptions["mask"], n: number, op: string): boolean[] | null {
  if (!m) return null;
  if (m.length !== n) throw new ShapeError(`${op}: mask has ${m.length} entries for ${n} rows`);
  return (m as (boolean | number)[]).map((v) => !!v);
}

/**
 * KL(softmax(t/T) ‖ softmax(s/T))·T² =
 * F.kl_div(F.log_softmax(s/T, -1), F.softmax(t/T, -1), reduction='batchmean') * T**2.
 */
export function kdLoss(studentLogits: TensorLike, teacherLogits: TensorLike, opts: KdOptions = {}): Tensor {
  const T = opts.temperature ?? 1;
  checkTemperature("kdLoss", T);
  let s = asT(studentLogits), t = asT(teacherLogits).detach();
  checkPair("kdLoss", s, t);
  s = rows(s, "kdLoss");
  t = rows(t, "kdLoss");
  const keep = maskOf(opts.mask, s.shape[0], "kdLoss");
  s = keepRows(s, keep);
  t = keepRows(t, keep);
  const logp = ops.logSoftmax(T === 1 ? s : ops.scale(s, 1 / T), -1);
  const q = ops.softmax(T === 1 ? t : ops.scale(t, 1 / T), -1);
  const kl = ops.klDiv(logp, q, { reduction: opts.reduction ?? "batchmean" });
  return T === 1 || opts.scaleT2 === false ? kl : ops.scale(kl, T * T);
}

/** Mean over rows of −Σ softmax(t/T)·log_softmax(s/T) (no T² factor). */
export function softCrossEntropy(studentLogits: TensorLike, teacherLogits: TensorLike, opts: { temperature?: number; mask?: boolean[] | number[] } = {}): Tensor {
  const T = opts.temperature ?? 1;
  checkTemperature("softCrossEntropy", T);
  let s = asT(studentLogits), t = asT(teacherLogits).detach();
  checkPair("softCrossEntropy", s, t);
  s = rows(s, "softCrossEntropy");
  t = rows(t, "softCrossEntropy");
  const keep = maskOf(opts.mask, s.shape[0], "softCrossEntropy");
  s = keepRows(s, keep);
  t = keepRows(t, keep);
  const logp = ops.logSoftmax(T === 1 ? s : ops.scale(s, 1 / T), -1);
  const q = ops.softmax(T === 1 ? t : ops.scale(t, 1 / T), -1);
  const perRow = ops.sum(ops.mul(q, logp), -1);
  return ops.neg(ops.mean(perRow));
}

/**
 * Hinton et al.'s objective: α·KL·T² + (1−α)·CE(student, labels), where CE is the usual
 * hard-label cross entropy at temperature 1 (labels −100 ignored, mean over the rest).
 */
export function distillationLoss(studentLogits: TensorLike, teacherLogits: TensorLike, labels: Tensor | number[] | number[][], opts: { temperature?: number; alpha?: number } = {}): Tensor {
  const alpha = opts.alpha ?? 0.5;
  if (!(alpha >= 0 && alpha <= 1)) throw new ConfigError(`distillationLoss: alpha must be in [0, 1], got ${alpha}`);
  const s = asT(studentLogits);
  const flatLabels = labelsFlat(labels);
  const kd = kdLoss(s, teacherLogits, { temperature: opts.temperature, mask: flatLabels.map((l) => l !== -100) });
  const ce = ops.crossEntropy(rows(s, "distillationLoss"), flatLabels);
  if (alpha === 1) return kd;
  if (alpha === 0) return ce;
  return ops.add(ops.scale(kd, alpha), ops.scale(ce, 1 - alpha));
}

function labelsFlat(labels: Tensor | number[] | number[][]): number[] {
  if (labels instanceof Tensor) return Array.from(labels.i32());
  return (labels as unknown[]).flat(Infinity) as number[];
}

/**
 * Hidden-state matching. "mse": F.mse_loss(a, b) (mean over elements).
 * "cosine": F.cosine_embedding_loss(a.view(-1, D), b.view(-1, D), target=1) = mean(1 − cos) over rows of the last dim.
 */
export function hiddenStateLoss(student: TensorLike, teacher: TensorLike, opts: { kind?: "mse" | "cosine" } = {}): Tensor {
  const a = asT(student), b = asT(teacher).detach();
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new ShapeError(`hiddenStateLoss: student [${a.shape}] and teacher [${b.shape}] differ in shape; project the student first (ProjectedHiddenLoss)`);
  }
  const kind = opts.kind ?? "mse";
  if (kind === "mse") return ops.mseLoss(a, b);
  if (kind === "cosine") {
    const D = a.shape[a.ndim - 1];
    const cos = ops.cosineSimilarity(a.reshape([-1, D]), b.reshape([-1, D]), -1);
    return ops.mean(ops.affine(cos, -1, 1));
  }
  throw new ConfigError(`hiddenStateLoss: kind must be "mse" or "cosine", got ${kind}`);
}

/**
 * MSE between attention maps (TinyBERT): one pair or lists of per-layer maps [B, H, T, T],
 * averaged over the pairs. Masked (−inf) scores, if given as logits, are zeroed first.
 */
export function attentionLoss(student: Tensor | Tensor[], teacher: Tensor | Tensor[]): Tensor {
  const ss = Array.isArray(student) ? student : [student];
  const ts = Array.isArray(teacher) ? teacher : [teacher];
  if (ss.length !== ts.length) throw new ConfigError(`attentionLoss: ${ss.length} student maps but ${ts.length} teacher maps`);
  let total: Tensor | null = null;
  for (let i = 0; i < ss.length; i++) {
    const a = finite(ss[i]), b = finite(ts[i].detach());
    if (a.shape.some((d, k) => d !== b.shape[k]) || a.ndim !== b.ndim) throw new ShapeError(`attentionLoss: pair ${i}: student [${a.shape}] vs teacher [${b.shape}]`);
    const l = ops.mseLoss(a, b);
    total = total ? ops.add(total, l) : l;
  }
  return ops.scale(total!, 1 / ss.length);
}

function finite(x: Tensor): Tensor {
  const d = x.f32();
  let bad = false;
  for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) { bad = true; break; }
  if (!bad) return x;
  const mask = new Float32Array(d.length);
  for (let i = 0; i < d.length; i++) mask[i] = Number.isFinite(d[i]) ? 0 : 1;
  return ops.maskedFill(x, new Tensor(mask, x.shape), 0);
}

/** mean((P − D)²): P predictions (probabilities or any model outputs), D targets (one-hot or 0/1). */
export function targetAlignmentLoss(predictions: TensorLike, targets: TensorLike): Tensor {
  const p = asT(predictions), d = asT(targets).detach();
  if (p.shape.length !== d.shape.length || p.shape.some((x, i) => x !== d.shape[i])) {
    throw new ShapeError(`targetAlignmentLoss: predictions [${p.shape}] and targets [${d.shape}] differ in shape`);
  }
  return ops.mean(ops.square(ops.sub(p, d)));
}

/**
 * Target alignment from logits: softmax(logits) vs one-hot(labels) for C ≥ 2 columns; for a
 * single logit column, sigmoid(logit) vs the 0/1 label. Rows labelled ignoreIndex (−100) are skipped.
 */
export function targetAlignmentFromLogits(logits: TensorLike, labels: Tensor | number[] | number[][], opts: { ignoreIndex?: number } = {}): Tensor {
  const ignore = opts.ignoreIndex ?? -100;
  let x = rows(asT(logits), "targetAlignmentFromLogits");
  let lab = labelsFlat(labels);
  if (lab.length !== x.shape[0]) throw new ShapeError(`targetAlignmentFromLogits: ${lab.length} labels for ${x.shape[0]} rows of logits [${x.shape}]`);
  const keep = lab.map((l) => l !== ignore);
  x = keepRows(x, keep);
  lab = lab.filter((l) => l !== ignore);
  const C = x.shape[1];
  if (C === 1) {
    for (const l of lab) if (l !== 0 && l !== 1) throw new ConfigError(`targetAlignmentFromLogits: a single logit column needs 0/1 labels, got ${l}`);
    return targetAlignmentLoss(ops.sigmoid(x), new Tensor(Float32Array.from(lab), [lab.length, 1]));
  }
  const oneHot = new Float32Array(lab.length * C);
  lab.forEach((l, r) => {
    if (!Number.isInteger(l) || l < 0 || l >= C) throw new ConfigError(`targetAlignmentFromLogits: label ${l} out of range for ${C} classes`);
    oneHot[r * C + l] = 1;
  });
  return targetAlignmentLoss(ops.softmax(x, -1), new Tensor(oneHot, [lab.length, C]));
}

/**
 * Hidden-state distillation between models of different widths/depths: a layer map pairs
 * student layer i with teacher layer j (indices into hiddenStates: 0 = embeddings); when the
 * widths differ, a learned Linear (student → teacher width) projects the student states
 * (one shared projection, as TinyBERT's W_h, unless sharedProjection is false).
 */
export class ProjectedHiddenLoss extends Module {
  readonly layerMap: [number, number][];
  readonly kind: "mse" | "cosine";
  readonly projections: Linear[] = [];
  constructor(readonly studentDim: number, readonly teacherDim: number, opts: { layerMap: [number, number][]; kind?: "mse" | "cosine"; sharedProjection?: boolean; rng?: Rng }) {
    super();
    if (!opts.layerMap || opts.layerMap.length === 0) throw new ConfigError("ProjectedHiddenLoss: layerMap needs at least one [studentLayer, teacherLayer] pair");
    this.layerMap = opts.layerMap.map(([a, b]) => [a, b]);
    this.kind = opts.kind ?? "mse";
    if (studentDim !== teacherDim) {
      const n = opts.sharedProjection === false ? this.layerMap.length : 1;
      for (let i = 0; i < n; i++) {
        const lin = new Linear(studentDim, teacherDim, { rng: opts.rng });
        this.registerModule(n === 1 ? "proj" : `proj_${i}`, lin);
        this.projections.push(lin);
      }
    }
  }
  /** Mean over the mapped pairs of hiddenStateLoss(project(student[i]), teacher[j]). */
  forward(studentHidden: Tensor[], teacherHidden: Tensor[]): Tensor {
    let total: Tensor | null = null;
    this.layerMap.forEach(([i, j], k) => {
      if (i < 0 || i >= studentHidden.length) throw new ConfigError(`ProjectedHiddenLoss: student layer ${i} not in 0..${studentHidden.length - 1}`);
      if (j < 0 || j >= teacherHidden.length) throw new ConfigError(`ProjectedHiddenLoss: teacher layer ${j} not in 0..${teacherHidden.length - 1}`);
      let s = studentHidden[i];
      if (s.shape[s.ndim - 1] !== this.studentDim) throw new ShapeError(`ProjectedHiddenLoss: student hidden [${s.shape}] is not ${this.studentDim} wide`);
      if (this.projections.length) s = this.projections[Math.min(k, this.projections.length - 1)].forward(s);
      const l = hiddenStateLoss(s, teacherHidden[j], { kind: this.kind });
      total = total ? ops.add(total, l) : l;
    });
    return ops.scale(total!, 1 / this.layerMap.length);
  }
}
