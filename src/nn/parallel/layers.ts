// Megatron-style tensor-parallel layers. Each holds only its shard, under the HF parameter names
// (a rank's `q_proj.weight` is rows start…start+n of the full weight), so checkpoints and adapters
// load and save by name (see shard.ts for the slice bookkeeping).
//   ColumnParallelLinear  weight [out/K, in], bias [out/K]: output features split. Input enters the
//                         region (copyToParallel) unless the enclosing block already did that once.
//   RowParallelLinear     weight [out, in/K], bias [out] replicated: input features split, the
//                         partial products are summed (one allreduce) and the bias added once.
//   VocabParallelEmbedding weight [V/K, E]: rows of the vocab split; ids outside the slice give 0,
//                         the per-rank lookups are summed (one allreduce).
import { Tensor } from "../../tensor/tensor.js";
import { Rng } from "../../tensor/random.js";
import { ShapeError } from "../../tensor/errors.js";
import type { ProcessGroup } from "../../dist/process_group.js";
import { Embedding, Linear, isDeferred } from "../layers.js";
import { activate, add, cat, embedding, linear, mul } from "../../ops/index.js";
import type { BiasActOp, TensorLike } from "../../ops/index.js";
import { asTensor } from "../../ops/index.js";
import { copyToParallel, gatherFromParallel, reduceFromParallel, vocabParallelCrossEntropy } from "../../ops/parallel.js";
import { localShape, markShard, shardOf, sliceFor, type ShardSpec } from "./shard.js";

/** Copies a full source parameter's slice into a fresh shard (or leaves the zero shard when the source is deferred). */
function adopt(dst: Tensor, src: Tensor | null, spec: ShardSpec | null): void {
  if (!src) return;
  dst.requiresGrad = src.requiresGrad;
  if (isDeferred(src)) return;
  const vals = spec ? sliceFor(src, spec) : src;
  (dst.data as Float32Array).set(vals.f32());
}

export class ColumnParallelLinear extends Linear {
  readonly weightSpec: ShardSpec;
  readonly biasSpec: ShardSpec | null;
  /** The enclosing block called copyToParallel on the input once for all its column layers. */
  inputCopied: boolean;
  /** Gather the output features (the full output on every rank) instead of leaving them split. */
  gatherOutput: boolean;
  constructor(readonly fullInFeatures: number, readonly fullOutFeatures: number, readonly group: ProcessGroup,
    opts: { bias?: boolean; inputCopied?: boolean; gatherOutput?: boolean } = {}) {
    const spec = shardOf([fullOutFeatures, fullInFeatures], 0, group);
    super(fullInFeatures, spec.sizes[group.rank], { bias: opts.bias, rng: new Rng(0) });
    this.weightSpec = spec;
    markShard(this.weight, spec);
    this.biasSpec = this.bias ? shardOf([fullOutFeatures], 0, group) : null;
    if (this.bias) markShard(this.bias, this.biasSpec!);
    this.inputCopied = opts.inputCopied ?? false;
    this.gatherOutput = opts.gatherOutput ?? false;
  }
  static fromLinear(lin: Linear, group: ProcessGroup, opts: { inputCopied?: boolean; gatherOutput?: boolean } = {}): ColumnParallelLinear {
    const [out, inn] = lin.weight.shape;
    const c = new ColumnParallelLinear(inn, out, group, { ...opts, bias: lin.bias !== null });
    adopt(c.weight, lin.weight, c.weightSpec);
    adopt(c.bias!, lin.bias, c.biasSpec);
    return c;
  }
  /** [in, out] of the full (single-process) layer. */
  fullDims(): [number, number] {
    return [this.fullInFeatures, this.fullOutFeatures];
  }
  /** This rank's first output feature. */
  get outStart(): number {
    return this.weightSpec.start;
  }
  /** The input as seen inside the region (copied once unless the block did it). */
  enter(x: Tensor): Tensor {
    return this.inputCopied ? x : copyToParallel(x, this.group);
  }
  /** The split output features leaving the layer (gathered when gatherOutput). */
  leave(y: Tensor): Tensor {
    return this.gatherOutput ? gatherFromParallel(y, this.group, this.weightSpec.sizes) : y;
  }
  override forward(x: TensorLike): Tensor {
    return this.leave(linear(this.enter(asTensor(x)), this.weight, this.bias));
  }
  override forwardAct(x: TensorLike, act: BiasActOp): Tensor {
    if (this.gatherOutput) return activate(this.forward(x), act);
    return linear(this.enter(asTensor(x)), this.weight, this.bias, { act });
  }
  /**
   * An LM head's loss: cross entropy of this rank's vocab slice of the logits of h [B, T, E] against
   * labels [B·T] (already shifted; −100 ignored), without any rank forming full-vocab logits.
   */
  vocabParallelLoss(h: Tensor, labels: Int32Array): Tensor {
    const logits = linear(this.enter(h), this.weight, this.bias);
    const n = logits.shape[logits.ndim - 1];
    return vocabParallelCrossEntropy(logits.reshape([-1, n]), labels, this.group, { vocabStart: this.outStart, vocabSize: this.fullOutFeatures });
  }
}

export class RowParallelLinear extends Linear {
  readonly weightSpec: ShardSpec;
  constructor(readonly fullInFeatures: number, outFeatures: number, readonly group: ProcessGroup, opts: { bias?: boolean } = {}) {
    const spec = shardOf([outFeatures, fullInFeatures], 1, group);
    super(spec.sizes[group.rank], outFeatures, { bias: opts.bias, rng: new Rng(0) });
    this.weightSpec = spec;
    markShard(this.weight, spec);
  }
  static fromLinear(lin: Linear, group: ProcessGroup): RowParallelLinear {
    const [out, inn] = lin.weight.shape;
    const r = new RowParallelLinear(inn, out, group, { bias: lin.bias !== null });
    adopt(r.weight, lin.weight, r.weightSpec);
    adopt(r.bias!, lin.bias, null);
    return r;
  }
  fullDims(): [number, number] {
    return [this.fullInFeatures, this.outFeatures];
  }
  /** This rank's first input feature. */
  get inStart(): number {
    return this.weightSpec.start;
  }
  override forward(x: TensorLike): Tensor {
    return this.forwardWith(asTensor(x), null).y;
  }
  override forwardAct(x: TensorLike, act: BiasActOp): Tensor {
    return activate(this.forward(x), act);
  }
  /**
   * y = allreduce(x·W_rᵀ) + bias. `extra` ([..., e], also a per-rank partial sum) travels in the same
   * allreduce, concatenated after the output features, and comes back summed: LoRA's A·x on a
   * row-parallel layer costs no collective of its own.
   */
  forwardWith(x: Tensor, extra: Tensor | null): { y: Tensor; extra: Tensor | null } {
    const partial = linear(x, this.weight);
    let y: Tensor, ex: Tensor | null = null;
    if (!extra) y = reduceFromParallel(partial, this.group);
    else {
      const z = reduceFromParallel(cat([partial, extra], -1), this.group);
      y = z.slice(-1, 0, this.outFeatures);
      ex = z.slice(-1, this.outFeatures);
    }
    return { y: this.bias ? add(y, this.bias) : y, extra: ex };
  }
}

export class VocabParallelEmbedding extends Embedding {
  readonly weightSpec: ShardSpec;
  constructor(readonly fullNumEmbeddings: number, embeddingDim: number, readonly group: ProcessGroup) {
    const spec = shardOf([fullNumEmbeddings, embeddingDim], 0, group);
    super(localShape(spec)[0], embeddingDim, { rng: new Rng(0) });
    this.weightSpec = spec;
    markShard(this.weight, spec);
  }
  static fromEmbedding(e: Embedding, group: ProcessGroup): VocabParallelEmbedding {
    const [num, dim] = e.weight.shape;
    const v = new VocabParallelEmbedding(num, dim, group);
    adopt(v.weight, e.weight, v.weightSpec);
    return v;
  }
  get vocabStart(): number {
    return this.weightSpec.start;
  }
  override forward(ids: Tensor | number[] | number[][]): Tensor {
    const t = ids instanceof Tensor ? ids : Tensor.from(ids as never, undefined, "i32");
    const all = t.i32(), n = this.numEmbeddings, v0 = this.vocabStart;
    const local = new Int32Array(all.length), mask = new Float32Array(all.length);
    for (let i = 0; i < all.length; i++) {
      const id = all[i];
      if (id < 0 || id >= this.fullNumEmbeddings) throw new ShapeError(`embedding: index ${id} is out of range for ${this.fullNumEmbeddings} embeddings`);
      const j = id - v0;
      if (j >= 0 && j < n) { local[i] = j; mask[i] = 1; }
    }
    const e = embedding(this.weight, new Tensor(local, t.shape, "i32"));
    return reduceFromParallel(mul(e, new Tensor(mask, [...t.shape, 1])), this.group);
  }
}

/** A column- or row-parallel linear layer. */
export type ParallelLinear = ColumnParallelLinear | RowParallelLinear;

export function isParallelLinear(m: unknown): m is ParallelLinear {
  return m instanceof ColumnParallelLinear || m instanceof RowParallelLinear;
}
