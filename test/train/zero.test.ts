// ZeRO without MPI: the partition of the flat parameter vector, the stage-2 buckets (a fake group
// of 2 or 4 ranks records what would be reduce-scattered), the arguments, and
// zero_stage > 0 in a 1-process run (plain training). The 2-rank runs are zero_mpi.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, DistributedError } from "../../src/tensor/errors.js";
import { setLeafGradHook } from "../../src/tensor/autograd.js";
import { DONE, type CommHandle, type ProcessGroup } from "../../src/dist/process_group.js";
import { piecesIn, sliceRange, zeroPartition } from "../../src/train/zero_partition.js";
import { ZeroGradBuckets, zeroBucketCapBytes } from "../../src/train/zero_grads.js";
import { zeroUnsupported } from "../../src/train/zero.js";
import { allgatherSlicesInto, gatherChunk } from "../../src/train/zero_gather.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { FlatGrads } from "../../src/train/optim/optimizer.js";
import { TrainingArguments } from "../../src/train/index.js";
import * as ops from "../../src/ops/index.js";
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

/** World `world`, rank `rank`; the other ranks contribute zeros: a reduce-scatter returns this rank's own part of `send`. */
function zeroPeers(world: number, rank: number, log: number[][]): ProcessGroup {
  return {
    rank, worldSize: world,
    reduceScatterSumVAsync(send: Float32Array, counts: readonly number[], out: Float32Array): CommHandle {
      log.push([...counts]);
      const before = counts.slice(0, rank).reduce((s, c) => s + c, 0);
      for (let j = 0; j < out.length; j++) out[j] = send[before + j];
      return DONE;
    },
  } as unknown as ProcessGroup;
}

test("stage-2 buckets: contiguous ranges in backward order, reduce-scattered into the slice during backward; gradients dropped; micro-batches add up", () => {
  const batches = [0, 1, 2].map((k) => regressionCollator(regressionData(4, 7 + k)));
  for (const world of [2, 4]) {
    // the reference: the plain flat buffer after micro-batches 0 + 1, and after 2 alone
    const ref = new TinyRegressor(2, { hidden: 16, depth: 12 });
    const refFlat = new FlatGrads(ref.parameters());
    for (const k of [0, 1]) ref.forward(batches[k] as never).loss!.backward();
    refFlat.attach();
    const sum01 = Float32Array.from(refFlat.buffer);
    refFlat.zero();
    ref.forward(batches[2] as never).loss!.backward();
    refFlat.attach();
    const only2 = Float32Array.from(refFlat.buffer);
    for (const rank of [0, world - 1]) {
      const model = new TinyRegressor(2, { hidden: 16, depth: 12 });
      const flat = new FlatGrads(model.parameters(), world, false);
      assert.equal(flat.buffer.length, 0, "no full-size gradient buffer");
      const T = flat.total, part = zeroPartition(T, world), { start, end } = sliceRange(part, rank);
      const log: number[][] = [];
      const slice = new Float32Array(part.sliceSize);
      const buckets = new ZeroGradBuckets(flat, zeroPeers(world, rank, log), part, slice, 25 * 1024 * 1024);
      const bs = buckets.buckets;
      assert.ok(bs.length >= 8, `${bs.length} buckets`);
      assert.equal(bs[0].end, T);
      bs.forEach((b, k) => { if (k > 0) assert.equal(b.end, bs[k - 1].start, "contiguous, from the end backwards"); });
      assert.equal(bs.at(-1)!.start, 0);
      const capFloats = zeroBucketCapBytes(part.sliceSize, 25 * 1024 * 1024) / 4;
      assert.equal(capFloats, Math.floor(part.sliceSize / 8));
      for (const b of bs) if (b.params.length > 1) assert.ok(b.end - b.start <= capFloats, "a packed bucket is at most 1/8 of a slice");
      const pass = (k: number) => {
        buckets.arm();
        model.forward(batches[k] as never).loss!.backward();
        const during = buckets.startedDuringBackward;
        buckets.finish();
        assert.ok(during >= bs.length - 1, `buckets started inside backward: ${during} of ${bs.length}`);
        assert.ok(model.parameters().every((p) => p.grad === null), "every parameter's gradient was dropped");
        assert.equal(setLeafGradHook(null), null, "finish() removed the hook");
      };
      pass(0);
      pass(1);
      const expect = (want: Float32Array, what: string) => {
        for (let i = start; i < end; i++) assert.ok(Math.abs(slice[i - start] - want[i]) < 1e-6, `${what}: element ${i}: ${slice[i - start]} vs ${want[i]}`);
        for (let i = end - start; i < part.sliceSize; i++) assert.equal(slice[i], 0, "the padding is zero");
      };
      expect(sum01, `world ${world} rank ${rank}, micro-batches 0 + 1`);
      // one collective per bucket, or per chunk of a one-parameter bucket wider than a packed one
      const ranges = bs.flatMap((_, k) => buckets.sendRanges(k));
      bs.forEach((b, k) => {
        const rs = buckets.sendRanges(k);
        assert.equal(rs[0].end === b.end || rs[0].start === b.start, true);
        assert.equal(rs.reduce((s, r) => s + r.end - r.start, 0), b.end - b.start, "the ranges cover the bucket");
        if (rs.length > 1) assert.ok(b.params.length === 1 && rs.every((r) => r.end - r.start <= capFloats), "chunks of one parameter, each at most a packed bucket");
      });
      assert.equal(log.length, 2 * ranges.length);
      log.slice(0, ranges.length).forEach((c, k) => {
        assert.equal(c.reduce((s, x) => s + x, 0), ranges[k].end - ranges[k].start, "the counts cover the range");
        assert.equal(c[rank], Math.max(0, Math.min(ranges[k].end, end) - Math.max(ranges[k].start, start)), "this rank receives its part of the range");
      });
      buckets.restart();
      pass(2);
      expect(only2, `world ${world} rank ${rank}, after restart()`);
      // gradient floats held at the worst moment vs plain DP's T: the slice, the staging, the live .grad tensors
      const largest = Math.max(...flat.params.map((p) => p.size));
      console.log(`# zero stage-2 buckets world ${world} rank ${rank}: ${bs.length} buckets, gradient floats ${buckets.floats} = slice ${slice.length} + staging ${buckets.persistentFloats - slice.length} + peak .grad ${buckets.peakParamGradFloats} (plain DP ${T}: ${(buckets.floats / T).toFixed(3)}×)`);
      assert.ok(buckets.persistentFloats - slice.length <= 2 * capFloats, "two staging buffers of at most a bucket");
      assert.ok(buckets.peakParamGradFloats <= 2 * Math.max(largest, capFloats), `peak of live .grad floats ${buckets.peakParamGradFloats}`);
      // ≈ 1/N of plain DP: beyond the slice, less than 15% of DP's buffer for this 13-layer model
      assert.ok(buckets.floats - slice.length < 0.15 * T, `${buckets.floats} gradient floats`);
    }
  }
});

test("stage-2 buckets: a parameter that got no gradient (wider than the staging) counts as zeros", () => {
  const used = Tensor.from(Float32Array.from({ length: 40 }, (_, i) => i / 40), [40]).requiresGrad_();
  const unused = Tensor.zeros([300]).requiresGrad_();
  const small = Tensor.zeros([3]).requiresGrad_();
  const flat = new FlatGrads([unused, small, used], 2, false);
  const part = zeroPartition(flat.total, 2), slice = new Float32Array(part.sliceSize), log: number[][] = [];
  const buckets = new ZeroGradBuckets(flat, zeroPeers(2, 1, log), part, slice, 64);
  buckets.arm();
  ops.sum(ops.mul(used, used)).backward();
  buckets.finish();
  const { start } = sliceRange(part, 1);
  for (let i = 0; i < slice.length; i++) {
    const at = start + i;
    const want = at >= 303 && at < 343 ? 2 * ((at - 303) / 40) : 0;
    assert.ok(Math.abs(slice[i] - want) < 1e-6, `element ${at}: ${slice[i]} vs ${want}`);
  }
  assert.equal(log.length, buckets.buckets.reduce((n, _, k) => n + buckets.sendRanges(k).length, 0));
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
