// DP-SGD inside the Trainer (TrainingArguments.dp; docs/DESIGN.md "DP-SGD"). Each optimizer step's
// logical batch is a Poisson sample (every example with probability q = batch × accumulation / N;
// or, with dp_poisson_sampling false, the shuffled batches with a warning), split over the
// accumulation's micro-batches. Every example runs its own forward/backward (per_sample.ts), its
// gradient is clipped and summed (private_grads.ts); at the optimizer step noise N(0, σ²C²) is added
// once and the sum divided by the expected batch size q·N. The accountant records one step of the
// sampled Gaussian mechanism per optimizer step; ε is logged at every logging step.
// dp_clipping "ghost": each micro-batch runs one batched forward and backward of Σ_i L_i with the
// GhostClipper capturing the Linear-type layers (dp/ghost.ts); norms and the clipped sum come from it.
// Data parallelism: every rank draws the same Poisson sample and takes its share; each clips its
// own examples, rank 0 alone adds the noise, and one allreduce sums the clipped sums and the noise.

import type { Tensor } from "../tensor/tensor.js";
import { ConfigError } from "../tensor/errors.js";
import type { Rng } from "../tensor/random.js";
import { emitWarning } from "../platform/env.js";
import type { TrainingArguments } from "./args.js";
import { createAccountant, getNoiseMultiplier, type RDPAccountant, type GDPAccountant } from "./dp/index.js";
import { perSampleGradients } from "./dp/per_sample.js";
import { GhostClipper } from "./dp/ghost.js";
import { exampleLossSum } from "./dp/example_losses.js";
import { withGradCapture } from "../ops/grad_capture.js";
import type { Module } from "../nn/module.js";
import type { Batch } from "./trainer_data.js";
import type { ProcessGroup } from "../dist/process_group.js";
import { PrivateGradients, type DpClipping } from "./dp/private_grads.js";
import type { GaussianSource } from "./dp/noise.js";

export interface TrainerDpOptions {
  /** Training examples. */
  n: number;
  maxSteps: number;
  /** The trainable parameters. */
  named: [string, Tensor][];
  /** The data-parallel ranks (a LocalGroup: one process). */
  group: ProcessGroup;
  /** Default: the CSPRNG. */
  noise?: GaussianSource;
  /** The Trainer's loss is not the model's own (compute_loss given or overridden): ghost clipping cannot form the per-example losses. */
  customLoss?: boolean;
  /** The training dataset (checked for examples that span rows: packed text blocks). */
  dataset?: unknown;
}

/**
 * Warnings for settings that DP-SGD keeps private only in a narrower sense than the user may
 * think, or that it ignores: packed text blocks (the unit of privacy is the block, not the text),
 * dataloader_drop_last under Poisson sampling (ignored: the batch size is random), max_grad_norm
 * (ignored: the per-sample clipping dp_max_grad_norm bounds each example; Opacus does the same).
 */
export function dpGuardrails(args: TrainingArguments, dataset: unknown): void {
  if ((dataset as { examplesSpanRows?: boolean } | null)?.examplesSpanRows === true) {
    emitWarning("dp: the training examples are packed blocks of concatenated texts (causal-lm text packing): DP-SGD protects each block, not each text or user; a text split over k blocks, or a user with several texts, is protected only at the group level (about k·ε). Train on one example per row (instruction/messages data) for per-row privacy", "PeftTsDpPacking");
  }
  if (args.dataloaderDropLast && args.dpPoissonSampling) {
    emitWarning("dp: dataloader_drop_last is ignored with Poisson sampling: every step's batch has a random size by design (dropping small batches would change the sampling the accountant assumes)", "PeftTsDpDropLast");
  }
  if (args.maxGradNorm > 0 && args.maxGradNorm !== 1) {
    emitWarning(`dp: max_grad_norm ${args.maxGradNorm} (clipping of the whole batch gradient) is ignored under DP-SGD: each example's gradient is clipped to dp_max_grad_norm ${args.dpMaxGradNorm} before the noise; set dp_max_grad_norm instead`, "PeftTsDpMaxGradNorm");
  }
}

export class TrainerDp {
  private readonly named: [string, Tensor][];
  private readonly group: ProcessGroup;
  readonly sampleRate: number;
  readonly expectedBatchSize: number;
  readonly noiseMultiplier: number;
  readonly delta: number;
  readonly accountant: RDPAccountant | GDPAccountant;
  readonly grads: PrivateGradients;
  private readonly ghost: GhostClipper | null;

  constructor(private readonly args: TrainingArguments, o: TrainerDpOptions) {
    const { n, maxSteps, named, group, noise, customLoss } = o;
    this.named = named;
    this.group = group;
    dpGuardrails(args, o.dataset);
    if (args.dpClipping === "ghost" && customLoss) throw new ConfigError(`dp_clipping "ghost" needs the model's own loss (it forms the per-example losses from the logits); this Trainer has a custom compute_loss (or is a Distiller): use dp_clipping "flat"`);
    const W = group.worldSize;
    // the logical batch of one optimizer step, over all data-parallel ranks
    const ebs = args.perDeviceTrainBatchSize * args.gradientAccumulationSteps * W;
    if (ebs > n) throw new ConfigError(`dp: the expected batch size (per_device_train_batch_size × gradient_accumulation_steps${W > 1 ? ` × ${W} processes` : ""} = ${ebs}) exceeds the ${n} training examples`);
    this.expectedBatchSize = ebs;
    this.sampleRate = ebs / n;
    this.delta = args.dpDelta ?? Math.min(1e-5, 1 / n);
    const mechanism = args.dpAccountant as "rdp" | "gdp";
    this.noiseMultiplier = args.dpNoiseMultiplier ?? getNoiseMultiplier({ targetEpsilon: args.dpTargetEpsilon!, targetDelta: this.delta, sampleRate: this.sampleRate, steps: maxSteps, accountant: mechanism });
    this.accountant = createAccountant(mechanism);
    if (!args.dpPoissonSampling) emitWarning("dp: dp_poisson_sampling is false: batches are shuffled, but the accountant assumes Poisson sampling, so the reported ε does not hold exactly for this run", "PeftTsDpSampling");
    this.grads = new PrivateGradients(named.map(([, p]) => p), { maxGradNorm: args.dpMaxGradNorm, noiseMultiplier: this.noiseMultiplier, expectedBatchSize: ebs, clipping: args.dpClipping as DpClipping, noise });
    this.ghost = args.dpClipping === "ghost" ? new GhostClipper(named) : null;
  }

  /**
   * One epoch's micro-batches of every rank ([rank][batch]; as many per rank as without DP:
   * numBatches), `ga` per optimizer step: each step's Poisson sample (drawn alike on every rank from
   * the shared data Rng) dealt round-robin to the ranks, each rank's share split over its
   * micro-batches (some may be empty). `shuffled`: the plain batches of every rank.
   */
  epochBatches(n: number, numBatches: number, rng: Rng, shuffled: () => number[][][]): number[][][] {
    if (!this.args.dpPoissonSampling) return shuffled();
    const ga = this.args.gradientAccumulationSteps, W = this.group.worldSize;
    const out: number[][][] = Array.from({ length: W }, () => []);
    for (let start = 0; start < numBatches; start += ga) {
      const m = Math.min(ga, numBatches - start);
      const sample: number[] = [];
      for (let i = 0; i < n; i++) if (rng.random() < this.sampleRate) sample.push(i);
      for (let r = 0; r < W; r++) {
        const mine = W === 1 ? sample : sample.filter((_, j) => j % W === r);
        for (let k = 0; k < m; k++) out[r].push(mine.slice(Math.floor((k * mine.length) / m), Math.floor(((k + 1) * mine.length) / m)));
      }
    }
    return out;
  }

  /**
   * The per-sample pass over this rank's accumulation group (ghost clipping: one batched pass per
   * micro-batch, its batch from batchOf); returns the mean loss of the step's examples on all
   * ranks (0 when there are none).
   */
  trainingStep(group: number[][], lossOf: (example: number) => Tensor, batchOf: (idx: number[]) => Batch, model: Module): number {
    let total = 0, count = 0;
    if (this.ghost) {
      const ghost = this.ghost;
      for (const idx of group) {
        if (idx.length === 0) continue;
        ghost.begin(idx.length);
        const { sum, losses } = exampleLossSum(model, batchOf(idx), this.args.labelSmoothingFactor);
        withGradCapture(ghost, () => sum.backward());
        this.grads.addedClipped(ghost.addClipped(this.grads.sums, this.args.dpMaxGradNorm));
        total += losses.reduce((a, b) => a + b, 0);
        count += idx.length;
      }
    } else {
      // one example at a time: clipped and summed before the next, so only one example's gradient copies are alive
      for (const idx of group) {
        for (const example of idx) {
          this.grads.add(perSampleGradients(this.named, 1, () => {
            const loss = lossOf(example);
            total += loss.item();
            return loss;
          }));
          count++;
        }
      }
    }
    if (this.group.worldSize > 1) {
      const parts = this.group.allgatherBytes(new Uint8Array(new Float64Array([total, count]).buffer));
      total = 0;
      count = 0;
      for (const p of parts) {
        const v = new Float64Array(p.buffer.slice(p.byteOffset, p.byteOffset + 16));
        total += v[0];
        count += v[1];
      }
    }
    return count > 0 ? total / count : 0;
  }

  /**
   * Noise, the sum over the ranks, division, the accountant's step: the params' .grad hold the
   * private gradient. With several ranks each holds the clipped sum of its examples; rank 0 alone
   * adds the noise before the allreduce, so the sum carries it once (N(0, σ²C²), not W times).
   */
  finishStep(): void {
    const W = this.group.worldSize;
    if (W === 1) this.grads.finish();
    else {
      this.grads.finish({
        noise: this.group.rank === 0,
        reduce: (sums) => {
          const flat = new Float32Array(sums.reduce((a, s) => a + s.length, 0));
          let at = 0;
          for (const s of sums) { flat.set(s, at); at += s.length; }
          this.group.allreduceSum(flat);
          at = 0;
          for (const s of sums) { s.set(flat.subarray(at, at + s.length)); at += s.length; }
        },
      });
    }
    this.accountant.step({ noiseMultiplier: this.noiseMultiplier, sampleRate: this.sampleRate });
  }

  /**
   * The run's privacy state as trainer_state.json's "dp" (and a checkpoint's, for resume): ε at δ,
   * σ, C, q, the expected batch size, the steps accounted and the accountant's history.
   */
  stateJSON(): Record<string, unknown> {
    const steps = this.accountant.history.reduce((s, h) => s + h.steps, 0);
    return {
      epsilon: this.epsilon(), delta: this.delta, noise_multiplier: this.noiseMultiplier, max_grad_norm: this.args.dpMaxGradNorm,
      sample_rate: this.sampleRate, expected_batch_size: this.expectedBatchSize, steps, accountant: this.accountant.mechanism,
      clipping: this.args.dpClipping, poisson_sampling: this.args.dpPoissonSampling,
      history: this.accountant.history.map((h) => ({ noise_multiplier: h.noiseMultiplier, sample_rate: h.sampleRate, steps: h.steps })),
    };
  }

  /** Resume: the accountant's history from a checkpoint's trainer_state.json "dp", which must describe this run's mechanism. */
  restore(saved: Record<string, unknown> | null, source: string, globalStep: number): void {
    if (!saved) throw new ConfigError(`resume with dp: ${source} has no "dp" privacy state (the checkpoint is from a run without DP-SGD, or from a peft-ts without DP resume); the privacy already spent is unknown, so the run cannot continue as DP`);
    const mismatch = (what: string, was: unknown, now: unknown) =>
      new ConfigError(`resume with dp: ${source} was written with ${what} ${JSON.stringify(was)}, this run has ${JSON.stringify(now)}; resume with the same DP arguments (the accountant would mix mechanisms)`);
    if (saved.accountant !== this.accountant.mechanism) throw mismatch("dp_accountant", saved.accountant, this.accountant.mechanism);
    if (saved.noise_multiplier !== this.noiseMultiplier) throw mismatch("noise multiplier", saved.noise_multiplier, this.noiseMultiplier);
    if (saved.sample_rate !== this.sampleRate) throw mismatch("sample rate", saved.sample_rate, this.sampleRate);
    if (saved.max_grad_norm !== this.args.dpMaxGradNorm) throw mismatch("dp_max_grad_norm", saved.max_grad_norm, this.args.dpMaxGradNorm);
    const history = saved.history;
    if (!Array.isArray(history) || !history.every((h) => h && typeof h.noise_multiplier === "number" && typeof h.sample_rate === "number" && Number.isInteger(h.steps))) {
      throw new ConfigError(`resume with dp: ${source}: dp.history must be a list of {noise_multiplier, sample_rate, steps}`);
    }
    this.accountant.history = [];
    for (const h of history) this.accountant.step({ noiseMultiplier: h.noise_multiplier, sampleRate: h.sample_rate }, h.steps);
    const steps = this.accountant.history.reduce((n, h) => n + h.steps, 0);
    if (steps !== globalStep) throw new ConfigError(`resume with dp: ${source}: the accountant recorded ${steps} steps but the checkpoint is at step ${globalStep}`);
  }

  /** ε spent so far at δ. */
  epsilon(): number {
    return this.accountant.getEpsilon(this.delta);
  }
}
