// LoRA domain adaptation of the bundled translator (issue #19): models/marian-mini-en-de fine-tuned with
// `peft-ts train --task translation --peft lora` on part of ONE test package's strings (a package the
// pretraining never saw, data/translation/en-de/test.jsonl), scored (corpus BLEU/chrF, our sacrebleu-
// exact metrics) on that package's other strings before and after.
//   1. the package's rows, shuffled with --seed, split into --eval_rows held-out rows and the rest (training),
//   2. the pretrained model translates the held-out sources (greedy and beam --num_beams): "before",
//   3. LoRA training for --max_steps steps (all linear layers, r --lora_r), adapter in --work_dir/adapter,
//   4. the adapter loaded with PeftModel.fromPretrained translates them again: "after".
// --full_test scores the pretrained model on the whole test split instead (no training).
// Usage: npx tsx scripts/translator_adapt.ts [--package libglib2.0-data] [--max_steps 400] [--threads 1]
// Writes --work_dir/summary.json (and prints it).

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { AutoModelForSeq2SeqLM, AutoTokenizer, PeftModel } from "../src/index.js";
import { main } from "../src/cli/main.js";
import { Rng } from "../src/tensor/random.js";
import { setNativeThreads } from "../src/backend/native/index.js";
import { translateAll, scoreTranslations, type Pair } from "./translator_eval.js";

const { values: a } = parseArgs({
  options: {
    model: { type: "string", default: "models/marian-mini-en-de" },
    data: { type: "string", default: "data/translation/en-de" },
    package: { type: "string", default: "libglib2.0-data" },
    work_dir: { type: "string", default: "runs/translator-adapt" },
    eval_rows: { type: "string", default: "300" },
    max_train_rows: { type: "string" },
    max_steps: { type: "string", default: "400" },
    batch: { type: "string", default: "16" },
    lr: { type: "string", default: "2e-3" },
    lora_r: { type: "string", default: "16" },
    lora_alpha: { type: "string", default: "32" },
    target_modules: { type: "string", default: "q_proj,k_proj,v_proj,out_proj,fc1,fc2" },
    max_length: { type: "string", default: "64" },
    num_beams: { type: "string", default: "4" },
    logging_steps: { type: "string", default: "25" },
    seed: { type: "string", default: "0" },
    threads: { type: "string" },
    full_test: { type: "boolean", default: false },
    no_eval: { type: "boolean", default: false },
  },
});
const num = (k: keyof typeof a) => Number(a[k]);

interface Row { translation: Pair; package: string }
const readRows = (file: string): Row[] => readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Row);

/** Greedy and beam BLEU/chrF of `model` on `pairs`, with the seconds each took. */
async function score(model: unknown, tok: Awaited<ReturnType<typeof AutoTokenizer.fromPretrained>>, pairs: Pair[]): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const b of [1, num("num_beams")]) {
    const t0 = Date.now();
    const preds = translateAll(model, tok, pairs.map((p) => p.en), { numBeams: b, maxNewTokens: num("max_length") });
    const s = scoreTranslations(preds, pairs.map((p) => p.de));
    const key = b === 1 ? "greedy" : `beam${b}`;
    out[key] = { bleu: s.bleu, chrf: s.chrf, rows: pairs.length, seconds: (Date.now() - t0) / 1000, sample: preds.slice(0, 3) };
    console.log(`  ${key}: BLEU ${s.bleu.toFixed(2)} chrF ${s.chrf.toFixed(2)} (${pairs.length} rows, ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    out.signature = s.signature;
  }
  return out;
}

/** The package's rows shuffled with the seed: [held out for evaluation, training]. */
export function splitPackage(rows: Row[], pkg: string, evalRows: number, seed: number): [Pair[], Pair[]] {
  const mine = rows.filter((r) => r.package === pkg).map((r) => r.translation);
  if (mine.length <= evalRows) throw new Error(`package ${pkg} has ${mine.length} test rows, not more than --eval_rows ${evalRows}`);
  const rng = new Rng(seed);
  for (let i = mine.length - 1; i > 0; i--) {
    const j = rng.randint(i + 1);
    [mine[i], mine[j]] = [mine[j], mine[i]];
  }
  return [mine.slice(0, evalRows), mine.slice(evalRows)];
}

if (a.threads) setNativeThreads(Number(a.threads));
mkdirSync(a.work_dir!, { recursive: true });
const tok = await AutoTokenizer.fromPretrained(a.model!);
const loadBase = async () => (await AutoModelForSeq2SeqLM.fromPretrained(a.model!, { log: () => {} })).eval();
const summary: Record<string, unknown> = { model: a.model, threads: a.threads ?? "default" };

if (a.full_test) {
  const pairs = readRows(join(a.data!, "test.jsonl")).map((r) => r.translation);
  console.log(`pretrained model on the full test split (${pairs.length} rows):`);
  summary.full_test = await score(await loadBase(), tok, pairs);
} else {
  const [evalPairs, trainAll] = splitPackage(readRows(join(a.data!, "test.jsonl")), a.package!, num("eval_rows"), num("seed"));
  const trainPairs = a.max_train_rows ? trainAll.slice(0, Number(a.max_train_rows)) : trainAll;
  const trainFile = join(a.work_dir!, "train.jsonl"), adapterDir = join(a.work_dir!, "adapter");
  writeFileSync(trainFile, trainPairs.map((p) => JSON.stringify({ translation: p })).join("\n") + "\n");
  Object.assign(summary, { package: a.package, train_rows: trainPairs.length, eval_rows: evalPairs.length });
  if (!a.no_eval) {
    console.log(`before (pretrained), ${a.package} held-out rows:`);
    summary.before = await score(await loadBase(), tok, evalPairs);
  }
  const t0 = Date.now();
  const code = await main([
    "train", "-m", a.model!, "--task", "translation", "--train_file", trainFile, "--source_lang", "en", "--target_lang", "de",
    "--peft", "lora", "--lora_r", a.lora_r!, "--lora_alpha", a.lora_alpha!, "--target_modules", a.target_modules!,
    "--max_source_length", a.max_length!, "--max_target_length", a.max_length!, "--per_device_train_batch_size", a.batch!,
    "--learning_rate", a.lr!, "--lr_scheduler_type", "linear", "--warmup_steps", String(Math.min(30, Math.floor(num("max_steps") / 10))),
    "--max_steps", a.max_steps!, "--weight_decay", "0.0", "--max_grad_norm", "1.0", "--save_strategy", "no",
    "--logging_steps", a.logging_steps!, "--seed", a.seed!, "--disable_tqdm", "--report_to", "jsonl",
    "--output_dir", adapterDir, "--overwrite_output_dir",
  ]);
  if (code !== 0) throw new Error(`peft-ts train ended with status ${code}`);
  summary.train_minutes = (Date.now() - t0) / 60_000;
  summary.losses = trainingLosses(adapterDir);
  const adapted = await PeftModel.fromPretrained(await loadBase(), adapterDir);
  adapted.eval();
  summary.adapter = { dir: adapterDir, parameters: adapted.namedParameters().filter(([n]) => n.includes(".lora_")).reduce((s, [, p]) => s + p.size, 0) };
  if (!a.no_eval) {
    console.log(`after (LoRA adapter, ${summary.train_minutes as number < 1 ? "<1" : (summary.train_minutes as number).toFixed(1)} min of training):`);
    summary.after = await score(adapted, tok, evalPairs);
  }
}
writeFileSync(join(a.work_dir!, "summary.json"), JSON.stringify(summary, null, 2) + "\n");
console.log(JSON.stringify(summary, null, 2));

/** The logged training losses of the run (the jsonl report's `loss` entries, in order). */
function trainingLosses(dir: string): number[] {
  const lines = readFileSync(join(dir, "log_history.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  return lines.filter((l) => typeof l.loss === "number").map((l) => l.loss as number);
}
