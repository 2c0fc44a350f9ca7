// ZeRO without MPI: the partition of the flat parameter vector, the stage-2 column buckets and
// their packing (a fake 2-rank group records what would be reduce-scattered), the arguments, and
// zero_stage > 0 in a 1-process run (plain training). The 2-rank runs are zero_mpi.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, DistributedError } from "../../src/tensor/errors.js";
import { setLeafGradHook } from "../../src/tensor/autograd.js";
import { DONE, LocalGroup, type CommHandle, type ProcessGroup } from "../../src/dist/process_group.js";
import { columnBuckets, piecesIn, sliceRange, zeroPartition } from "../../src/train/zero_partition.js";
import { ZeroGradBuckets } from "../../src/train/zero_grads.js";
import { zeroUnsupported } from "../../src/train/zero.js";
import { allgatherSlicesInto, gatherChunk } from "../../src/train/zero_gather.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { FlatGrads } from "../../src/train/optim/optimizer.js";
import { TrainingArguments } from "../../src/train/index.js";
import { TinyRegressor, regressionCollator, regressionData } from "./helpers.js";
import { tmp } from "../peft/helpers.js";

const offsetsOf = (sizes: number[]) => sizes.map((_, i) => sizes.slice(0, i).reduce((s, v) => s + v, 0));

test("partition: N equal slices of the padded vector; every element in exactly one rank's pieces", () => {
  const sizes = [10, 300, 20, 20, 5, 1000, 1];
  const offsets = offsetsOf(sizes), total = 1356;
  for (const world of [1, 2, 3, 4, 7]) {
    const p = zeroPartition(total, world);
    assert.equal(p.sliceSize, Math.ceil(total / world));
    assert.equal(p.padded % world, 0);
    assert.ok(p.padded >= total && p.padded - total < world);
    const owner = new Int32Array(total).fill(-1);
    for (let r = 0; r < world; r++) {
      const { start, end } = sliceRange(p, r);
      assert.equal(start, Math.min(r * p.sliceSize, total));
      const pieces = piecesIn(sizes, offsets, start, end);
      let at = start;
      for (const pc of pieces) {
        assert.equal(pc.flat, at, "pieces are contiguous, in parameter order");
        assert.equal(pc.flat, offsets[pc.param] + pc.lo);
        assert.ok(pc.hi > pc.lo && pc.hi <= sizes[pc.param]);
        for (let i = pc.flat; i < pc.flat + pc.hi - pc.lo; i++) {
          assert.equal(owner[i], -1);
          owner[i] = r;
        }
        at += pc.hi - pc.lo;
      }
      assert.equal(at, end);
    }
    assert.ok(owner.every((o) => o >= 0), `world ${world}: every element owned`);
  }
  // a parameter straddling two slices is split between them
  const p = zeroPartition(total, 2);
  assert.deepEqual(piecesIn(sizes, offsets, 0, 678).at(-1), { param: 5, lo: 0, hi: 323, flat: 355 });
  assert.deepEqual(piecesIn(sizes, offsets, 678, 1356)[0], { param: 5, lo: 323, hi: 1000, flat: 678 });
  assert.equal(p.sliceSize, 678);
});

test("column buckets: from the end of the slices, capped, covering every column once, with the parameters they touch", () => {
  const sizes = [10, 300, 20, 20, 5, 1000, 1];
  const offsets = offsetsOf(sizes);
  const p = zeroPartition(1356, 2);
  const b = columnBuckets(p, sizes, offsets, 400);
  assert.equal(b[0].b, 678);
  for (let k = 0; k < b.length; k++) {
    assert.ok(2 * (b[k].b - b[k].a) <= 400);
    if (k > 0) assert.equal(b[k].b, b[k - 1].a);
  }
  assert.equal(b.at(-1)!.a, 0);
  // columns [478, 678) are flat [478, 678) (param 5) and [1156, 1356) (params 5, 6)
  assert.deepEqual(b[0], { a: 478, b: 678, params: [5, 6] });
  assert.deepEqual(b.at(-1)!.params, [0, 1, 5]);
  assert.equal(columnBuckets(p, sizes, offsets, 25 * 1024 * 1024 / 4).length, 1);
});

/** Rank `rank` of 2 where the other rank has the same gradients: a reduce-scatter returns 2 × this rank's block. */
class TwinGroup extends LocalGroup {
  override readonly worldSize = 2 as unknown as 1;
  calls: number[] = [];
  constructor(readonly me: number) {
    super();
  }
  override reduceScatterSumAsync(send: Float32Array, out: Float32Array): CommHandle {
    this.calls.push(send.length);
    const n = out.length;
    for (let i = 0; i < n; i++) out[i] = 2 * send[this.me * n + i];
    return DONE;
  }
}

test("stage-2 buckets: packed per column range, started during backward; each rank receives the sum of its own slice", () => {
  for (const me of [0, 1]) {
    const model = new TinyRegressor(2, { hidden: 16 });
    const flat = new FlatGrads(model.parameters(), 2);
    const total = flat.params.reduce((s, q) => s + q.size, 0);
    const part = zeroPartition(total, 2);
    const g = new TwinGroup(me);
    const slice = new Float32Array(part.sliceSize);
    const buckets = new ZeroGradBuckets(flat, g as unknown as ProcessGroup, part, slice, 64 * 4);
    assert.ok(buckets.buckets.length >= 3, `${buckets.buckets.length} buckets`);
    const data = regressionCollator(regressionData(4));
    buckets.arm();
    model.forward(data as never).loss!.backward();
    const during = buckets.startedDuringBackward;
    buckets.finish();
    assert.ok(during >= 1, `some buckets started inside backward (${during})`);
    assert.deepEqual(g.calls, buckets.buckets.map((b) => 2 * (b.b - b.a)));
    const { start, end } = sliceRange(part, me);
    for (let i = start; i < end; i++) assert.ok(Math.abs(slice[i - start] - 2 * flat.buffer[i]) < 1e-6, `element ${i}`);
    for (let i = end - start; i < part.sliceSize; i++) assert.equal(slice[i], 0, "the padding is zero");
    assert.ok(buckets.floats < flat.buffer.length + part.sliceSize, "two packing buffers at most");
    assert.equal(setLeafGradHook(null), null, "finish() removed the hook");
  }
});

test("parameter allgather in column chunks: this rank's slice read from its parameters, every rank's lands in them; chunk-sized buffers", () => {
  const sizes = [10, 300, 20, 20, 5, 1000, 1];
  const offsets = offsetsOf(sizes), total = 1356;
  const whole = Float32Array.from({ length: total }, (_, i) => i * 0.5 - 7);
  for (const world of [2, 3, 7]) {
    const part = zeroPartition(total, world);
    const slices = Array.from({ length: world }, (_, r) => {
      const s = new Float32Array(part.sliceSize);
      const { start, end } = sliceRange(part, r);
      s.set(whole.subarray(start, end));
      return s;
    });
    for (const capFloats of [world, 100, 7 * world + 3, part.padded, 10 * part.padded]) {
      const rank = world - 1, range = sliceRange(part, rank);
      const calls: number[] = [];
      let a = 0;
      const group = {
        worldSize: world, rank,
        allgather(send: Float32Array, out: Float32Array): Float32Array {
          assert.equal(out.length, send.length * world);
          assert.deepEqual(Array.from(send), Array.from(slices[rank].subarray(a, a + send.length)), "this rank sends its own columns, zero-padded");
          slices.forEach((sl, r) => out.set(sl.subarray(a, a + send.length), r * send.length));
          a += send.length;
          calls.push(send.length);
          return out;
        },
      } as unknown as ProcessGroup;
      // this rank's parameters hold only its own slice (as after the shard step); the rest is stale
      const params = sizes.map((n, i) => {
        const t = Tensor.zeros([n]);
        const d = t.data as Float32Array;
        for (let k = 0; k < n; k++) if (offsets[i] + k >= range.start && offsets[i] + k < range.end) d[k] = whole[offsets[i] + k];
        return t;
      });
      const chunk = gatherChunk(part, capFloats);
      assert.ok(chunk * world <= Math.max(world, capFloats), `world ${world} cap ${capFloats}: receive buffer ${chunk * world}`);
      allgatherSlicesInto(group, part, range, params, offsets, new Float32Array(chunk), new Float32Array(chunk * world));
      params.forEach((p, i) => assert.deepEqual(Array.from(p.f32()), Array.from(whole.subarray(offsets[i], offsets[i] + sizes[i])), `world ${world} cap ${capFloats} param ${i}`));
      assert.equal(a, part.sliceSize, "every column once");
      assert.equal(calls.length, Math.ceil(part.sliceSize / chunk));
    }
    assert.throws(() => allgatherSlicesInto({ worldSize: world } as unknown as ProcessGroup, part, sliceRange(part, 0), [], offsets, new Float32Array(2), new Float32Array(2 * world - 1)),
      (e: Error) => e instanceof DistributedError && new RegExp(`do not fit ${world} ranks`).test(e.message));
  }
});

test("zero_stage: 0, 1 or 2; Adafactor is refused with the reason", () => {
  assert.equal(new TrainingArguments({}).zeroStage, 0);
  assert.equal(TrainingArguments.fromDict({ zero_stage: 2 }).zeroStage, 2);
  assert.throws(() => TrainingArguments.fromDict({ zero_stage: 3 }), (e: unknown) => e instanceof ConfigError && /zero_stage must be 0, 1 or 2, got 3/.test((e as Error).message));
  assert.throws(() => TrainingArguments.fromDict({ zero_stage: 1, optim: "adafactor" }), (e: unknown) => e instanceof ConfigError && /adafactor/.test((e as Error).message));
  assert.match(zeroUnsupported("adafactor")!, /factored second moments/);
  assert.equal(zeroUnsupported("adamw"), null);
  assert.equal(zeroUnsupported("sgd"), null);
});

test("zero_stage 2 in a 1-process run trains exactly like plain training", () => {
  const child = join(import.meta.dirname, "fixtures", "ddp_child.ts");
  const res = (zero: number) => {
    const result = join(tmp("peft-zero-"), "r.json");
    const r = spawnSync(process.execPath, ["--import", "tsx", child, JSON.stringify({ out: tmp(), result, perDevice: 4, maxSteps: 3, zero, wd: 0.01 })], { encoding: "utf8", timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(readFileSync(result, "utf8"));
  };
  const a = res(0), b = res(2);
  assert.deepEqual(b.losses, a.losses);
  assert.deepEqual(b.adapter, a.adapter);
  assert.equal(b.optimizerFloats, a.optimizerFloats, "one process keeps the whole state");
});
