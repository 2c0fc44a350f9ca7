// ZeRO stages 1 and 2 (Rajbhandari et al. 2020) over the data-parallel ranks (docs/DESIGN.md,
// "ZeRO"). The Trainer's optimizer stays the one the schedule drives (its param groups, lr), but
// it keeps no state and never steps: a shard optimizer of the same kind steps this rank's slice of
// the flat parameter vector (zero_partition.ts), one 1-D piece per parameter part, in the same
// param groups (weight decay, per-group hyper-parameters copied before every step). After the step
// the slices are allgathered into every rank's weights, a bucket of columns at a time
// (zero_gather.ts: no full-size buffer); the shard optimizer steps views of the parameters. Stage 1: the gradients are allreduced
// (ddp_grads.ts) and the shard reads its part of the flat buffer; stage 2: there is no flat
// buffer, each bucket is reduce-scattered during backward into a slice buffer and its parameters'
// gradients dropped (zero_grads.ts). Clipping uses the global norm (the ranks' sums
// of squares, added in double precision). Checkpoints gather the full state into the ordinary
// optimizer file (gatherInto); a resumed run's loaded state is cut into slices at its first step.

import { Tensor } from "../tensor/tensor.js";
import { ConfigError, DistributedError } from "../tensor/errors.js";
import type { ProcessGroup } from "../dist/process_group.js";
import { AdamW } from "./optim/adamw.js";
import { SGD } from "./optim/sgd.js";
import type { FlatGrads, Optimizer, ParamGroupInput, ParamState } from "./optim/optimizer.js";
import type { GradScaler } from "./amp.js";
import { allgatherJson } from "./ddp.js";
import { ZeroGradBuckets } from "./zero_grads.js";
import { allgatherSlicesInto, gatherChunk } from "./zero_gather.js";
import { Partition, Piece, piecesIn, sliceRange, zeroPartition } from "./zero_partition.js";

const f = Math.fround;
const SHARDABLE = new Set(["adamw", "sgd"]);

/** Why an optimizer cannot be sharded (null: it can). */
export function zeroUnsupported(kind: string): string | null {
  if (SHARDABLE.has(kind)) return null;
  if (kind === "adafactor") return "Adafactor's factored second moments and its update RMS span whole matrices, so its step cannot run on a slice; use optim adamw_torch or sgd, or zero_stage 0";
  return `optimizer '${kind}' has no sliced step (ZeRO supports adamw and sgd); use zero_stage 0`;
}

export class ZeroOptimizer {
  readonly part: Partition;
  readonly range: { start: number; end: number };
  readonly pieces: Piece[];
  /** The allgather's send buffer: at most a bucket's worth of this rank's columns. */
  private readonly gatherSend: Float32Array;
  /** The allgather's receive buffer: world × (at most a bucket's worth of) columns, not the whole vector. */
  private readonly gatherBuf: Float32Array;
  private readonly gradSlice: Float32Array;
  readonly grads: ZeroGradBuckets | null;
  readonly inner: Optimizer;
  private readonly pieceTensors: Tensor[];
  /** Per outer group: the indices of this rank's pieces in it. */
  private readonly groupPieces: number[][];

  constructor(readonly outer: Optimizer, readonly flat: FlatGrads, readonly group: ProcessGroup, readonly stage: 1 | 2, capBytes: number) {
    const why = zeroUnsupported(outer.kind);
    if (why) throw new ConfigError(`zero_stage ${stage}: ${why}`);
    this.part = zeroPartition(flat.params.reduce((n, p) => n + p.size, 0), group.worldSize);
    this.range = sliceRange(this.part, group.rank);
    this.pieces = piecesIn(flat.params.map((p) => p.size), flat.offsets, this.range.start, this.range.end);
    const S = this.part.sliceSize;
    this.gradSlice = stage === 2 ? new Float32Array(S) : flat.buffer.subarray(this.range.start, this.range.end);
    this.grads = stage === 2 ? new ZeroGradBuckets(flat, group, this.part, this.gradSlice, capBytes) : null;
    // the allgather's buffers: stage 2's packing buffers (free after backward) where there are two
    const [recv, send] = this.grads?.scratch ?? [];
    const chunk = recv && send ? Math.min(S, Math.floor(recv.length / group.worldSize), send.length) : 0;
    const own = chunk > 0 ? chunk : gatherChunk(this.part, Math.floor(capBytes / 4));
    this.gatherSend = chunk > 0 ? send.subarray(0, chunk) : new Float32Array(own);
    this.gatherBuf = chunk > 0 ? recv.subarray(0, chunk * group.worldSize) : new Float32Array(own * group.worldSize);
    const groupOf = new Map<Tensor, number>();
    outer.paramGroups.forEach((g, gi) => g.params.forEach((p) => groupOf.set(p, gi)));
    this.groupPieces = outer.paramGroups.map(() => []);
    this.pieceTensors = this.pieces.map((pc, k) => {
      const p = flat.params[pc.param];
      const gi = groupOf.get(p);
      if (gi === undefined) throw new ConfigError(`zero_stage ${stage}: parameter '${p.name}' is in the gradient buffer but in no optimizer param group`);
      this.groupPieces[gi].push(k);
      const at = pc.flat - this.range.start;
      // the shard optimizer steps a view of the parameter itself (no slice copy of the weights)
      if (!p.isContiguous()) throw new DistributedError(`zero_stage ${stage}: parameter '${p.name}' is not contiguous`);
      const t = new Tensor(p.storage, [pc.hi - pc.lo], "f32", undefined, p.offset + pc.lo);
      t.name = `${p.name ?? `param${pc.param}`}[${pc.lo}:${pc.hi}]`;
      t.grad = stage === 2 ? new Tensor(this.gradSlice, [pc.hi - pc.lo], "f32", undefined, at)
        : new Tensor(flat.buffer, [pc.hi - pc.lo], "f32", undefined, pc.flat);
      return t;
    });
    // every outer group keeps its place (an empty group on this rank still mirrors the hyper-parameters)
    const groups: ParamGroupInput[] = outer.paramGroups.map((g, gi) => {
      const { params: _p, names: _n, ...hyper } = g;
      return { ...hyper, params: this.groupPieces[gi].map((k) => this.pieceTensors[k]), names: this.groupPieces[gi].map((k) => this.pieceTensors[k].name!) };
    });
    this.inner = outer.kind === "sgd" ? new SGD(groups) : new AdamW(groups);
  }

  /** Floats of optimizer state this rank holds (exp_avg + exp_avg_sq, or momentum buffers). */
  stateFloats(): number {
    let n = 0;
    for (const s of this.inner.state.values()) for (const b of s.buffers.values()) n += b.length;
    return n;
  }

  /** Floats of gradient the step reads after the reduction (stage 1: the whole flat buffer; stage 2: the slice and packing buffers). */
  gradFloats(): number {
    return this.grads ? this.grads.floats : this.flat.buffer.length;
  }

  /** Sum of squares of this rank's gradient slice, added over the ranks (double precision, rank order). */
  private globalSquares(): number {
    let s = 0;
    const g = this.gradSlice;
    for (let i = 0; i < this.range.end - this.range.start; i++) s += g[i] * g[i];
    const parts = this.group.allgatherBytes(new Uint8Array(new Float64Array([s]).buffer));
    return parts.reduce((t, p) => t + new Float64Array(p.buffer.slice(p.byteOffset, p.byteOffset + 8))[0], 0);
  }

  /**
   * fp16 unscale of the slice (inf/NaN on any rank skips the step everywhere), the global norm, and
   * clipping of the slice by it (torch's clip_grad_norm_ coefficient). Returns whether to skip.
   */
  prepare(scaler: GradScaler | null, maxGradNorm: number): { skipped: boolean; norm: number } {
    // stage 1 holds the whole reduced gradient (the same on every rank): it is unscaled and clipped whole
    const mine = this.stage === 1 ? this.flat.buffer : this.gradSlice.subarray(0, this.range.end - this.range.start);
    let skipped = false;
    if (scaler) {
      const flags = allgatherJson(this.group, scaler.unscale([mine]));
      skipped = scaler.foundInf = flags.some(Boolean);
    }
    const norm = f(Math.sqrt(this.globalSquares()));
    if (maxGradNorm > 0) {
      const coef = f(maxGradNorm / f(norm + 1e-6));
      if (coef < 1 || Number.isNaN(coef)) for (let i = 0; i < mine.length; i++) mine[i] = f(mine[i] * coef);
    }
    // the step (or its skip) consumes the sum: the next backward starts a new one
    this.grads?.restart();
    return { skipped, norm };
  }

  /**
   * The shard's step: hyper-parameters from the outer groups, this rank's slice stepped, all slices
   * allgathered into the weights. `wholeGrads` (stage 2): the gradient slices are also allgathered
   * into the flat buffer, for a model hook that reads whole gradients after the step (AdaLoRA).
   */
  step(wholeGrads = false): void {
    this.importOuterState();
    this.outer.paramGroups.forEach((g, gi) => {
      const ig = this.inner.paramGroups[gi];
      for (const [k, v] of Object.entries(g)) if (k !== "params" && k !== "names") (ig as Record<string, unknown>)[k] = v;
    });
    const params = this.flat.params;
    // a parameter whose storage was replaced (weights loaded anew): its views follow it
    this.pieces.forEach((pc, k) => { if (this.pieceTensors[k].storage !== params[pc.param].storage) this.pieceTensors[k].storage = params[pc.param].storage; });
    this.inner.step();
    allgatherSlicesInto(this.group, this.part, this.range, params, this.flat.offsets, this.gatherSend, this.gatherBuf);
    if (wholeGrads && this.stage === 2) this.gatherWholeGrads();
  }

  /** Stage 2 for a hook that reads whole gradients: the slices allgathered into fresh .grad tensors (dropped by the step's FlatGrads.zero()). */
  private gatherWholeGrads(): void {
    const whole = this.group.allgather(this.gradSlice);
    this.flat.params.forEach((p, i) => { p.grad = new Tensor(whole, p.shape, "f32", undefined, this.flat.offsets[i]); });
  }

  /** State loaded into the outer optimizer (resume) becomes this rank's slices; the outer keeps none. */
  private importOuterState(): void {
    if (this.outer.state.size === 0) return;
    this.inner.state.clear();
    this.pieces.forEach((pc, k) => {
      const s = this.outer.state.get(this.flat.params[pc.param]);
      if (!s) return;
      const buffers = new Map<string, Float32Array>();
      for (const [name, arr] of s.buffers) buffers.set(name, arr.slice(pc.lo, pc.hi));
      this.inner.state.set(this.pieceTensors[k], { step: s.step, buffers, scalars: { ...s.scalars } });
    });
    this.outer.state.clear();
  }

  /**
   * Collective (every rank calls it): the full state of every parameter, assembled from the ranks'
   * slices, put into the outer optimizer on rank 0 (which then saves the ordinary file); the caller
   * clears it afterwards (releaseGathered).
   */
  gatherInto(): void {
    this.importOuterState();
    const mine: { steps: Record<number, number>; scalars: Record<number, Record<string, number>>; buffers: string[] } = { steps: {}, scalars: {}, buffers: [] };
    const names = new Set<string>();
    this.pieces.forEach((pc, k) => {
      const s = this.inner.state.get(this.pieceTensors[k]);
      if (!s) return;
      mine.steps[pc.param] = s.step;
      mine.scalars[pc.param] = s.scalars;
      for (const b of s.buffers.keys()) names.add(b);
    });
    mine.buffers = [...names].sort();
    const all = allgatherJson(this.group, mine);
    const bufferNames = [...new Set(all.flatMap((m) => m.buffers))].sort();
    const full = new Map<string, Float32Array>();
    for (const b of bufferNames) {
      const send = new Float32Array(this.part.sliceSize);
      this.pieces.forEach((pc, k) => {
        const arr = this.inner.state.get(this.pieceTensors[k])?.buffers.get(b);
        if (arr) send.set(arr, pc.flat - this.range.start);
      });
      full.set(b, this.group.allgather(send));
    }
    if (this.group.rank !== 0) return;
    const steps: Record<number, number> = {}, scalars: Record<number, Record<string, number>> = {};
    for (const m of all) {
      Object.assign(steps, m.steps);
      Object.assign(scalars, m.scalars);
    }
    this.flat.params.forEach((p, i) => {
      if (steps[i] === undefined) return;
      const off = this.flat.offsets[i];
      const st: ParamState = { step: steps[i], buffers: new Map(), scalars: { ...(scalars[i] ?? {}) } };
      for (const [b, arr] of full) st.buffers.set(b, arr.slice(off, off + p.size));
      this.outer.state.set(p, st);
    });
  }

  /** After the save: the outer optimizer holds no state again. */
  releaseGathered(): void {
    this.outer.state.clear();
  }
}
