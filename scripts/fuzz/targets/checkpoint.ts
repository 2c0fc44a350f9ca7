// Trainer checkpoint folders: a real checkpoint of a tiny regressor (written once by the Trainer in
// setup), one of its files damaged per case (trainer_state.json, scheduler.json, rng_state.json,
// training_args.json as JSON; optimizer.safetensors and model.safetensors as bytes/headers), then resumed.

import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Trainer, TrainingArguments } from "../../../src/train/index.js";
import { regressionCollator, regressionData, TinyRegressor } from "../../../test/train/helpers.js";
import { mutateBytes, mutatedJsonText } from "../mutate.js";
import type { FuzzTarget } from "../target.js";

let baseDir = "", baseRoot = "";
let files: string[] = [];
const STEPS = 2;

function args(outputDir: string, save: boolean) {
  return TrainingArguments.fromDict({
    output_dir: outputDir, per_device_train_batch_size: 2, max_steps: STEPS, learning_rate: 0.01, warmup_steps: 1,
    save_strategy: save ? "steps" : "no", save_steps: STEPS, disable_tqdm: true, seed: 3, report_to: [], logging_steps: 100,
  });
}

export const target: FuzzTarget = {
  name: "checkpoint",
  async setup() {
    const out = (baseRoot = mkdtempSync(join(tmpdir(), "peft-fuzz-ckpt-base-")));
    await new Trainer({ model: new TinyRegressor(3), args: args(out, true), trainDataset: regressionData(8), dataCollator: regressionCollator }).train();
    baseDir = join(out, `checkpoint-${STEPS}`);
    files = readdirSync(baseDir);
  },
  async run(r, dir) {
    const ckpt = join(dir, `checkpoint-${STEPS}`);
    cpSync(baseDir, ckpt, { recursive: true });
    const n = 1 + r.int(2);
    for (const f of new Set(Array.from({ length: n }, () => r.pick(files)))) {
      const p = join(ckpt, f);
      const bytes = readFileSync(join(baseDir, f));
      if (f.endsWith(".json")) writeFileSync(p, mutatedJsonText(JSON.parse(bytes.toString("utf8")), r));
      else writeFileSync(p, mutateBytes(bytes, r));
    }
    const trainer = new Trainer({ model: new TinyRegressor(3), args: args(dir, false), trainDataset: regressionData(8), dataCollator: regressionCollator });
    await trainer.train({ resumeFromCheckpoint: r.chance(0.5) ? ckpt : "latest" });
    return trainer.state.globalStep;
  },
  teardown() {
    if (baseRoot) rmSync(baseRoot, { recursive: true, force: true });
  },
};
