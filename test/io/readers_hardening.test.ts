// Readers hardening (issue #16): typed errors naming the file, size/depth limits, no pickle,
// NaN/Inf warnings, inert "__proto__" keys and paths that cannot leave their folder.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSafetensors, loadSafetensorsDir } from "../../src/io/safetensors.js";
import { loadConfigFile } from "../../src/io/hf_config.js";
import { checkConfigFitsMemory } from "../../src/io/hf_config_weights.js";
import { PreTrainedTokenizer } from "../../src/io/tokenizer.js";
import { staysInside } from "../../src/io/fs.js";
import { AutoModel } from "../../src/models/auto.js";
import { loadPeftConfig } from "../../src/peft/index.js";
import { sortedCheckpoints } from "../../src/train/checkpoint.js";
import { Rng } from "../../src/tensor/random.js";
import { loadDataset } from "../../src/data/datasets.js";
import { readLlama2c } from "../../src/io/llama2c.js";
import { Llama2cTokenizer } from "../../src/io/llama2c_tokenizer.js";
import { ConfigError, FormatError } from "../../src/tensor/errors.js";

const GOLDEN = "/work/shared/golden";
const BERT = join(GOLDEN, "bert-tiny-random");
const FIX = join(import.meta.dirname, "..", "fixtures", "readers");
const tmp = () => mkdtempSync(join(tmpdir(), "peft-ts-harden-"));
const json = (p: string) => JSON.parse(readFileSync(p, "utf8"));

test("PyTorch pickles (torch.save zip and legacy) are refused with a FormatError saying how to convert", () => {
  for (const f of ["zip_format.bin", "legacy_format.bin"]) {
    const p = join(FIX, f);
    assert.throws(() => loadSafetensors(p), (e: Error) => e instanceof FormatError && e.message.startsWith(p) && /pickle/.test(e.message) && /save_file/.test(e.message));
  }
  const dir = tmp();
  copyFileSync(join(FIX, "zip_format.bin"), join(dir, "pytorch_model.bin"));
  assert.throws(() => loadSafetensorsDir(dir), (e: Error) => e instanceof FormatError && e.message.includes("pytorch_model.bin") && /safe_serialization=True/.test(e.message));
});

test("NaN / Inf in weights written by the safetensors library: loaded, one warning per tensor naming file and tensor", async () => {
  const p = join(FIX, "nonfinite.safetensors");
  const seen: string[] = [];
  const onWarning = (w: Error & { code?: string }) => { if (w.code === "PEFT_TS_NONFINITE_WEIGHTS") seen.push(w.message); };
  process.on("warning", onWarning);
  try {
    const t = loadSafetensors(p);
    loadSafetensors(p); // a second load does not warn again
    await new Promise((r) => setImmediate(r));
    assert.ok(Number.isNaN(t.get("nan.weight")!.f32()[1]));
    assert.equal(seen.length, 2);
    assert.ok(seen.some((m) => m.startsWith(p) && m.includes("'nan.weight'") && /index 1\b/.test(m)));
    assert.ok(seen.some((m) => m.includes("'inf.bf16'") && m.includes("BF16")));
    assert.ok(!seen.some((m) => m.includes("ok.weight")));
  } finally {
    process.off("warning", onWarning);
  }
});

test("tokenizer.json: absent components are none (as in tokenizers); an unknown model type is a FormatError naming the file", () => {
  const dir = tmp();
  const tj = json(join(BERT, "tokenizer.json"));
  delete tj.decoder;
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tj));
  copyFileSync(join(BERT, "tokenizer_config.json"), join(dir, "tokenizer_config.json"));
  const ex = json(join(BERT, "tokenizer_examples.json")).single[0];
  assert.deepEqual(PreTrainedTokenizer.fromPretrainedSync(dir).encode(ex.text), ex.input_ids);

  tj.model.type = "WordLevel";
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tj));
  const file = join(dir, "tokenizer.json");
  assert.throws(() => PreTrainedTokenizer.fromPretrainedSync(dir), (e: Error) => e instanceof FormatError && e.message.startsWith(file) && /model\.type "WordLevel" is not supported/.test(e.message));
  tj.model.type = "WordPiece";
  tj.normalizer = { type: "Lowercase2" };
  writeFileSync(file, JSON.stringify(tj));
  assert.throws(() => PreTrainedTokenizer.fromPretrainedSync(dir), (e: Error) => e instanceof FormatError && /normalizer\.type "Lowercase2"/.test(e.message));
  tj.normalizer = null;
  tj.model.vocab["[UNK]"] = 2 ** 31;
  writeFileSync(file, JSON.stringify(tj));
  assert.throws(() => PreTrainedTokenizer.fromPretrainedSync(dir), (e: Error) => e instanceof FormatError && /implausibly large/.test(e.message));
});

test("config.json: absurd sizes are ConfigErrors naming the field, checked against the weights before allocating", async () => {
  const dir = tmp();
  const cfg = json(join(BERT, "config.json"));
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ...cfg, intermediate_size: 1e308 }));
  assert.throws(() => loadConfigFile(dir), (e: Error) => e instanceof ConfigError && e.message.includes(join(dir, "config.json")) && /'intermediate_size'/.test(e.message));
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ...cfg, vocab_size: 2 ** 31 - 1 }));
  assert.throws(() => loadConfigFile(dir), (e: Error) => e instanceof ConfigError && /vocab_size × hidden_size/.test(e.message));
  copyFileSync(join(BERT, "model.safetensors"), join(dir, "model.safetensors"));
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ...cfg, vocab_size: 4_000_000 }));
  await assert.rejects(AutoModel.fromPretrained(dir), (e: Error) => e instanceof ConfigError && /the weights in .* hold '.*word_embeddings\.weight' with shape/.test(e.message));
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ...cfg, num_hidden_layers: 100_000 }));
  await assert.rejects(AutoModel.fromPretrained(dir), (e: Error) => e instanceof ConfigError && /implies at least \d+ parameters but the weights/.test(e.message));
});

test("JSON files: nesting is limited; __proto__ / constructor keys stay plain data", () => {
  const dir = tmp();
  writeFileSync(join(dir, "config.json"), `{"model_type": "bert", "x": ${"[".repeat(5000)}${"]".repeat(5000)}}`);
  assert.throws(() => loadConfigFile(dir), (e: Error) => e instanceof FormatError && /nests deeper than 100 levels/.test(e.message));
  const cfg = readFileSync(join(BERT, "config.json"), "utf8").replace("{", '{"__proto__": {"polluted": 1}, "constructor": {"prototype": {"polluted": 1}},');
  writeFileSync(join(dir, "config.json"), cfg);
  const c = loadConfigFile(dir);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.getPrototypeOf(c.raw), Object.prototype);
  assert.equal((c.raw as Record<string, unknown>).polluted, undefined);
  const adapter = readFileSync(join(GOLDEN, "bert-lora", "adapter", "adapter_config.json"), "utf8").replace("{", '{"__proto__": {"polluted": 1},');
  writeFileSync(join(dir, "adapter_config.json"), adapter);
  const warnings: string[] = [];
  const pc = loadPeftConfig(dir, (m) => warnings.push(m));
  assert.ok(warnings.some((m) => m.includes("unknown") && m.includes("__proto__")));
  assert.equal((pc as unknown as Record<string, unknown>).polluted, undefined);
  // a "constructor" key is an unknown field like any other (it used to pass the known-field check and shadow the class)
  writeFileSync(join(dir, "adapter_config.json"), adapter.replace("{", '{"constructor": null,'));
  const pc2 = loadPeftConfig(dir, (m) => warnings.push(m));
  assert.equal(pc2.constructor.name, pc.constructor.name);
  assert.ok(pc2.toJsonString().includes('"peft_type": "LORA"'));
  assert.ok(warnings.some((m) => m.includes("constructor")));
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test("paths from files stay inside their folder: symlinked checkpoints leading out are not listed", () => {
  const root = tmp(), outside = tmp();
  mkdirSync(join(root, "checkpoint-1"));
  mkdirSync(join(outside, "checkpoint-9"));
  symlinkSync(join(outside, "checkpoint-9"), join(root, "checkpoint-9"));
  assert.equal(staysInside(root, "checkpoint-1"), true);
  assert.equal(staysInside(root, "checkpoint-9"), false);
  assert.equal(staysInside(root, "../x"), false);
  assert.deepEqual(sortedCheckpoints(root), [join(root, "checkpoint-1")]);
});

test("a malformed generator state is a FormatError, not a TypeError", () => {
  assert.throws(() => new Rng(1).setState({ s: [1, 2, 3] } as never), (e: Error) => e instanceof FormatError && /generator state/.test(e.message));
  assert.throws(() => new Rng(1).setState({ s: [0, 0, 0, 0], spare: null }), FormatError);
});

test("a missing data or llama2.c file is a ConfigError naming the path, not a bare ENOENT", async () => {
  const dir = tmp();
  for (const ext of [".jsonl", ".csv", ".tsv", ".conll", ".txt", ".parquet"]) {
    const p = join(dir, `missing${ext}`);
    await assert.rejects(loadDataset(p), (e: Error) => e instanceof ConfigError && e.message.startsWith(p) && /not found/.test(e.message));
  }
  assert.throws(() => readLlama2c(join(dir, "model.bin")), (e: Error) => e instanceof ConfigError && /llama2\.c checkpoint not found/.test(e.message));
  assert.throws(() => Llama2cTokenizer.fromFile(dir), (e: Error) => e instanceof ConfigError && /found a directory/.test(e.message));
});

test("a hub cache ref that names '..' instead of a commit is refused", async () => {
  const { resolveModelDir } = await import("../../src/io/hub.js");
  const cache = tmp();
  const repo = join(cache, "models--org--m");
  mkdirSync(join(repo, "refs"), { recursive: true });
  mkdirSync(join(repo, "snapshots"), { recursive: true });
  writeFileSync(join(repo, "refs", "main"), "..\n");
  assert.throws(() => resolveModelDir("org/m", { cacheDir: cache }), (e: Error) => e instanceof ConfigError && /expected a commit hash/.test(e.message));
});

test("vocab.txt lines named like Object.prototype members are ordinary tokens", () => {
  const dir = tmp();
  const lines = readFileSync(join(BERT, "vocab.txt"), "utf8").split("\n").filter((l) => l !== "");
  writeFileSync(join(dir, "vocab.txt"), [...lines, "constructor", "tostring", "__proto__"].join("\n") + "\n");
  copyFileSync(join(BERT, "tokenizer_config.json"), join(dir, "tokenizer_config.json"));
  const tok = PreTrainedTokenizer.fromPretrainedSync(dir);
  assert.deepEqual(tok.convertTokensToIds(["constructor", "tostring", "__proto__"]), [lines.length, lines.length + 1, lines.length + 2]);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test("fromConfig: a config implying more parameters than the machine's memory is a ConfigError with the figures, before allocating", () => {
  const dir = tmp();
  const cfg = json(join(BERT, "config.json"));
  // 200,000 layers of bert-tiny-random's 32×32 + 32×37 matrices: ~4.4e8 parameters, 0.8 GiB in bf16
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ...cfg, num_hidden_layers: 200_000 }));
  const big = loadConfigFile(dir);
  assert.throws(() => checkConfigFitsMemory(big, 2 ** 29), (e: Error) => e instanceof ConfigError &&
    e.message.startsWith(`${join(dir, "config.json")}: the config implies at least `) && /GiB even in bf16, .* more than this machine's 0\.5 GiB of memory/.test(e.message));
  checkConfigFitsMemory(loadConfigFile(BERT), 2 ** 29); // the real one fits
  // what AutoModel.fromConfig checks against the machine's own memory
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ...cfg, hidden_size: 32768, num_attention_heads: 1, intermediate_size: 65536, num_hidden_layers: 10_000 }));
  assert.throws(() => AutoModel.fromConfig(loadConfigFile(dir)), (e: Error) => e instanceof ConfigError && /more than this machine's .* GiB of memory/.test(e.message));
});
