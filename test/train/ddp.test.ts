// Data parallelism without MPI (the sampler: ddp_sampler.test.ts): the gradient buckets and their
// start from the autograd leaf hook, the evaluation shards and gathering, the start-up check
// and the TrainingArguments fields, against LocalGroup and small in-memory fake groups.
import type { CommCounters } from "../../src/dist/process_group.js";
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.js";
import { setLeafGradHook } from "../../src/tensor/autograd.js";
import { DistributedError, ConfigError } from "../../src/tensor/errors.js";
import * as ops from "../../src/ops/index.js";
import { LocalGroup, type CommHandle, type ProcessGroup } from "../../src/dist/process_group.js";
import { evalShard } from "../../src/train/ddp_sampler.js";
import { assignBuckets, DdpStats, FIRST_BUCKET_BYTES, GradBuckets, hiddenShare } from "../../src/train/ddp_grads.js";
import { checkSameRun, gatherEval, rankSeed } from "../../src/train/ddp.js";
import { FlatGrads } from "../../src/train/optim/optimizer.js";
import { Trainer, TrainingArguments } from "../../src/train/index.js";
import { TinyRegressor, regressionCollator, regressionData } from "./helpers.js";

/** A group of `worldSize` whose collectives are scripted: the other ranks' bytes, and a log of calls. */
class FakeGroup implements ProcessGroup {
  readonly backend = "mpi" as const;
  readonly localRank: number;
  readonly localWorldSize: number;
  timeoutMs = 1000;
  calls: string[] = [];
  others: Uint8Array[] = [];
  constructor(readonly rank: number, readonly worldSize: number) {
    this.localRank = rank;
    this.localWorldSize = worldSize;
  }
  allreduceSum(buf: Float32Array): void {
    this.calls.push(`allreduce ${buf.length}`);
    for (let i = 0; i < buf.length; i++) buf[i] *= this.worldSize;
  }
  allreduceSumAsync(buf: Float32Array): CommHandle {
    // every rank holds the same gradient here, so the sum is worldSize × it
    this.allreduceSum(buf);
    return { wait: () => {}, isDone: () => true };
  }
  broadcast(_buf: ArrayBufferView): void { this.calls.push("broadcast"); }
  allgather(send: Float32Array): Float32Array { return send; }
  allgatherBytes(send: Uint8Array): Uint8Array[] {
    this.calls.push("allgatherBytes");
    const out = this.others.slice();
    out.splice(this.rank, 0, send);
    return out;
  }
  reduceScatterSum(send: Float32Array): Float32Array { return send; }
  reduceScatterSumAsync(): CommHandle { return { wait: () => {}, isDone: () => true }; }
  reduceScatterSumVAsync(): CommHandle { return { wait: () => {}, isDone: () => true }; }
  barrier(): void { this.calls.push("barrier"); }
  barrierAsync(): CommHandle { this.calls.push("barrierAsync"); return { wait: () => {}, isDone: () => true }; }
  split(): ProcessGroup { throw new Error("FakeGroup.split is not scripted"); }
  abort(message: string): never { throw new DistributedError(`abort: ${message}`); }
  finalize(): void {}
}

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

test("buckets: filled from the last parameter, capped, contiguous ranges covering the buffer", () => {
  const sizes = [10, 300, 20, 20, 5, 1000];
  const offsets = sizes.map((_, i) => sizes.slice(0, i).reduce((s, v) => s + v, 0));
  const b = assignBuckets(sizes, offsets, 100 * 4);
  assert.deepEqual(b.map((x) => x.params), [[5], [4, 3, 2], [1], [0]]);
  assert.deepEqual(b.map((x) => [x.start, x.end]), [[355, 1355], [310, 355], [10, 310], [0, 10]]);
  const one = assignBuckets(sizes, offsets, 25 * 1024 * 1024);
  assert.deepEqual(one, [{ params: [5, 4, 3, 2, 1, 0], start: 0, end: 1355 }]);
});

test("the leaf-gradient hook fires once per leaf, after its gradient is final", () => {
  const w1 = Tensor.from([[1, 2], [3, 4]]).requiresGrad_(true);
  const w2 = Tensor.from([[0.5, -1], [2, 1]]).requiresGrad_(true);
  const x = Tensor.from([[1, -1]]);
  const seen: [Tensor, number[]][] = [];
  const prev = setLeafGradHook((leaf) => seen.push([leaf, Array.from(leaf.grad?.f32() ?? [])]));
  try {
    // w1 is used twice (both uses must have run before it is reported)
    const h = ops.matmul(ops.matmul(x, w1), w2);
    const loss = ops.sum(ops.add(ops.matmul(h, w1), h));
    loss.backward();
  } finally {
    setLeafGradHook(prev);
  }
  assert.equal(seen.length, 2);
  assert.deepEqual(new Set(seen.map(([t]) => t)), new Set([w1, w2]));
  for (const [t, g] of seen) assert.deepEqual(g, Array.from(t.grad!.f32()), "the gradient seen by the hook is the final one");
});

test("GradBuckets: buckets start during backward in bucket order; the buffer then holds the sum; no sync leaves it local", () => {
  const model = new TinyRegressor(2, { hidden: 16 });
  const params = model.parameters();
  const flat = new FlatGrads(params);
  const g = new FakeGroup(0, 2);
  const buckets = new GradBuckets(flat, g, 200 * 4);
  assert.ok(buckets.buckets.length >= 3);
  const first = buckets.buckets.map((b) => `allreduce ${b.end - b.start}`);
  const data = regressionCollator(regressionData(4));
  const lossOf = () => model.forward(data as never).loss!;
  lossOf().backward();
  const local = Float32Array.from(flat.buffer);
  flat.zero();
  buckets.arm();
  lossOf().backward();
  const during = buckets.startedDuringBackward;
  buckets.finish();
  assert.ok(during >= 1, `some buckets started inside backward (${during})`);
  // then the one-time rebuild: rank 0's ready order broadcast
  assert.deepEqual(g.calls, [...first, "broadcast"]);
  assert.ok(buckets.rebuilt);
  flat.buffer.forEach((v, i) => assert.ok(Math.abs(v - 2 * local[i]) < 1e-6));
  assert.equal(setLeafGradHook(null), null, "finish() removed the hook");
});

test("buckets: the first one capped at firstCapBytes; filled in a given ready order as contiguous ranges", () => {
  const sizes = [10, 300, 20, 20, 5, 8];
  const offsets = [0, 10, 310, 330, 350, 355];
  assert.equal(FIRST_BUCKET_BYTES, 1024 * 1024);
  const b = assignBuckets(sizes, offsets, 400 * 4, { firstCapBytes: 15 * 4 });
  assert.deepEqual(b.map((x) => x.params), [[5, 4], [3, 2, 1, 0]]);
  assert.deepEqual(b.map((x) => [x.start, x.end]), [[350, 363], [0, 350]]);
  const ranges = (o: number[], cap: number) => assignBuckets(sizes, offsets, cap * 4, { order: o }).map((x) => [x.params, x.start, x.end]);
  // parameter 4 lies between 5 and 3: it joins their bucket (here when it comes)
  assert.deepEqual(ranges([5, 3, 2, 4, 1, 0], 100), [[[5, 3, 2, 4], 310, 363], [[1], 10, 310], [[0], 0, 10]]);
  assert.deepEqual(ranges([5, 3, 4, 2, 1, 0], 30), [[[5], 355, 363], [[3, 4], 330, 355], [[2], 310, 330], [[1], 10, 310], [[0], 0, 10]]);
  // ... or when the bucket closes; a range over another bucket's parameter is refused (2 and 0 around 1)
  assert.deepEqual(ranges([5, 3, 1, 4, 2, 0], 40), [[[5, 3, 4], 330, 363], [[1], 10, 310], [[2], 310, 330], [[0], 0, 10]]);
  // the default order is the reverse parameter order
  assert.deepEqual(assignBuckets(sizes, offsets, 100 * 4), assignBuckets(sizes, offsets, 100 * 4, { order: [5, 4, 3, 2, 1, 0] }));
});

test("GradBuckets: rebuilt once after the first pass from rank 0's ready order; later passes use those buckets, same sums", () => {
  const model = new TinyRegressor(2, { hidden: 16 });
  const flat = new FlatGrads(model.parameters());
  const n = flat.params.length;
  const g = new FakeGroup(1, 2);
  // rank 0's order (as broadcast): the parameters first to last, the opposite of this rank's
  const rank0 = Array.from({ length: n }, (_, i) => i);
  g.broadcast = (buf: ArrayBufferView) => { g.calls.push("broadcast"); (buf as Int32Array).set(rank0); };
  const buckets = new GradBuckets(flat, g, 200 * 4);
  const data = regressionCollator(regressionData(4));
  const lossOf = () => model.forward(data as never).loss!;
  lossOf().backward();
  const local = Float32Array.from(flat.buffer);
  const pass = () => { flat.zero(); buckets.arm(); lossOf().backward(); buckets.finish(); };
  pass();
  assert.deepEqual(buckets.readyOrder.slice().sort((a, b) => a - b), rank0, "every parameter reported once");
  const sizes = flat.params.map((p) => p.size);
  const expected = assignBuckets(sizes, flat.offsets, 200 * 4, { firstCapBytes: FIRST_BUCKET_BYTES, order: rank0 });
  assert.deepEqual(buckets.buckets, expected);
  assert.notDeepEqual(expected, assignBuckets(sizes, flat.offsets, 200 * 4), "the rebuild changed the buckets");
  g.calls = [];
  pass();
  assert.deepEqual(g.calls, expected.map((b) => `allreduce ${b.end - b.start}`), "no second rebuild; the new buckets in order");
  flat.buffer.forEach((v, i) => assert.equal(v, 2 * local[i]));
});

test("DDP stats: off by default; on, one record per synced pass with bytes = buffer × 4, counter deltas as collective time", () => {
  const model = new TinyRegressor(2, { hidden: 16 });
  const flat = new FlatGrads(model.parameters());
  const g = new FakeGroup(0, 2) as FakeGroup & { commCounters(): CommCounters | null };
  let busy = 0, probe = 0;
  const counters = () => ({ allreduce: { ops: 0, bytes: 0, busyMs: busy }, barrier: { ops: 0, bytes: 0, busyMs: probe }, nowMs: 0 }) as unknown as CommCounters;
  // each allreduce "takes" 2 ms on the comm thread, each probe barrier before it 1 ms (waiting for the peer)
  const inner = g.allreduceSumAsync.bind(g), innerProbe = g.barrierAsync.bind(g);
  g.allreduceSumAsync = (b: Float32Array) => { busy += 2; return inner(b); };
  g.barrierAsync = () => { probe += 1; return innerProbe(); };
  g.commCounters = counters;
  const buckets = new GradBuckets(flat, g, 200 * 4);
  const data = regressionCollator(regressionData(4));
  const pass = () => { buckets.arm(); model.forward(data as never).loss!.backward(); buckets.finish(); };
  pass();
  const stats = new DdpStats();
  buckets.stats = stats;
  pass();
  pass();
  assert.equal(stats.steps.length, 2, "the pass before enabling is not recorded");
  for (const s of stats.steps) {
    assert.equal(s.bytes, flat.buffer.length * 4);
    assert.equal(s.buckets, buckets.buckets.length);
    assert.equal(s.collectiveMs, 3 * buckets.buckets.length, "peer wait + transfer");
    assert.equal(s.peerWaitMs, buckets.buckets.length, "the probe barriers");
    assert.equal(s.transferMs, 2 * buckets.buckets.length, "the allreduces");
    assert.ok(s.waitMs >= 0 && s.waitMs <= s.finishMs);
    assert.equal(s.hiddenShare, hiddenShare(s.waitMs, s.collectiveMs));
  }
  const sum = stats.summary(1);
  assert.equal(sum.steps, 1);
  assert.equal(sum.bytesPerStep, flat.buffer.length * 4);
  assert.equal(hiddenShare(5, 20), 0.75);
  assert.equal(hiddenShare(30, 20), 0, "clamped");
  assert.equal(hiddenShare(1, null), null);
  assert.equal(hiddenShare(1, 0), null);
});

test("evaluation shards: contiguous, none twice; gathered in rank order with exact loss sums", () => {
  for (const [n, w] of [[7, 2], [7, 3], [2, 4], [12, 4]]) {
    const parts = Array.from({ length: w }, (_, r) => evalShard(n, w, r));
    assert.equal(parts[0].start, 0);
    assert.equal(parts[w - 1].end, n);
    for (let r = 1; r < w; r++) assert.equal(parts[r].start, parts[r - 1].end);
  }
  const g = new FakeGroup(1, 2);
  g.others = [enc({ predictions: [[1, 0], [0, 1]], labelIds: [0, 1], lossSum: 1.5, lossCount: 2 })];
  const out = gatherEval(g, { predictions: [[0.5, 0.5]], labelIds: [1], lossSum: 0.25, lossCount: 1 });
  assert.deepEqual(out, { predictions: [[1, 0], [0, 1], [0.5, 0.5]], labelIds: [0, 1, 1], lossSum: 1.75, lossCount: 3 });
});

test("gatherEval: a rank's part of 300k rows is appended without overflowing the stack", () => {
  const n = 300_000;
  const g = new FakeGroup(1, 2);
  g.others = [enc({ predictions: Array.from({ length: n }, (_, i) => [i]), labelIds: Array.from({ length: n }, (_, i) => i % 2), lossSum: 0, lossCount: n })];
  const out = gatherEval(g, { predictions: [[-1]], labelIds: [1], lossSum: 0, lossCount: 1 });
  assert.equal(out.predictions.length, n + 1);
  assert.deepEqual([out.predictions[n - 1], out.predictions[n]], [[n - 1], [-1]]);
  assert.equal(out.labelIds!.length, n + 1);
});

test("start-up check: a rank whose arguments, parameters or data differ names what differs", () => {
  const w = Tensor.zeros([2, 3]);
  const desc = (lr: number, shape: number[], n: number) => ({
    args: new TrainingArguments({ learningRate: lr }).toDict(), trainable: [["a.weight", Tensor.zeros(shape)]] as [string, Tensor][],
    model: [["a.weight", w]] as [string, Tensor][], datasetLength: n,
  });
  const g0 = new FakeGroup(1, 2);
  // rank 0's view of the run, as rank 1 receives it
  const rank0 = new FakeGroup(0, 1);
  let sent: Uint8Array | null = null;
  rank0.allgatherBytes = (b) => { sent = b; return [b]; };
  checkSameRun({ ...rank0, worldSize: 2, allgatherBytes: rank0.allgatherBytes } as unknown as ProcessGroup, desc(0.002, [2, 3], 10));
  g0.others = [sent!];
  assert.throws(() => checkSameRun(g0, desc(0.001, [2, 3], 10)), (e: Error) =>
    e instanceof DistributedError && e.message.includes("rank 1's learning_rate (0.001) differs from rank 0's (0.002)"));
  assert.throws(() => checkSameRun(g0, desc(0.002, [3, 2], 9)), (e: Error) =>
    /rank 1's trainable parameters .* differ from rank 0's/.test(e.message) && /rank 1's training set has 9 examples, rank 0's has 10/.test(e.message));
  checkSameRun(g0, desc(0.002, [2, 3], 10));
  checkSameRun(new LocalGroup(), desc(1, [1], 1));
});

test("TrainingArguments: ddp fields, their checks, and worldSize/processIndex/localProcessIndex from the group", () => {
  const a = new TrainingArguments();
  assert.equal(a.ddpBackend, null);
  assert.equal(a.ddpTimeout, 1800);
  assert.equal(a.ddpBucketCapMb, null);
  assert.equal(a.ddpBucketCapBytes, 25 * 1024 * 1024);
  assert.deepEqual([a.worldSize, a.processIndex, a.localProcessIndex], [1, 0, 0]);
  assert.equal(TrainingArguments.fromDict({ ddp_backend: "mpi", ddp_bucket_cap_mb: 4 }).ddpBucketCapBytes, 4 << 20);
  assert.throws(() => TrainingArguments.fromDict({ ddp_backend: "nccl" }), (e: Error) => e instanceof ConfigError && /ddp_backend 'nccl' is not supported; expected 'mpi'/.test(e.message));
  assert.throws(() => TrainingArguments.fromDict({ ddp_timeout: 0 }), ConfigError);
  assert.equal("ddp_timeout" in a.toDict(), true);
  const g = new FakeGroup(1, 3);
  const args = new TrainingArguments({ perDeviceTrainBatchSize: 2, gradientAccumulationSteps: 2, ddpTimeout: 7 });
  const t = new Trainer({ model: new TinyRegressor(1), args, trainDataset: regressionData(8), dataCollator: regressionCollator, processGroup: g });
  assert.equal(t.processGroup, g);
  assert.equal(g.timeoutMs, 7000);
  assert.deepEqual([args.worldSize, args.processIndex, args.localProcessIndex, args.totalTrainBatchSize], [3, 1, 1, 12]);
  assert.equal(args.plannedSteps(24).numBatches, 4);
  assert.ok(!("process_group" in args.toDict()));
  assert.notEqual(rankSeed(42, 1), rankSeed(42, 2));
  assert.equal(rankSeed(42, 0), 42);
});

test("a 1-process Trainer's default group is the local one", () => {
  const t = new Trainer({ model: new TinyRegressor(1), args: new TrainingArguments(), trainDataset: regressionData(4), dataCollator: regressionCollator });
  assert.equal(t.processGroup.backend, "local");
  assert.equal(t.processGroup.worldSize, 1);
});

test("resume: a checkpoint counts global batches; a run whose per_device × processes differs is refused", async () => {
  const { tmp } = await import("../peft/helpers.js");
  const out = tmp();
  const mk = (bs: number) => new Trainer({
    model: new TinyRegressor(1), dataCollator: regressionCollator, trainDataset: regressionData(16),
    args: new TrainingArguments({ outputDir: out, perDeviceTrainBatchSize: bs, maxSteps: 4, saveSteps: 2, disableTqdm: true, reportTo: ["none"] }),
  });
  await mk(2).train();
  await assert.rejects(mk(4).train({ resumeFromCheckpoint: `${out}/checkpoint-2` }), (e: Error) =>
    e instanceof ConfigError && /batches of 2 examples .* this run's have 4/.test(e.message));
  await mk(2).train({ resumeFromCheckpoint: `${out}/checkpoint-2` });
});
