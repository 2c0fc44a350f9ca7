// A PEFT LoRA adapter folder as a llama.cpp LoRA adapter GGUF (what convert_lora_to_gguf.py writes):
// general.architecture = llama, general.type = adapter, adapter.type = lora, adapter.lora.alpha (f32),
// tensors `blk.N.<name>.weight.lora_a` [r, in] and `.lora_b` [out, r] (row-major, as PEFT's lora_A /
// lora_B), lora_b rows of attn_q/attn_k permuted like the base weights. llama.cpp scales B·A by
// alpha / r (r read from the tensors), so any other PEFT scaling (rsLoRA alpha/√r, alpha_pattern)
// is folded into lora_b: B' = B · scale_PEFT / (alpha / r).

import { ConfigError } from "../tensor/errors.js";
import type { LlamaConfig } from "../io/hf_config.js";
import { hfToGgufName, ropeHalfToInterleaved } from "../io/gguf_llama.js";
import { gguf, writeGguf, type GgufWriteTensor } from "../io/gguf_writer.js";
import { GGML_CODECS } from "../quant/ggml_blocks.js";
import type { GgufOuttype } from "../models/gguf_export.js";
import { loadPeftConfig } from "./config.js";
import { LoraConfig } from "./lora/config.js";
import { readAdapterWeights } from "./save_load.js";

/** PEFT's get_pattern_key: a pattern key matches a module name that ends in it (after a dot). */
function patternValue(pattern: Record<string, number>, module: string): number | undefined {
  for (const [k, v] of Object.entries(pattern)) if (new RegExp(`(^|.*\\.)(${k})$`).test(module)) return v;
  return undefined;
}

function adapterCodec(outtype: GgufOuttype, cols: number) {
  if (outtype === "f32") return GGML_CODECS.F32;
  if (outtype === "bf16") return GGML_CODECS.BF16;
  if (outtype === "q8_0" && cols % 32 === 0) return GGML_CODECS.Q8_0;
  return GGML_CODECS.F16;
}

/** Writes the LoRA adapter in `adapterDir` (for a base with config `base`) as a llama.cpp adapter GGUF. */
export function exportLoraAdapterGguf(adapterDir: string, base: LlamaConfig, path: string, outtype: GgufOuttype, name = "peft-ts LoRA adapter"): { tensors: number; alpha: number } {
  const cfg = loadPeftConfig(adapterDir);
  if (!(cfg instanceof LoraConfig)) throw new ConfigError(`${adapterDir}: GGUF adapter export supports LoRA adapters; this one is ${cfg.peftType}`);
  if (base.modelType !== "llama" && base.modelType !== "mistral") throw new ConfigError(`${adapterDir}: GGUF adapter export supports Llama-family base models; the base is '${base.modelType}'`);
  if (cfg.useDora) throw new ConfigError(`${adapterDir}: DoRA adapters (use_dora) have no llama.cpp adapter form; merge it instead (export without --adapter_only)`);
  if (cfg.bias !== "none") throw new ConfigError(`${adapterDir}: bias='${cfg.bias}' trains biases, which llama.cpp LoRA adapters cannot carry; merge it instead`);
  if (cfg.modulesToSave?.length) throw new ConfigError(`${adapterDir}: modules_to_save (${cfg.modulesToSave.join(", ")}) are full weights, which llama.cpp LoRA adapters cannot carry; merge it instead`);
  const weights = readAdapterWeights(adapterDir);
  const modules = new Set<string>();
  for (const k of weights.keys()) {
    const m = /^base_model\.model\.(.+)\.lora_[AB]\.weight$/.exec(k);
    if (!m) throw new ConfigError(`${adapterDir}: adapter tensor '${k}' is not a LoRA A/B weight of a Linear; llama.cpp adapters hold only those`);
    modules.add(m[1]);
  }
  const alpha = cfg.loraAlpha;
  const tensors: GgufWriteTensor[] = [];
  for (const mod of [...modules].sort()) {
    const g = hfToGgufName(`${mod}.weight`);
    if (!g) throw new ConfigError(`${adapterDir}: LoRA on '${mod}' has no llama.cpp tensor (supported: q/k/v/o_proj, gate/up/down_proj)`);
    const a = weights.get(`base_model.model.${mod}.lora_A.weight`), b = weights.get(`base_model.model.${mod}.lora_B.weight`);
    if (!a || !b) throw new ConfigError(`${adapterDir}: '${mod}' needs both lora_A and lora_B weights`);
    const [r, inF] = a.shape, [outF] = b.shape;
    const alphaM = patternValue(cfg.alphaPattern ?? {}, mod) ?? alpha;
    const scalePeft = cfg.useRslora ? alphaM / Math.sqrt(r) : alphaM / r;
    const scaleCpp = alpha ? alpha / r : 1;
    const factor = scalePeft / scaleCpp;
    let bw: Float32Array = Float32Array.from(b.f32(), (x) => x * factor);
    if (g.endsWith("attn_q.weight")) bw = ropeHalfToInterleaved(bw, base.numAttentionHeads, outF, r);
    if (g.endsWith("attn_k.weight")) bw = ropeHalfToInterleaved(bw, base.numKeyValueHeads, outF, r);
    const ca = adapterCodec(outtype, inF), cb = adapterCodec(outtype, r);
    tensors.push({ name: `${g}.lora_a`, shape: [r, inF], type: ca.type, data: ca.quantizeRows(a.f32(), r, inF) });
    tensors.push({ name: `${g}.lora_b`, shape: [outF, r], type: cb.type, data: cb.quantizeRows(bw, outF, r) });
  }
  if (!tensors.length) throw new ConfigError(`${adapterDir}: the adapter holds no LoRA weights`);
  writeGguf(path, {
    metadata: [
      ["general.architecture", gguf.str("llama")],
      ["general.type", gguf.str("adapter")],
      ["general.name", gguf.str(name)],
      ["adapter.type", gguf.str("lora")],
      ["adapter.lora.alpha", gguf.f32(alpha)],
    ],
    tensors,
  });
  return { tensors: tensors.length, alpha };
}
