// The whole library on the in-memory file system, as a browser runs it: llama-mini-en and an SST-2
// TSV copied into memory files (same paths), loaded as a sequence classifier (logits equal to the
// node:fs load), LoRA-trained by the Trainer for a few steps with a checkpoint, the adapter saved:
// every file lands in memory, none on disk, and the adapter bytes equal those of the same run on node:fs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { MemoryFiles } from "../../src/platform/memory_files.js";
import { setFiles } from "../../src/platform/files.js";
import { AutoModelForSequenceClassification } from "../../src/models/auto.js";
import { AutoTokenizer } from "../../src/io/tokenizer.js";
import { readCsvRows } from "../../src/io/readers/csv.js";
import { getPeftModel } from "../../src/peft/peft_model.js";
import { LoraConfig } from "../../src/peft/index.js";
import { DataCollatorWithPadding } from "../../src/data/collate.js";
import { Trainer, TrainingArguments } from "../../src/train/index.js";
import { manualSeed } from "../../src/tensor/random.js";
import { noGrad } from "../../src/tensor/autograd.js";
import { tmp } from "../peft/helpers.js";

const MODEL = resolve("models/llama-mini-en");
const DATA = resolve("data/sst2/dev.tsv");
const SENTENCES = ["it 's a charming and often affecting journey .", "unflinchingly bleak and desperate"];

function memoryCopy(): MemoryFiles {
  const m = new MemoryFiles();
  for (const name of readdirSync(MODEL)) m.writeFile(join(MODEL, name), readFileSync(join(MODEL, name)));
  m.writeFile(DATA, readFileSync(DATA));
  return m;
}

async function onFiles<T>(m: MemoryFiles | null, fn: () => Promise<T>): Promise<T> {
  if (!m) return fn();
  const prev = setFiles(m);
  try {
    return await fn();
  } finally {
    setFiles(prev!);
  }
}

async function logits(): Promise<number[][]> {
  manualSeed(0);
  const model = await AutoModelForSequenceClassification.fromPretrained(MODEL, { numLabels: 2, log: () => {} });
  const tok = await AutoTokenizer.fromPretrained(MODEL);
  return SENTENCES.map((s) => Array.from(noGrad(() => model.forward({ inputIds: [tok.encode(s)] }).logits!).f32()));
}

async function train(out: string): Promise<number[]> {
  manualSeed(0);
  const base = await AutoModelForSequenceClassification.fromPretrained(MODEL, { numLabels: 2, log: () => {} });
  const tok = await AutoTokenizer.fromPretrained(MODEL);
  const model = getPeftModel(base, new LoraConfig({ taskType: "SEQ_CLS", r: 4, loraAlpha: 8, targetModules: ["q_proj", "v_proj"] }));
  const rows = readCsvRows(DATA).slice(0, 12).map((r) => {
    const inputIds = tok.encode(String(r.sentence).trim());
    return { inputIds, attentionMask: inputIds.map(() => 1), labels: Number(r.label) };
  });
  const args = TrainingArguments.fromDict({
    output_dir: out, per_device_train_batch_size: 4, max_steps: 3, learning_rate: 0.01, save_strategy: "steps", save_steps: 2,
    logging_steps: 1, disable_tqdm: true, seed: 3, report_to: ["jsonl"],
  });
  const trainer = new Trainer({ model, args, trainDataset: rows, dataCollator: new DataCollatorWithPadding(tok) });
  await trainer.train();
  await trainer.saveModel(join(out, "adapter"));
  return trainer.state.logHistory.filter((e) => typeof e.loss === "number").map((e) => e.loss as number);
}

test("a model folder in memory files loads to the same logits as from disk", async () => {
  const m = memoryCopy();
  const fromMemory = await onFiles(m, logits);
  const fromDisk = await logits();
  assert.deepEqual(fromMemory, fromDisk);
  assert.equal(fromMemory[0].length, 2);
});

test("LoRA training with the Trainer on memory files: checkpoint and adapter in memory, bytes equal to the node:fs run", async () => {
  const m = memoryCopy();
  const memOut = "/peft-ts-memory-run";
  const memLosses = await onFiles(m, () => train(memOut));
  assert.equal(existsSync(memOut), false, "nothing was written to the disk");
  const listed = m.list(memOut).map((p) => p.slice(memOut.length + 1));
  for (const f of ["adapter/adapter_config.json", "adapter/adapter_model.safetensors", "checkpoint-2/trainer_state.json", "checkpoint-2/adapter_model.safetensors", "trainer_state.json", "log_history.jsonl"]) {
    assert.ok(listed.includes(f), `${f} in memory (have ${listed.join(", ")})`);
  }
  const diskOut = tmp("memory-run-");
  const diskLosses = await train(diskOut);
  assert.deepEqual(memLosses, diskLosses);
  assert.equal(memLosses.length, 3);
  for (const f of ["adapter/adapter_model.safetensors", "adapter/adapter_config.json", "checkpoint-2/adapter_model.safetensors"]) {
    assert.ok(Buffer.from(m.readFile(join(memOut, f))).equals(readFileSync(join(diskOut, f))), `${f}: memory bytes equal disk bytes`);
  }
});
