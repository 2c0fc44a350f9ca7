// Pretrains the bundled English→German translator with peft-ts itself (issue #19):
//   1. a byte-level BPE vocabulary trained on train.jsonl's en+de strings (src/io/bpe_trainer.ts),
//   2. a randomly initialised Marian-style model (shared vocabulary, tied embeddings),
//   3. full fine-tuning with `peft-ts train --task translation --peft none` (AdamW, warm-up then
//      inverse-sqrt decay, which needs no planned end: the run is time-bounded), checkpoints in
//      --work_dir/train, `--resume` continues from the latest one,
//   4. after --max_minutes: the latest weights scored on dev/test (greedy and beam BLEU/chrF, our
//      sacrebleu-exact metrics) and written as a HF model folder (weights in f16) with a model card.
// Usage: npx tsx scripts/pretrain_translator.ts --max_minutes 20 [--resume] [--threads 1]
// (--threads: the native kernels' thread count, setNativeThreads).

import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync, copyFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { AutoModelForSeq2SeqLM, AutoTokenizer, parseConfig } from "../src/index.js";
import { main } from "../src/cli/main.js";
import { trainByteLevelBpe } from "../src/io/bpe_trainer.js";
import { manualSeed } from "../src/tensor/random.js";
import { loadSafetensors, saveSafetensors } from "../src/io/safetensors.js";
import { Tensor } from "../src/tensor/tensor.js";
import { f32ArrayToF16 } from "../src/tensor/dtype.js";
import { setNativeThreads } from "../src/backend/native/index.js";
import { translateAll, scoreTranslations, type Pair } from "./translator_eval.js";

const { values: a } = parseArgs({
  options: {
    data: { type: "string", default: "data/translation/en-de" },
    work_dir: { type: "string", default: "runs/marian-mini-en-de" },
    out: { type: "string", default: "models/marian-mini-en-de" },
    max_minutes: { type: "string", default: "20" },
    resume: { type: "boolean", default: false },
    vocab_size: { type: "string", default: "8000" },
    d_model: { type: "string", default: "256" },
    layers: { type: "string", default: "3" },
    heads: { type: "string", default: "4" },
    ffn: { type: "string", default: "1024" },
    batch: { type: "string", default: "32" },
    lr: { type: "string", default: "1e-3" },
    warmup: { type: "string", default: "300" },
    max_steps: { type: "string", default: "100000" },
    save_steps: { type: "string", default: "100" },
    max_length: { type: "string", default: "64" },
    eval_rows: { type: "string", default: "300" },
    num_beams: { type: "string", default: "4" },
    seed: { type: "string", default: "0" },
    threads: { type: "string" },
  },
});

const readPairs = (file: string): Pair[] =>
  readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l).translation as Pair);
const num = (k: keyof typeof a) => Number(a[k]);

const initDir = join(a.work_dir!, "init"), trainDir = join(a.work_dir!, "train");
const SPECIAL = ["</s>", "<unk>", "<pad>"]; // Marian's order of use: eos 0, unk 1, pad (= decoder start) 2

function marianConfig(): Record<string, unknown> {
  const L = num("layers"), H = num("heads"), F = num("ffn");
  return {
    architectures: ["MarianMTModel"], model_type: "marian", vocab_size: num("vocab_size"), d_model: num("d_model"),
    encoder_layers: L, decoder_layers: L, encoder_attention_heads: H, decoder_attention_heads: H,
    encoder_ffn_dim: F, decoder_ffn_dim: F, activation_function: "swish", dropout: 0.1, attention_dropout: 0, activation_dropout: 0,
    max_position_embeddings: 256, scale_embedding: true, static_position_embeddings: true, init_std: 0.02,
    share_encoder_decoder_embeddings: true, tie_word_embeddings: true, is_encoder_decoder: true,
    pad_token_id: 2, eos_token_id: 0, bos_token_id: null, decoder_start_token_id: 2, forced_eos_token_id: 0,
    encoder_layerdrop: 0, decoder_layerdrop: 0, use_cache: true,
  };
}

const GENERATION_CONFIG = { decoder_start_token_id: 2, eos_token_id: 0, forced_eos_token_id: 0, pad_token_id: 2, max_length: 64, num_beams: 4 };
const TOKENIZER_CONFIG = { tokenizer_class: "PreTrainedTokenizerFast", eos_token: "</s>", unk_token: "<unk>", pad_token: "<pad>", model_max_length: 256 };

async function makeInit(): Promise<void> {
  mkdirSync(initDir, { recursive: true });
  const rows = readPairs(join(a.data!, "train.jsonl"));
  const t0 = Date.now();
  const bpe = trainByteLevelBpe(rows.flatMap((r) => [r.en, r.de]), { vocabSize: num("vocab_size"), specialTokens: SPECIAL, eosToken: "</s>" });
  console.log(`vocabulary: ${bpe.vocab.size} tokens (${bpe.merges.length} merges) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  writeFileSync(join(initDir, "tokenizer.json"), JSON.stringify(bpe.tokenizerJson));
  writeFileSync(join(initDir, "tokenizer_config.json"), JSON.stringify(TOKENIZER_CONFIG, null, 2));
  const cfg = { ...marianConfig(), vocab_size: bpe.vocab.size };
  writeFileSync(join(initDir, "config.json"), JSON.stringify(cfg, null, 2));
  writeFileSync(join(initDir, "generation_config.json"), JSON.stringify(GENERATION_CONFIG, null, 2));
  manualSeed(num("seed"));
  const model = AutoModelForSeq2SeqLM.fromConfig(parseConfig(cfg, join(initDir, "config.json")));
  console.log(`model: ${model.numParameters(false).toLocaleString("en-US")} parameters`);
  await model.savePretrained(initDir);
}

function latestCheckpoint(): string | null {
  if (!existsSync(trainDir)) return null;
  const cks = readdirSync(trainDir).filter((d) => /^checkpoint-\d+$/.test(d)).sort((x, y) => Number(x.slice(11)) - Number(y.slice(11)));
  return cks.length ? join(trainDir, cks.at(-1)!) : null;
}

/** Wall-clock minutes of all runs so far (runs/…/minutes.json), so the model card counts resumed runs too. */
function addMinutes(m: number): number {
  const f = join(a.work_dir!, "minutes.json");
  const prev = existsSync(f) ? JSON.parse(readFileSync(f, "utf8")).minutes as number : 0;
  writeFileSync(f, JSON.stringify({ minutes: prev + m }));
  return prev + m;
}

async function train(): Promise<number> {
  const maxMs = num("max_minutes") * 60_000;
  // the time bound: the CLI's SIGTERM handling checkpoints after the current step and stops
  const timer = setTimeout(() => process.kill(process.pid, "SIGTERM"), maxMs);
  const resume = a.resume && latestCheckpoint() ? ["--resume_from_checkpoint", "true"] : [];
  const code = await main([
    "train", "-m", initDir, "--task", "translation", "--train_file", join(a.data!, "train.jsonl"), "--source_lang", "en", "--target_lang", "de",
    "--peft", "none", "--max_source_length", a.max_length!, "--max_target_length", a.max_length!,
    "--per_device_train_batch_size", a.batch!, "--learning_rate", a.lr!, "--lr_scheduler_type", "inverse_sqrt", "--warmup_steps", a.warmup!,
    "--weight_decay", "0.01", "--max_grad_norm", "1.0", "--label_smoothing_factor", "0.1", "--max_steps", a.max_steps!,
    "--save_strategy", "steps", "--save_steps", a.save_steps!, "--save_total_limit", "2", "--logging_steps", "25",
    "--seed", a.seed!, "--disable_tqdm", "--report_to", "jsonl", "--output_dir", trainDir, ...resume,
  ]);
  clearTimeout(timer);
  return code;
}

/** f32 weights → f16 (halves the shipped file; loaders widen f16 to f32). */
function saveF16(src: string, dst: string): void {
  const w = loadSafetensors(src);
  const out = new Map<string, Tensor>();
  for (const [k, t] of w) out.set(k, t.dtype === "f32" ? new Tensor(f32ArrayToF16(t.data as Float32Array), t.shape, "f16") : t);
  saveSafetensors(dst, out);
}

async function finish(weightsDir: string, minutes: number): Promise<void> {
  mkdirSync(a.out!, { recursive: true });
  for (const f of ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"]) copyFileSync(join(initDir, f), join(a.out!, f));
  saveF16(join(weightsDir, "model.safetensors"), join(a.out!, "model.safetensors"));
  const model = await AutoModelForSeq2SeqLM.fromPretrained(a.out!, { log: () => {} });
  model.eval();
  const tok = await AutoTokenizer.fromPretrained(a.out!);
  const n = num("eval_rows"), beams = num("num_beams");
  const scores: Record<string, unknown> = {};
  for (const split of ["dev", "test"]) {
    const pairs = readPairs(join(a.data!, `${split}.jsonl`)).slice(0, n);
    for (const b of [1, beams]) {
      const t0 = Date.now();
      const preds = translateAll(model, tok, pairs.map((p) => p.en), { numBeams: b, maxNewTokens: num("max_length") });
      const s = scoreTranslations(preds, pairs.map((p) => p.de));
      scores[`${split}_${b === 1 ? "greedy" : `beam${b}`}`] = { ...s, rows: pairs.length, seconds: (Date.now() - t0) / 1000 };
      console.log(`${split} ${b === 1 ? "greedy" : `beam-${b}`}: BLEU ${s.bleu.toFixed(2)} chrF ${s.chrf.toFixed(2)} (${pairs.length} rows)`);
    }
  }
  const state = JSON.parse(readFileSync(join(weightsDir, "trainer_state.json"), "utf8"));
  const summary = { global_step: state.global_step, epoch: state.epoch, train_minutes: minutes, parameters: model.numParameters(false), scores, log_tail: (state.log_history ?? []).slice(-3) };
  writeFileSync(join(a.out!, "training_summary.json"), JSON.stringify(summary, null, 2) + "\n");
  console.log(JSON.stringify(summary, null, 2));
}

if (a.threads) setNativeThreads(Number(a.threads));
const started = Date.now();
if (!a.resume || !existsSync(join(initDir, "model.safetensors"))) await makeInit();
const code = await train();
const minutes = addMinutes((Date.now() - started) / 60_000);
const weights = code === 0 ? trainDir : latestCheckpoint();
if (code !== 0 && code !== 143) throw new Error(`peft-ts train ended with status ${code}`);
if (!weights) throw new Error(`no checkpoint in ${trainDir}`);
console.log(`training stopped (status ${code}); scoring and writing ${a.out} from ${weights}`);
await finish(weights, minutes);
process.exit(0);
