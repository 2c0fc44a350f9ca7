// Every registered PEFT method trains from the command line (`peft-ts train --peft <name>`), saves
// a PEFT-layout adapter whose adapter_config.json carries its peft_type and whose file holds the
// method's own weights besides the classification head, and loads back: a fresh base model + the
// folder gives the trained model's logits, and `peft-ts eval --adapter` runs on it.

import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { resolveCommandLine } from "../../src/cli/main.js";
import { BERT_TINY, cliInProcess, writeSst2Split } from "./helpers.js";
import { trainFromOptions } from "../../src/cli/commands/train.js";
import { noGrad } from "../../src/tensor/autograd.js";
import { PeftModel, registeredPeftMethods, peftMethodByCliName } from "../../src/peft/index.js";
import { AutoModelForSequenceClassification } from "../../src/models/auto.js";
import { readSafetensorsHeader } from "../../src/io/safetensors.js";


let tmp: string;
let trainTsv: string;
let devTsv: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), "peft-ts-cli-methods-"));
  ({ trainTsv, devTsv } = writeSst2Split(tmp, 16, 8));
});
after(() => rmSync(tmp, { recursive: true, force: true }));


const json = (p: string) => JSON.parse(readFileSync(p, "utf8"));

/** Flags some methods need on bert-tiny (targets PEFT has no default for, a small AdaLoRA budget). */
const EXTRA: Record<string, string[]> = {
  ln_tuning: ["--target_modules", "LayerNorm"],
  ia3: ["--target_modules", "key,value,output.dense", "--feedforward_modules", "output.dense"],
  adalora: ["--target_modules", "query,value", "--init_r", "4", "--target_r", "2"],
  // PEFT has no default LyCORIS targets for BERT
  loha: ["--target_modules", "query,value"],
  lokr: ["--target_modules", "query,value"],
};

describe("peft-ts train --peft <method> for every registered method", () => {
  test("every registered method has a CLI name, and the aliases of today's CLI still resolve", () => {
    const names = registeredPeftMethods().map((m) => m.cliName).sort();
    for (const n of ["lora", "ia3", "loha", "lokr", "vera", "adalora", "ln_tuning", "prompt_tuning", "prefix_tuning", "p_tuning"]) {
      assert.ok(names.includes(n), `${n} is registered (got ${names.join(", ")})`);
    }
    assert.equal(peftMethodByCliName("prompt").peftType, "PROMPT_TUNING");
    assert.equal(peftMethodByCliName("prefix").peftType, "PREFIX_TUNING");
  });

  for (const method of registeredPeftMethods()) {
    test(`--peft ${method.cliName}: trains, saves ${method.peftType}, loads back`, async () => {
      const out = join(tmp, method.cliName);
      // the train command's own code path, in this process, so the trained model can be compared with the reloaded one
      const { opts } = await resolveCommandLine([
        "train", "-m", BERT_TINY, "--task", "seq-cls", "--train_file", trainTsv, "--validation_file", devTsv,
        "--max_length", "24", "--peft", method.cliName, ...(EXTRA[method.cliName] ?? []),
        "--max_steps", "2", "--per_device_train_batch_size", "4", "--learning_rate", "1e-2", "--save_strategy", "no",
        "--disable_tqdm", "--report_to", "none", "--seed", "0", "--output_dir", out,
      ]);
      const { model } = await trainFromOptions(opts);
      assert.ok(model instanceof PeftModel);
      const ac = json(join(out, "adapter_config.json"));
      assert.equal(ac.peft_type, method.peftType);
      assert.equal(ac.task_type, "SEQ_CLS");
      if (method.peftType === "ADALORA") {
        // the budget schedule spans the run's 2 planned steps, and the Trainer ran the budgeting after each step
        assert.equal(ac.total_step, 2);
        assert.ok(ac.rank_pattern && Object.keys(ac.rank_pattern).length > 0, `no rank_pattern: ${JSON.stringify(ac.rank_pattern)}`);
      }
      // the method's own weights are in the file (not only the classification head of modules_to_save)
      const keys = [...readSafetensorsHeader(join(out, "adapter_model.safetensors")).tensors.keys()];
      assert.ok(keys.some((k) => !/\.classifier\./.test(k)), `${method.cliName}: only head weights saved: ${keys.join(", ")}`);

      // a fresh base model + the saved folder computes what the trained model computes
      const inputs = { inputIds: [[2, 45, 67, 89, 3], [2, 101, 7, 3, 0]], attentionMask: [[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]] };
      model.eval();
      const want = noGrad(() => Array.from(model.forward(inputs).logits!.data as Float32Array));
      const base = await AutoModelForSequenceClassification.fromPretrained(BERT_TINY, { numLabels: 2, log: () => {} });
      const pm = await PeftModel.fromPretrained(base, out, { warn: () => {} });
      assert.equal(pm.activeConfig.peftType, method.peftType);
      const got = noGrad(() => Array.from(pm.forward(inputs).logits!.data as Float32Array));
      const diff = Math.max(...got.map((v, i) => Math.abs(v - want[i])));
      assert.ok(diff < 1e-5, `${method.cliName}: reloaded logits differ by ${diff}`);

      // and the CLI's eval loads it as well
      const e = await cliInProcess(["eval", "-m", BERT_TINY, "--task", "seq-cls", "--adapter", out, "--validation_file", devTsv, "--max_length", "24", "--report_to", "none", "--output_dir", join(tmp, `${method.cliName}-eval`)]);
      assert.equal(e.code, 0, e.stderr.slice(-3000));
    });
  }
});
