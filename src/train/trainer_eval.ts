// The evaluation / prediction loop: batches of the dataset through the model without gradients,
// the mean loss over examples with labels, logits per example, and compute_metrics.

import type { Tensor } from "../tensor/tensor.js";
import { noGrad } from "../tensor/autograd.js";
import { ConfigError } from "../tensor/errors.js";
import type { Module } from "../nn/module.js";
import type { TrainingArguments } from "./args.js";
import type { Progress } from "./progress.js";
import { Batch, collateWith, DataCollator, dsGet, dsLength, TrainerDataset } from "./trainer_data.js";
import { smoothedLoss } from "./trainer_loss.js";
import { speedMetrics } from "./trainer_log.js";
import type { EvalPart } from "./ddp.js";
import { generate, type CausalLM } from "../models/generate.js";
import { isEncoderDecoder } from "../models/seq2seq.js";

export interface EvalPrediction {
  /** Logits per example (nested arrays, concatenated over batches). */
  predictions: unknown[];
  /** Labels per example (undefined when the dataset has none). */
  labelIds: unknown[] | undefined;
}

export type ComputeMetrics = (p: EvalPrediction) => Record<string, number>;

export type PredictionOutput = EvalPrediction & { metrics: Record<string, number> };

/** What the loop needs from its Trainer; forward is the Trainer's (subclasses may override it). */
export interface PredictionContext {
  model: Module;
  args: TrainingArguments;
  dataCollator: DataCollator;
  computeMetrics?: ComputeMetrics;
  progress: Progress;
  /** The step named in the progress line. */
  globalStep: number;
  forward(model: Module, inputs: Batch): { loss?: Tensor; logits?: Tensor; [k: string]: unknown };
  /** Data parallelism: this rank's rows [start, end) of the n (default all of them) ... */
  shard?(n: number): { start: number; end: number };
  /** ... and every rank's part joined in row order (metrics are computed on the whole set). */
  gather?(part: EvalPart): EvalPart;
}

/**
 * Seq2SeqTrainer's prediction_step with predict_with_generate: the batch's sources through
 * generate() (greedy, or beam search with generation_num_beams), max_length = generation_max_length
 * (decoder start included; default 20, HF's max_length); rows padded with the pad id to the batch's longest.
 */
function generatedRows(model: Module, batch: Batch, a: TrainingArguments): number[][] {
  const lm = model as unknown as CausalLM;
  const maxLength = a.generationMaxLength ?? 20;
  const rows = generate(lm, batch.inputIds as number[][], {
    ...(batch.attentionMask ? { attentionMask: batch.attentionMask as number[][] } : {}),
    maxNewTokens: maxLength - 1,
    ...(a.generationNumBeams !== null ? { numBeams: a.generationNumBeams } : {}),
  });
  const pad = lm.config.padTokenId ?? 0;
  const len = rows.reduce((m, r) => Math.max(m, r.length), 0);
  return rows.map((r) => (r.length < len ? [...r, ...new Array<number>(len - r.length).fill(pad)] : r));
}

function tensorRows(x: Tensor): unknown[] {
  const a = x.toArray();
  return Array.isArray(a) ? a : [a];
}

/** Runs the model over dataset in eval mode; metrics are keyed "<prefix>_…"; desc names the caller in errors and progress. */
export function predictionLoop(t: PredictionContext, dataset: TrainerDataset, prefix: string, desc: string): PredictionOutput {
  const a = t.args;
  const n = dsLength(dataset);
  if (n === 0) throw new ConfigError(`${desc}: dataset is empty`);
  const wasTraining = t.model.training;
  t.model.eval();
  const t0 = Date.now();
  let predictions: unknown[] = [];
  let labelIds: unknown[] | undefined = [];
  const { start, end } = t.shard ? t.shard(n) : { start: 0, end: n };
  let lossSum = 0, lossCount = 0;
  const bs = a.perDeviceEvalBatchSize;
  let steps = 0;
  const withGenerate = a.predictWithGenerate;
  if (withGenerate && !isEncoderDecoder(t.model)) throw new ConfigError(`${desc}: predict_with_generate needs an encoder-decoder model (T5, BART, Marian); this one has no encoder`);
  t.progress.evalStart(Math.ceil((end - start) / bs));
  try {
    noGrad(() => {
      for (let i = start; i < end; i += bs) {
        const idx = Array.from({ length: Math.min(bs, end - i) }, (_, k) => i + k);
        const batch = collateWith(t.dataCollator, idx.map((j) => dsGet(dataset, j)));
        const hasLabels = batch.labels !== undefined || batch.startPositions !== undefined;
        // the logits are read below (predictions): a causal LM computes them once, in forward
        // generating without labels (predict on sources only): no forward, as Seq2SeqTrainer.prediction_step
        const out = withGenerate && !hasLabels ? {} as ReturnType<PredictionContext["forward"]> : t.forward(t.model, { ...batch, keepLogits: true });
        let loss = out.loss;
        if (hasLabels && a.labelSmoothingFactor > 0 && out.logits && batch.labels !== undefined) {
          loss = smoothedLoss(t.model, out.logits, batch.labels, a.labelSmoothingFactor);
        }
        if (hasLabels && loss) {
          lossSum += loss.item() * idx.length;
          lossCount += idx.length;
        }
        if (withGenerate) predictions.push(...generatedRows(t.model, batch, a));
        else if (out.logits) predictions.push(...tensorRows(out.logits));
        else if (out.startLogits && out.endLogits) {
          const s = tensorRows(out.startLogits as Tensor), e = tensorRows(out.endLogits as Tensor);
          s.forEach((row, k) => predictions.push([row, e[k]]));
        }
        if (batch.labels !== undefined && labelIds) labelIds.push(...(batch.labels as unknown[]));
        else labelIds = undefined;
        steps++;
        t.progress.evalUpdate(steps);
      }
    });
  } finally {
    if (wasTraining) t.model.train();
  }
  if (t.gather) ({ predictions, labelIds, lossSum, lossCount } = t.gather({ predictions, labelIds, lossSum, lossCount }));
  const runtime = (Date.now() - t0) / 1000;
  const metrics: Record<string, number> = {};
  if (lossCount > 0) metrics[`${prefix}_loss`] = lossSum / lossCount;
  if (t.computeMetrics && labelIds) {
    for (const [k, v] of Object.entries(t.computeMetrics({ predictions, labelIds }))) {
      metrics[k.startsWith(`${prefix}_`) ? k : `${prefix}_${k}`] = v;
    }
  }
  Object.assign(metrics, speedMetrics(prefix, runtime, n, steps));
  t.progress.evalStop(`${desc} at step ${t.globalStep}: ${Object.entries(metrics).filter(([k]) => !/runtime|per_second/.test(k)).map(([k, v]) => `${k} ${Number(v.toPrecision(5))}`).join(", ")}`);
  return { predictions, labelIds, metrics };
}
