// The Trainer's side of data parallelism (docs/DESIGN.md, "Data parallelism"): which process
// group a run uses, the start-up check that every rank runs the same job, the per-rank dropout
// stream, the step's loss/FLOP reduction, rank 0's duties around files, and the gathering of
// evaluation shards. The sampler is ddp_sampler.ts, the gradient buckets ddp_grads.ts.

import { sha256Hex } from "../platform/sha256.js";
import { DistributedError } from "../tensor/errors.js";
import type { ProcessGroup } from "../dist/process_group.js";
import { getProcessGroup } from "../dist/init.js";
import type { Module } from "../nn/module.js";
import type { Tensor } from "../tensor/tensor.js";
import type { RngState } from "../tensor/random.js";
import type { TrainingArguments } from "./args.js";
import { FlatGrads } from "./optim/optimizer.js";
import { DdpStats, GradBuckets } from "./ddp_grads.js";
import type { Optimizer } from "./optim/optimizer.js";
import { ZeroOptimizer } from "./zero.js";
import { evalShard } from "./ddp_sampler.js";

/** The group a Trainer uses when none is passed: MPI when mpirun started the process, else the single-process group. */
export function defaultProcessGroup(): ProcessGroup {
  return getProcessGroup();
}

/** The dropout seed of rank r: the seed itself on rank 0, a distinct stream per other rank. */
export function rankSeed(seed: number, rank: number): number {
  if (rank === 0) return seed;
  let h = (seed ^ Math.imul(rank, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Every rank's JSON value, in rank order. */
export function allgatherJson<T>(group: ProcessGroup, value: T): T[] {
  return group.allgatherBytes(enc.encode(JSON.stringify(value))).map((b) => JSON.parse(dec.decode(b)) as T);
}

function shapesDigest(named: [string, Tensor][]): { count: number; digest: string; list: string[] } {
  const list = named.map(([n, p]) => `${n}[${p.shape.join(",")}]`);
  return { count: list.length, digest: sha256Hex(list.join("\n")).slice(0, 16), list };
}

/** What the start-up check compares. */
export interface RunDescription {
  args: Record<string, unknown>;
  trainable: [string, Tensor][];
  model: [string, Tensor][];
  datasetLength: number;
}

/** Fields of TrainingArguments that may differ between ranks (none today: the rank comes from the group). */
const PER_RANK_FIELDS = new Set<string>([]);

/**
 * Rank 0's arguments, trainable and model parameter names/shapes and dataset length against this
 * rank's; every rank learns every mismatch (allgather) and throws the same DistributedError.
 */
export function checkSameRun(on: ProcessGroup | DataParallel, d: RunDescription): void {
  if (on instanceof DataParallel) {
    // tensor parallelism: shapes agree within a dp group (same shard), the arguments and data everywhere
    checkSameRun(on.group, d);
    if (on.tp) checkSameRun(on.world, { ...d, trainable: [], model: [] });
    return;
  }
  const group = on;
  if (group.worldSize === 1) return;
  const args: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(d.args)) if (!PER_RANK_FIELDS.has(k)) args[k] = v;
  const tr = shapesDigest(d.trainable), md = shapesDigest(d.model);
  const mine = { args, trainable: tr.digest, trainableCount: tr.count, firstTrainable: tr.list.slice(0, 3), model: md.digest, modelCount: md.count, datasetLength: d.datasetLength };
  const all = allgatherJson(group, mine);
  const ref = all[0];
  const problems: string[] = [];
  all.forEach((o, r) => {
    if (r === 0) return;
    for (const k of new Set([...Object.keys(ref.args), ...Object.keys(o.args)])) {
      const a = JSON.stringify(o.args[k]), b = JSON.stringify(ref.args[k]);
      if (a !== b) problems.push(`rank ${r}'s ${k} (${a}) differs from rank 0's (${b})`);
    }
    if (o.trainable !== ref.trainable) {
      problems.push(`rank ${r}'s trainable parameters (${o.trainableCount}: ${o.firstTrainable.join(", ")}…) differ from rank 0's (${ref.trainableCount}: ${ref.firstTrainable.join(", ")}…) in names or shapes`);
    }
    if (o.model !== ref.model) problems.push(`rank ${r}'s model parameters (${o.modelCount}) differ from rank 0's (${ref.modelCount}) in names or shapes`);
    if (o.datasetLength !== ref.datasetLength) problems.push(`rank ${r}'s training set has ${o.datasetLength} examples, rank 0's has ${ref.datasetLength}`);
  });
  if (problems.length) throw new DistributedError(`the ranks do not run the same training job: ${problems.join("; ")}`);
}

/**
 * A data-parallel run's coordination; with one process every method is a cheap identity. `group`
 * is the data-parallel group (the world without tensor parallelism; with it, the ranks holding the
 * same shard: world ranks ≡ rank mod tp), `world` every process (rank 0's duties, barriers, abort).
 */
export class DataParallel {
  private buckets: GradBuckets | null = null;
  /** ZeRO's shard optimizer (zero_stage > 0 with more than one rank), else null. */
  zero: ZeroOptimizer | null = null;
  private statsRec: DdpStats | null = null;
  readonly world: ProcessGroup;

  constructor(readonly group: ProcessGroup, world?: ProcessGroup, readonly tp: ProcessGroup | null = null) {
    this.world = world ?? group;
  }

  /** The per-step communication figures; collecting starts with the first call (off until then). */
  stats(): DdpStats {
    if (!this.statsRec) this.statsRec = new DdpStats();
    if (this.buckets) this.buckets.stats = this.statsRec;
    if (this.zero?.grads) this.zero.grads.stats = this.statsRec;
    return this.statsRec;
  }

  /** The Trainer's: the groups' timeout from ddp_timeout, and args.worldSize & co. read the groups. */
  static forTrainer(group: ProcessGroup, args: TrainingArguments, layout?: { dp: ProcessGroup; tp: ProcessGroup | null }): DataParallel {
    for (const g of [group, layout?.dp, layout?.tp]) if (g) g.timeoutMs = args.ddpTimeout * 1000;
    args.setProcessGroup(group, layout?.dp ?? null);
    return new DataParallel(layout?.dp ?? group, group, layout?.tp ?? null);
  }

  /** An error in the loop: no hook left behind; with peers, every rank ends (one failing alone would leave the others waiting in a collective). */
  fail(e: unknown): void {
    this.buckets?.disarm();
    this.zero?.grads?.disarm();
    if (this.world.worldSize > 1) this.world.abort(`rank ${this.world.rank}: ${(e as Error)?.message ?? String(e)}`);
  }

  /** More than one data-parallel rank (gradients, losses and evaluation shards are exchanged). */
  get active(): boolean {
    return this.group.worldSize > 1;
  }
  /** World rank 0 (dp 0, tp 0): it logs and writes the run's files. */
  get isMain(): boolean {
    return this.world.rank === 0;
  }
  /** The ranks of replica 0 (dp rank 0): they take part in gathering the sharded model and optimizer state for a save. */
  get savesShards(): boolean {
    return this.tp !== null && this.group.rank === 0;
  }

  /**
   * At train start: rank 0's trainable parameters go to every rank (DDP's initial broadcast; the
   * frozen weights come from the same files everywhere, which the start-up check compares by
   * name and shape), and the buckets over this run's flat gradient buffer are laid out. With
   * zero_stage > 0 the optimizer's state is sharded (zero.ts); stage 2 replaces the allreduce buckets.
   */
  setup(flat: FlatGrads, args: TrainingArguments, optimizer?: Optimizer): void {
    this.buckets = null;
    this.zero = null;
    if (!this.active) return;
    for (const p of flat.params) {
      if (!p.isContiguous()) throw new DistributedError(`parameter '${p.name}' is not contiguous; it cannot be broadcast from rank 0`);
      this.group.broadcast(p.data as Float32Array, 0);
    }
    if (args.zeroStage > 0 && optimizer) this.zero = new ZeroOptimizer(optimizer, flat, this.group, args.zeroStage as 1 | 2, args.ddpBucketCapBytes);
    // ZeRO-2 reduce-scatters in its own buckets
    if (this.zero?.grads) this.zero.grads.stats = this.statsRec;
    else this.buckets = new GradBuckets(flat, this.group, args.ddpBucketCapBytes);
    if (this.buckets) this.buckets.stats = this.statsRec;
  }

  /**
   * The run's gradient layout: the flat buffer every .grad is a view of, padded to the ranks for
   * ZeRO; with ZeRO stage 2 over several ranks only the layout (no full-size buffer, zero_grads.ts),
   * in `modelOrder` (the model's parameter order) rather than the optimizer's (its weight-decay
   * groups would put every layer's biases in one range, final only at the end of backward): stage 2's
   * buckets are contiguous ranges of it and cannot be rebuilt from the ready order as DDP's.
   */
  flatGrads(params: Tensor[], args: TrainingArguments, modelOrder: readonly Tensor[] = []): FlatGrads {
    const zero = args.zeroStage > 0 && this.active;
    if (!(zero && args.zeroStage === 2)) return new FlatGrads(params, zero ? this.group.worldSize : 1);
    const at = new Map(modelOrder.map((p, i) => [p, i]));
    const ordered = params.map((p, i) => ({ p, k: at.get(p) ?? modelOrder.length + i })).sort((a, b) => a.k - b.k).map((x) => x.p);
    return new FlatGrads(ordered, this.group.worldSize, false);
  }
  get gradBuckets(): GradBuckets | null {
    return this.buckets;
  }

  /**
   * Runs a micro-batch's backward. With `sync` (an accumulation group's last micro-batch; the
   * others are DDP's no_sync) buckets start as they fill, and afterwards the flat buffer holds the
   * sum over the ranks. ZeRO stage 2 communicates on every micro-batch (its slice holds the sum).
   */
  backward(sync: boolean, run: () => void): void {
    const b = this.zero?.grads ?? this.buckets;
    // ZeRO-2 communicates every micro-batch (its slice accumulates; no full-size gradients to keep)
    if (!b || (!sync && !this.zero?.grads)) return run();
    b.arm();
    run();
    b.finish();
  }

  /** The evaluation loop's sharding: contiguous rows per rank, gathered in order. */
  evalSharding(): { shard(n: number): { start: number; end: number }; gather(p: EvalPart): EvalPart } {
    return { shard: (n) => evalShard(n, this.group.worldSize, this.group.rank), gather: (p) => gatherEval(this.group, p) };
  }

  /** Sums of this rank's [loss, flos] over the ranks, in double precision and rank order. */
  sumStep(loss: number, flos: number): { loss: number; flos: number } {
    if (!this.active) return { loss, flos };
    const parts = this.group.allgatherBytes(new Uint8Array(new Float64Array([loss, flos]).buffer));
    let l = 0, f = 0;
    for (const p of parts) {
      const v = new Float64Array(p.buffer.slice(p.byteOffset, p.byteOffset + 16));
      l += v[0];
      f += v[1];
    }
    return { loss: l, flos: f };
  }

  /**
   * Every data-parallel rank's global RNG state (for rank 0's checkpoint; the tp ranks of a replica
   * share their replica's dropout stream, so the dp group's states are everyone's).
   */
  rngStates(mine: RngState): RngState[] {
    return this.active ? allgatherJson(this.group, mine) : [mine];
  }

  /**
   * Runs fn on rank 0 only; every rank leaves together (nobody runs ahead of a save). Under tensor
   * parallelism the other tp ranks of replica 0 run `peer` meanwhile (their half of the collectives
   * fn makes over the tp group, e.g. savePretrained's gathers).
   */
  async onMain(fn: () => Promise<void> | void, peer?: () => Promise<void> | void): Promise<void> {
    if (this.isMain) await fn();
    else if (peer && this.savesShards) await peer();
    if (this.world.worldSize > 1) this.world.barrier();
  }
}

/** The part of an evaluation one rank computed (contiguous rows). */
export interface EvalPart {
  predictions: unknown[];
  labelIds: unknown[] | undefined;
  lossSum: number;
  lossCount: number;
}

/** The ranks' parts concatenated in rank order (= dataset order); loss sums and counts added. */
export function gatherEval(group: ProcessGroup, part: EvalPart): EvalPart {
  if (group.worldSize === 1) return part;
  const all = allgatherJson(group, { ...part, labelIds: part.labelIds ?? null });
  const out: EvalPart = { predictions: [], labelIds: [], lossSum: 0, lossCount: 0 };
  for (const p of all) {
    // a rank's part is dataset-sized: appended one by one (a spread call overflows the stack past ~120k)
    for (const x of p.predictions) out.predictions.push(x);
    if (p.labelIds === null) out.labelIds = undefined;
    else if (out.labelIds) for (const x of p.labelIds) out.labelIds.push(x);
    out.lossSum += p.lossSum;
    out.lossCount += p.lossCount;
  }
  return out;
}

/** Reads the module's parameters by name (the model half of the start-up check). */
export function modelShapes(model: Module): [string, Tensor][] {
  return model.namedParameters();
}
