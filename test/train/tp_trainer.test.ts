// tensor_parallel_size in TrainingArguments and the Trainer without MPI: the checks (K must divide
// the world, the model must be split over the layout's tp group), the K = 1 layout, and the
// rejection of ZeRO / Adafactor / full fine-tuning under tp. The multi-process runs are in
// test/cli/cli_tp.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { LocalGroup, parallelLayout } from "../../src/dist/index.js";
import { ConfigError } from "../../src/tensor/errors.js";
import { Trainer, TrainingArguments } from "../../src/train/index.js";
import { TinyRegressor, regressionCollator, regressionData } from "./helpers.js";

test("TrainingArguments.tensor_parallel_size: default 1, an integer >= 1, a TRAINING_FIELDS row (CLI flag)", async () => {
  assert.equal(new TrainingArguments({}).tensorParallelSize, 1);
  assert.equal(TrainingArguments.fromDict({ tensor_parallel_size: 2 }).tensorParallelSize, 2);
  assert.throws(() => new TrainingArguments({ tensorParallelSize: 0 }), ConfigError);
  assert.throws(() => new TrainingArguments({ tensorParallelSize: 1.5 }), /tensor_parallel_size must be an integer/);
  const { TRAINING_FIELDS } = await import("../../src/train/args.js");
  assert.ok("tensorParallelSize" in TRAINING_FIELDS);
});

test("parallelLayout: K = 1 is the world as the dp group; K must divide the world size", () => {
  const g = new LocalGroup();
  const l = parallelLayout(g, 1);
  assert.equal(l.dp, g);
  assert.equal(l.tp, null);
  assert.equal(parallelLayout(g, 1), l, "one layout per (world, K)");
  assert.throws(() => parallelLayout(g, 2), /tensor_parallel_size \(2\) must divide the world size \(1 processes\)/);
});

test("Trainer with tensor_parallel_size 2 on one process, or on a model that is not split: ConfigError", () => {
  const model = new TinyRegressor();
  const data = regressionData(8);
  const mk = (a: Record<string, unknown>, group = new LocalGroup()) =>
    new Trainer({ model, args: new TrainingArguments({ maxSteps: 1, reportTo: ["none"], ...a }), trainDataset: data, dataCollator: regressionCollator, processGroup: group });
  assert.throws(() => mk({ tensorParallelSize: 2 }), /tensor_parallel_size \(2\) must divide the world size \(1 processes\)/);
  // a world of 2 whose split is scripted: the model is not tensor-parallel
  const fake = Object.assign(Object.create(LocalGroup.prototype), new LocalGroup(), { worldSize: 2, split: () => new LocalGroup() });
  assert.throws(() => mk({ tensorParallelSize: 2 }, fake), /tensor_parallel_size 2: the model is not tensor-parallel; load it with fromPretrained/);
  assert.doesNotThrow(() => mk({}));
});
