// peft-ts train --task translation and peft-ts generate on an encoder-decoder: the tiny random T5 with
// a toy word-for-word tokenizer (test/data/helpers/seq2seq_toy.ts); a few LoRA steps, evaluation
// with generation (eval_bleu/eval_chrf/eval_gen_len equal to the metrics of the ids generate()
// gives), a truncation warning, and generate --num_beams printing what the library's beam search decodes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cliInProcess } from "./helpers.js";
import { tmp } from "../peft/helpers.js";
import { toyRows, toyT5Dir, toyTokenizer, writeJsonl } from "../data/helpers/seq2seq_toy.js";
import { AutoModelForSeq2SeqLM } from "../../src/models/auto.js";
import { PeftModel } from "../../src/peft/index.js";
import { generate, type CausalLM } from "../../src/models/generate.js";
import { bleu, chrf } from "../../src/data/metrics.js";
import { decodeTargets } from "../../src/data/tasks/seq2seq_task.js";

const dir = tmp("peft-s2s-cli-");
const model = toyT5Dir(dir);
const train = writeJsonl(join(dir, "train.jsonl"), toyRows(32, 1));
const devRows = toyRows(6, 7);
const dev = writeJsonl(join(dir, "dev.jsonl"), devRows);
const out = join(dir, "run");

async function withStdout(fn: () => Promise<unknown>): Promise<string> {
  let text = "";
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((s: string | Uint8Array) => {
    text += String(s);
    return true;
  }) as typeof process.stdout.write;
  try {
    await fn();
  } finally {
    process.stdout.write = write;
  }
  return text;
}

test("peft-ts train --task translation: LoRA steps, loss falls, eval with generation → eval_bleu/eval_chrf/eval_gen_len as HF names", async () => {
  const r = await cliInProcess([
    "train", "-m", model, "--task", "translation", "--train_file", train, "--validation_file", dev, "--source_lang", "en", "--target_lang", "de",
    "--source_prefix", "translate: ", "--max_target_length", "4", "--peft", "lora", "--lora_r", "4", "--lora_alpha", "8", "--target_modules", "q,k,v,o,wi,wo",
    "--max_steps", "60", "--per_device_train_batch_size", "8", "--learning_rate", "3e-2", "--logging_steps", "1", "--save_strategy", "no",
    "--predict_with_generate", "--generation_max_length", "6", "--generation_num_beams", "2", "--label_smoothing_factor", "0.1",
    "--seed", "0", "--disable_tqdm", "--report_to", "jsonl", "--output_dir", out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /peft-ts: warning: \S*train\.jsonl: \d+ of 32 target texts are longer than max_target_length 4 tokens and were truncated/);
  const metrics = JSON.parse(readFileSync(join(out, "metrics.json"), "utf8"));
  for (const k of ["eval_loss", "eval_bleu", "eval_chrf", "eval_gen_len", "train_loss"]) assert.equal(typeof metrics[k], "number", `${k} in ${JSON.stringify(metrics)}`);
  const losses = readFileSync(join(out, "log_history.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((e) => e.loss !== undefined).map((e) => e.loss);
  assert.ok(losses.at(-1) < losses[0], `loss ${losses[0]} → ${losses.at(-1)}`);
  assert.equal(JSON.parse(readFileSync(join(out, "adapter_config.json"), "utf8")).task_type, "SEQ_2_SEQ_LM");

  // the same numbers from the saved adapter, generate() and the metrics
  const tok = toyTokenizer();
  const pm = await PeftModel.fromPretrained(await AutoModelForSeq2SeqLM.fromPretrained(model, { log: () => {} }), out, { warn: () => {} });
  pm.eval();
  const src = devRows.map((r) => tok.encode("translate: " + r.translation.en));
  // one evaluation batch (per_device_eval_batch_size 8 ≥ 6 rows): finished beams are filled with EOS as in HF (pad id 0 is falsy there)
  const ids = generate(pm as unknown as CausalLM, src, { maxNewTokens: 5, numBeams: 2 });
  const preds = decodeTargets(ids, tok);
  // references as the collator saw them: cut to max_target_length 4 (3 words + EOS)
  const refs = devRows.map((r) => tok.decode(tok.call([r.translation.de], { truncation: true, maxLength: 4 }).inputIds[0], { skipSpecialTokens: true }));
  assert.ok(Math.abs(metrics.eval_bleu - bleu(preds, refs).score) < 1e-9, `${metrics.eval_bleu} vs ${bleu(preds, refs).score}`);
  assert.ok(Math.abs(metrics.eval_chrf - chrf(preds, refs).score) < 1e-9);
  assert.ok(metrics.eval_chrf > 10, `the adapter learnt something: chrF ${metrics.eval_chrf}`);
  assert.equal(metrics.eval_gen_len, ids.reduce((s, r) => s + r.filter((x) => x !== 0).length, 0) / ids.length);

  // peft-ts generate on the encoder-decoder with beams prints the decoded beam-search output
  const printed = await withStdout(async () => {
    const g = await cliInProcess(["generate", "-m", model, "--adapter", out, "--source_prefix", "translate: ", "--prompt", devRows[0].translation.en, "--num_beams", "2", "--max_new_tokens", "5"]);
    assert.equal(g.code, 0, g.stderr);
  });
  assert.equal(printed.trim().split("\n").at(-1), preds[0]);

  // peft-ts predict on sources only (no target column): predictions.jsonl holds the generated texts
  const sources = writeJsonl(join(dir, "sources.jsonl"), devRows.map((r) => ({ en: r.translation.en })));
  const p = await cliInProcess(["predict", "-m", model, "--task", "translation", "--adapter", out, "--test_file", sources, "--source_lang", "en",
    "--source_prefix", "translate: ", "--generation_max_length", "6", "--generation_num_beams", "2", "--output_dir", join(dir, "pred"), "--disable_tqdm"]);
  assert.equal(p.code, 0, p.stderr);
  const lines = readFileSync(join(dir, "pred", "predictions.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.prediction), preds);
  assert.equal(lines[0].en, devRows[0].translation.en);
});

test("peft-ts generate: --chat on an encoder-decoder is a usage error", async () => {
  const g = await cliInProcess(["generate", "-m", model, "--chat"]);
  assert.equal(g.code, 2);
  assert.match(g.stderr, /--chat needs a causal LM; this model is an encoder-decoder/);
});

test("examples/translation.yaml resolves: every key is a known option", async () => {
  const printed = await withStdout(async () => {
    const r = await cliInProcess(["train", "--config", join(import.meta.dirname, "..", "..", "examples", "translation.yaml"), "--print_config"]);
    assert.equal(r.code, 0, r.stderr);
  });
  const cfg = JSON.parse(printed.slice(printed.indexOf("{"))).options;
  assert.equal(cfg.task, "translation");
  assert.equal(cfg.predict_with_generate, true);
  assert.equal(cfg.source_prefix, "translate English to German: ");
});
