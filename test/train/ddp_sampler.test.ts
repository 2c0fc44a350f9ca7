// Data-parallel sampling against what HF Trainer does on several processes: the per-rank batches
// that accelerate's prepare_data_loader (the Trainer's defaults) yields for a fixed epoch order,
// recorded by scripts/fixtures/dist_sampler_shards.py, for dataset sizes that do and do not divide
// world × batch, with and without dataloader_drop_last; and the step counts that plannedSteps gives.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../../src/tensor/errors.js";
import { batchesOf } from "../../src/train/trainer_data.js";
import { epochBatches, globalExamples, paddedOrder } from "../../src/train/ddp_sampler.js";
import { TrainingArguments } from "../../src/train/index.js";

interface ShardCase { n: number; batch: number; world: number; drop_last: boolean; order: number[]; accelerate: number[][][] }
const FIXTURE = JSON.parse(readFileSync(join(import.meta.dirname, "..", "fixtures", "dist", "sampler_shards.json"), "utf8")) as { cases: ShardCase[] };

test("every rank's batches equal accelerate's (HF Trainer) for even and uneven sizes, with and without drop_last", () => {
  assert.equal(FIXTURE.cases.length, 20);
  for (const c of FIXTURE.cases) {
    const where = `n ${c.n}, batch ${c.batch}, world ${c.world}, drop_last ${c.drop_last}`;
    assert.deepEqual(epochBatches(c.order, c.batch, c.world, c.drop_last), c.accelerate, where);
  }
});

test("the step counts of plannedSteps are the number of batches every rank gets", () => {
  for (const c of FIXTURE.cases) {
    const a = new TrainingArguments({ perDeviceTrainBatchSize: c.batch, dataloaderDropLast: c.drop_last, numTrainEpochs: 1 });
    const plan = a.plannedSteps(c.n, c.world);
    c.accelerate.forEach((r, rank) => assert.equal(r.length, plan.numBatches, `n ${c.n}, world ${c.world}, rank ${rank}, drop_last ${c.drop_last}`));
  }
});

test("global batch j is the single-process batch j of size b × world while full; one process keeps its short last batch", () => {
  const order = [5, 3, 9, 0, 1, 8, 2, 7, 4, 6, 10]; // 11 examples
  for (const world of [2, 3]) {
    const all = epochBatches(order, 2, world, false);
    const single = batchesOf(order, 2 * world, false);
    single.forEach((b, j) => {
      const global = all.flatMap((r) => r[j]);
      if (b.length === 2 * world) assert.deepEqual(global, b, `world ${world}, batch ${j}`);
      // the short tail is completed from the start of the order
      else assert.deepEqual(global, [...b, ...order.slice(0, 2 * world - b.length)], `world ${world}, tail`);
    });
  }
  assert.deepEqual(epochBatches(order, 4, 1, false), [[[5, 3, 9, 0], [1, 8, 2, 7], [4, 6, 10]]]);
  assert.deepEqual(epochBatches(order, 4, 1, true), [[[5, 3, 9, 0], [1, 8, 2, 7]]]);
  assert.deepEqual(paddedOrder([4], 3, false), [4, 4, 4], "an order shorter than the padding repeats");
  assert.deepEqual(paddedOrder(order, 4, true), order.slice(0, 8));
  assert.deepEqual(epochBatches([], 2, 2, false), [[], []]);
  assert.throws(() => epochBatches(order, 2, 0, false), (e: Error) => e instanceof ConfigError && /world size 0 is not a positive integer/.test(e.message));
});

test("the loss weights' denominator: the examples of an accumulation group on every rank", () => {
  const order = [5, 3, 9, 0, 1, 8, 2, 7, 4, 6, 10];
  const all = epochBatches(order, 2, 2, false); // 12 after padding: 3 batches of 2 per rank
  assert.equal(globalExamples(all, 0, 2), 8);
  assert.equal(globalExamples(all, 2, 2), 4);
  assert.equal(globalExamples(epochBatches(order, 2, 1, false), 4, 2), 3, "one process: the short last batch counts 1");
});
