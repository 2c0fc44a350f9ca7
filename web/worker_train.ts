// One fine-tuning run inside the worker, through the library's own API exactly as in Node:
// AutoTokenizer + AutoModelForSequenceClassification, getPeftModel(LoraConfig), Trainer(TrainingArguments).
import {
  AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, LoraConfig, Trainer, TrainingArguments,
  getPeftModel, loadDataset, manualSeed, metrics, noGrad, preprocessSeqCls, trainTestSplit,
  type PeftModel, type PreTrainedTokenizer, type TableDataset, type TrainerCallback,
} from "peft-ts";
import type { ProbeResult, Progress, TrainJob } from "./protocol.js";

/** Where the run lives in the library's (in-memory) file system. */
export const RUN_DIR = "/run";
export const OUTPUT_DIR = `${RUN_DIR}/out`;
export const ADAPTER_DIR = `${RUN_DIR}/adapter`;

type Rows = InstanceType<typeof TableDataset>;

export interface RunHooks {
  progress(p: Progress): void;
  status(text: string): void;
  /** True once the user pressed Cancel (polled after every step). */
  cancelled(): boolean;
  /** A checkpoint was written (the worker persists it). */
  saved(checkpointDir: string): void;
}

export interface PreparedRun {
  tokenizer: PreTrainedTokenizer;
  peft: PeftModel;
  trainer: Trainer;
  labels: string[];
  trainRows: number;
  evalRows: number;
  /** Tokens and seconds counted in training steps only. */
  counters: { tokens: number; seconds: number; steps: number };
}

/** Train and held-out rows: SST-2's own split for the bundled data, else a seeded split of the file. */
async function loadRows(job: TrainJob, dataPath: string | null): Promise<{ train: Rows; test: Rows }> {
  if (job.data.kind === "sst2") {
    const train = await loadDataset("/data/sst2/train_5k.tsv");
    const dev = await loadDataset("/data/sst2/dev.tsv");
    return { train: train.select(range(Math.min(job.data.trainRows, train.length))), test: dev.select(range(Math.min(job.data.evalRows, dev.length))) };
  }
  const all = await loadDataset(dataPath!);
  return trainTestSplit(all, { testSize: job.data.evalFraction, seed: job.seed });
}

function range(n: number): number[] {
  return [...Array(n).keys()];
}

/** The label names of a column: integer ids stay ids (0..max), anything else is sorted by name. */
function labelNames(rows: Rows): { names: string[]; label2id: Record<string, number> | undefined } {
  const col = rows.columns.includes("label") ? "label" : rows.columns.find((c) => /label/i.test(c));
  const values = col ? rows.column(col) : [];
  if (values.every((v) => Number.isInteger(v) && (v as number) >= 0)) {
    const n = Math.max(1, ...(values as number[])) + 1;
    return { names: range(n).map(String), label2id: undefined };
  }
  const names = [...new Set(values.map(String))].sort();
  return { names, label2id: Object.fromEntries(names.map((n, i) => [n, i])) };
}

/** Loads model and data and builds the Trainer; nothing trains yet. */
export async function prepareRun(job: TrainJob, modelDir: string, dataPath: string | null, hooks: RunHooks): Promise<PreparedRun> {
  hooks.status("loading model");
  const tokenizer = await AutoTokenizer.fromPretrained(modelDir);
  const { train, test } = await loadRows(job, dataPath);
  const { names: ids, label2id } = labelNames(train);
  // SST-2's ids, by name (for the page's "try it" line)
  const names = job.data.kind === "sst2" ? ["negative", "positive"] : ids;
  const trainDs = preprocessSeqCls(train, tokenizer, { maxLength: job.maxLength, label2id });
  const evalDs = preprocessSeqCls(test, tokenizer, { maxLength: job.maxLength, label2id });
  manualSeed(job.seed);
  const model = await AutoModelForSequenceClassification.fromPretrained(modelDir, { numLabels: names.length, log: () => {} });
  const lora = new LoraConfig({
    taskType: "SEQ_CLS", r: job.loraR, loraAlpha: job.loraAlpha, baseModelNameOrPath: job.model.name,
    targetModules: job.targetModules === "all-linear" ? "all-linear" : job.targetModules.split(",").map((s) => s.trim()).filter(Boolean),
  });
  const peft = getPeftModel(model, lora, "default", { warn: () => {} });
  const args = TrainingArguments.fromDict({
    output_dir: OUTPUT_DIR, num_train_epochs: job.epochs, max_steps: job.maxSteps > 0 ? job.maxSteps : -1,
    per_device_train_batch_size: job.batchSize, per_device_eval_batch_size: 64, learning_rate: job.learningRate,
    weight_decay: 0.01, warmup_ratio: 0.06, lr_scheduler_type: "linear", max_grad_norm: 1.0, seed: job.seed,
    logging_steps: 1, eval_strategy: "no", save_strategy: "steps", save_steps: 20, save_total_limit: 1,
    report_to: [], disable_tqdm: true,
  });
  const counters = { tokens: 0, seconds: 0, steps: 0 };
  const collator = new DataCollatorWithPadding(tokenizer);
  let stepTokens = 0;
  const countingCollator = (features: Record<string, unknown>[]) => {
    for (const f of features) stepTokens += (f.inputIds as number[]).length;
    return collator.call(features as Parameters<typeof collator.call>[0]);
  };
  let t0 = 0;
  const callback: TrainerCallback = {
    onStepBegin: () => { t0 = performance.now(); stepTokens = 0; },
    onStepEnd: ({ control }) => {
      counters.seconds += (performance.now() - t0) / 1000;
      counters.tokens += stepTokens;
      counters.steps++;
      if (hooks.cancelled()) {
        control.shouldTrainingStop = true;
        control.shouldSave = true;
      }
    },
    onLog: ({ state, logs }) => {
      if (typeof logs?.loss !== "number") return;
      hooks.progress({
        step: state.globalStep, maxSteps: state.maxSteps, epoch: state.epoch, loss: logs.loss, lr: Number(logs.learning_rate ?? 0),
        tokensPerSecond: counters.tokens / Math.max(counters.seconds, 1e-9), stepsPerSecond: counters.steps / Math.max(counters.seconds, 1e-9),
      });
    },
    onSave: ({ checkpoint }) => { if (checkpoint) hooks.saved(checkpoint); },
  };
  const trainer = new Trainer({
    model: peft, args, trainDataset: trainDs, evalDataset: evalDs, dataCollator: countingCollator, callbacks: [callback],
    computeMetrics: ({ predictions, labelIds }) => ({
      accuracy: metrics.accuracy((labelIds as number[]).map(Number), metrics.argmax(predictions as number[][])),
    }),
  });
  return { tokenizer, peft, trainer, labels: names, trainRows: trainDs.length, evalRows: evalDs.length, counters };
}

/** Held-out accuracy (fraction) with the model as it is now. */
export async function heldOutAccuracy(run: PreparedRun): Promise<number> {
  const m = (await run.trainer.evaluate()) as Record<string, number>;
  return m.eval_accuracy;
}

/** Logits of each text run alone (batch 1, no padding), as Node recomputes them from the adapter. */
export function logitsOf(run: PreparedRun, texts: string[]): number[][] {
  run.peft.eval();
  return noGrad(() => texts.map((t) => {
    const enc = run.tokenizer.call([t]);
    const out = run.peft.forward({ inputIds: enc.inputIds, attentionMask: enc.attentionMask });
    return Array.from(out.logits!.f32());
  }));
}

export function probe(run: PreparedRun, texts: string[]): ProbeResult {
  return { texts, logits: logitsOf(run, texts) };
}

/** Softmax probabilities per label for one typed text. */
export function predict(run: PreparedRun, text: string): number[] {
  const [z] = logitsOf(run, [text]);
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}
