// peft-ts export --format gguf: a merged Llama (f16/q8_0/q4_0) and a LoRA adapter in llama.cpp's
// adapter format. Round trips: our export loads back with the logits it had before export (within
// each type's quantisation error, stated); merging an adapter gives PEFT's merged logits (golden);
// the adapter GGUF applied as llama.cpp applies it (W += alpha/r · B·A on the GGUF weights) gives
// PEFT's adapter logits. The files parse in our reader with the metadata llama.cpp needs (they were
// also read by the gguf package's GGUFReader and loaded by transformers by hand: see docs/DESIGN.md).
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GgufFile, ggufPlain } from "../../src/io/gguf_reader.js";
import { writeGguf } from "../../src/io/gguf_writer.js";
import { GgufType, ggmlTypeName } from "../../src/io/gguf_types.js";
import { loadSafetensors } from "../../src/io/safetensors.js";
import { PreTrainedTokenizer } from "../../src/io/tokenizer.js";
import { AutoModelForCausalLM } from "../../src/models/auto.js";
import type { GgufCausalLM } from "../../src/models/gguf_load.js";
import { dequantizeGgml, ggmlCodecForType, GGML_CODECS } from "../../src/quant/ggml_blocks.js";
import { cliInProcess } from "../cli/helpers.js";

const FIX = join(import.meta.dirname, "..", "fixtures", "gguf");
const LLAMA = "/work/shared/golden/llama-tiny-random";
const ADAPTER = join(LLAMA, "lora", "adapter");
const golden = loadSafetensors(join(LLAMA, "lora", "logits.safetensors"));
const IDS = [1, 143, 109, 105, 31, 207, 179, 127]; // row 0 of lora/golden.json inputs (no padding)
const TEXTS = ["Hello world!", "The quick brown fox", "the is on", "Hi, x"];

let dir = "", model = "";
let before0: Float32Array;

function logits(m: { forward(i: unknown): { logits?: { data: unknown } } }): Float32Array {
  return m.forward({ inputIds: [IDS] }).logits!.data as Float32Array;
}
function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
async function exportOk(args: string[]): Promise<void> {
  const r = await cliInProcess(["export", "--format", "gguf", ...args]);
  assert.equal(r.code, 0, r.stderr);
}
const loadGguf = async (file: string) => (await AutoModelForCausalLM.fromPretrained(dir, { ggufFile: file })) as GgufCausalLM;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "peft-ts-gguf-export-"));
  model = join(dir, "llama");
  const { mkdirSync } = await import("node:fs");
  mkdirSync(model);
  for (const f of ["config.json", "model.safetensors"]) copyFileSync(join(LLAMA, f), join(model, f));
  // the tiny Llama has no tokenizer: give it the 256-token vocabulary of the gguf package's fixture
  PreTrainedTokenizer.fromGguf(join(FIX, "llama-f32.gguf")).savePretrained(model);
  before0 = logits(await AutoModelForCausalLM.fromPretrained(model));
});

// Stated error vs the model before export (transformers loading the same files: 0.0016, 0.041, 0.58).
for (const [outtype, type, bound] of [["f16", "F16", 5e-3], ["q8_0", "Q8_0", 0.08], ["q4_0", "Q4_0", 1.0]] as const) {
  test(`export --outtype ${outtype}: llama.cpp names, types and metadata; loads back with the logits before export (±${bound})`, async () => {
    await exportOk(["-m", model, "--outtype", outtype, "--output", join(dir, `${outtype}.gguf`)]);
    const f = new GgufFile(join(dir, `${outtype}.gguf`));
    const meta = (k: string) => ggufPlain(f.metadata.get(k));
    assert.deepEqual(
      ["general.architecture", "llama.context_length", "llama.embedding_length", "llama.block_count", "llama.feed_forward_length", "llama.rope.dimension_count", "llama.attention.head_count", "llama.attention.head_count_kv", "llama.vocab_size", "llama.rope.freq_base"].map(meta),
      ["llama", 128, 32, 2, 64, 8, 4, 2, 256, 10000],
    );
    assert.equal(f.metadata.get("llama.attention.layer_norm_rms_epsilon")!.type, GgufType.FLOAT32);
    assert.ok(Math.abs((meta("llama.attention.layer_norm_rms_epsilon") as number) - 1e-6) < 1e-12);
    assert.equal(meta("general.file_type"), { f16: 1, q8_0: 7, q4_0: 2 }[outtype]);
    assert.equal(meta("general.quantization_version"), outtype === "f16" ? undefined : 2);
    assert.deepEqual([meta("tokenizer.ggml.model"), meta("tokenizer.ggml.bos_token_id"), meta("tokenizer.ggml.eos_token_id"), meta("tokenizer.ggml.add_bos_token")], ["llama", 1, 2, true]);
    const types = Object.fromEntries(f.tensors.map((t) => [t.name, ggmlTypeName(t.type)]));
    assert.equal(f.tensors.length, 3 + 9 * 2);
    assert.equal(types["blk.1.attn_norm.weight"], "F32");
    assert.equal(types["output_norm.weight"], "F32");
    assert.equal(types["blk.0.attn_k.weight"], type);
    assert.equal(types["blk.1.ffn_down.weight"], type);
    assert.equal(types["token_embd.weight"], outtype === "q4_0" ? "Q8_0" : type);
    assert.deepEqual(f.tensor("blk.0.attn_k.weight")!.shape, [16, 32]);
    f.close();
    const m = await loadGguf(`${outtype}.gguf`);
    const d = maxDiff(logits(m), before0);
    assert.ok(d < bound && d > 0, `max |logit difference| ${d}`);
    const src = PreTrainedTokenizer.fromPretrainedSync(model), back = PreTrainedTokenizer.fromGguf(join(dir, `${outtype}.gguf`));
    for (const t of TEXTS) assert.deepEqual(back.encode(t), src.encode(t), t);
  });
}

test("export with --adapter merges first: the GGUF (f32) has PEFT's merged logits", async () => {
  await exportOk(["-m", model, "--adapter", ADAPTER, "--outtype", "f32", "--output", join(dir, "merged.gguf")]);
  const want = (golden.get("logits_merged")!.data as Float32Array).subarray(0, 8 * 256);
  assert.ok(maxDiff(logits(await loadGguf("merged.gguf")), want) < 1e-4);
});

test("--adapter_only: llama.cpp's LoRA adapter format; applied as llama.cpp does, it gives PEFT's adapter logits", async () => {
  await exportOk(["-m", model, "--adapter", ADAPTER, "--adapter_only", "--output", join(dir, "lora-f16.gguf")]);
  await exportOk(["-m", model, "--adapter", ADAPTER, "--adapter_only", "--outtype", "f32", "--output", join(dir, "lora.gguf")]);
  await exportOk(["-m", model, "--outtype", "f32", "--output", join(dir, "base.gguf")]);
  const ad16 = new GgufFile(join(dir, "lora-f16.gguf"));
  assert.deepEqual(
    ["general.architecture", "general.type", "adapter.type", "adapter.lora.alpha"].map((k) => ggufPlain(ad16.metadata.get(k))),
    ["llama", "adapter", "lora", 8],
  );
  assert.equal(ad16.metadata.get("adapter.lora.alpha")!.type, GgufType.FLOAT32);
  assert.equal(ad16.tensors.length, 2 * 7 * 2);
  assert.ok(ad16.tensors.every((t) => t.type === GGML_CODECS.F16.type && /^blk\.[01]\.(attn_[qkvo]|attn_output|ffn_(gate|up|down))\.weight\.lora_[ab]$/.test(t.name)));
  // llama.cpp's checks: lora_a ne = [in, r], lora_b ne = [r, out] (row-major [r, in] and [out, r])
  assert.deepEqual(ad16.tensor("blk.0.ffn_down.weight.lora_a")!.shape, [4, 64]);
  assert.deepEqual(ad16.tensor("blk.0.ffn_down.weight.lora_b")!.shape, [32, 4]);
  assert.deepEqual(ad16.tensor("blk.1.attn_k.weight.lora_b")!.shape, [16, 4]);
  ad16.close();
  // apply the f32 adapter to the f32 base GGUF in llama.cpp's layout, then load the result
  const base = new GgufFile(join(dir, "base.gguf")), ad = new GgufFile(join(dir, "lora.gguf"));
  const alpha = ggufPlain(ad.metadata.get("adapter.lora.alpha")) as number;
  const tensors = base.tensors.map((t) => {
    const data = new Uint8Array(base.rawBytes(t));
    const a = ad.tensor(`${t.name}.lora_a`), b = ad.tensor(`${t.name}.lora_b`);
    if (!a || !b) return { name: t.name, shape: t.shape, type: t.type, data };
    const [r, inF] = a.shape, [outF] = b.shape;
    const A = dequantizeGgml(ggmlCodecForType(a.type)!, ad.rawBytes(a), r, inF), B = dequantizeGgml(ggmlCodecForType(b.type)!, ad.rawBytes(b), outF, r);
    const W = new Float32Array(data.buffer);
    for (let o = 0; o < outF; o++) for (let i = 0; i < inF; i++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += B[o * r + k] * A[k * inF + i];
      W[o * inF + i] += (alpha / r) * s;
    }
    return { name: t.name, shape: t.shape, type: t.type, data };
  });
  writeGguf(join(dir, "applied.gguf"), { metadata: [...base.metadata], tensors });
  base.close();
  ad.close();
  const want = (golden.get("logits")!.data as Float32Array).subarray(0, 8 * 256);
  assert.ok(maxDiff(logits(await loadGguf("applied.gguf")), want) < 1e-4);
});

test("export errors: non-Llama model, --adapter_only without --adapter, unknown --outtype, missing --output", async () => {
  const err = async (args: string[], re: RegExp) => {
    const r = await cliInProcess(["export", ...args]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, re);
  };
  await err(["-m", "/work/shared/golden/gpt2-tiny-random", "--output", join(dir, "x.gguf")], /GGUF export supports Llama-family models \(model_type llama, mistral\); got 'gpt2'/);
  await err(["-m", model, "--adapter_only", "--output", join(dir, "x.gguf")], /--adapter_only needs --adapter/);
  await err(["-m", model, "--outtype", "q5_k", "--output", join(dir, "x.gguf")], /q5_k/);
  await err(["-m", model], /--output is required/);
});
