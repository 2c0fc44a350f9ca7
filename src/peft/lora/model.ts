// LoraModel: the LoRA tuner. Wraps each target Linear / Conv1D / Embedding in a LoraLayer (or adds
// an adapter to an existing one) and handles LoRA's bias option ("all" / "lora_only").

import { Module } from "../../nn/module.js";
import { Tensor } from "../../tensor/tensor.js";
import { BaseTuner } from "../tuner.js";
import type { PeftConfig } from "../config.js";
import type { LoraConfig } from "./config.js";
import { LoraLayer } from "./layer.js";

/** PEFT's TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING for the architectures we ship. */
export const LORA_DEFAULT_TARGETS: Record<string, string[]> = {
  bert: ["query", "value"],
  roberta: ["query", "value"],
  distilbert: ["q_lin", "v_lin"],
  gpt2: ["c_attn"],
  llama: ["q_proj", "v_proj"],
  mistral: ["q_proj", "v_proj"],
  qwen2: ["q_proj", "v_proj"],
  t5: ["q", "v"],
  bart: ["q_proj", "v_proj"],
};

export class LoraModel extends BaseTuner {
  get prefix(): string {
    return "lora_";
  }
  protected defaultTargetModules(modelType: string | null): string[] | null {
    return modelType ? LORA_DEFAULT_TARGETS[modelType] ?? null : null;
  }

  protected createAndReplace(config: PeftConfig, adapterName: string, target: Module, key: string): void {
    const cfg = config as LoraConfig;
    this.updateOrWrap(LoraLayer, () => new LoraLayer(target), cfg, adapterName, target, { key, activeAdapters: this.activeAdapters });
  }

  override markOnlyAdaptersAsTrainable(): void {
    super.markOnlyAdaptersAsTrainable();
    for (const a of this.activeAdapters) {
      const cfg = this.peftConfig.get(a) as LoraConfig | undefined;
      if (!cfg || cfg.bias === "none") continue;
      if (cfg.bias === "all") {
        for (const [n, p] of this.model.namedParameters()) if (/(^|\.)bias$/.test(n)) p.requiresGrad = true;
      } else {
        for (const [, layer] of this.tunerLayers()) {
          const b = layer.bias;
          if (b) b.requiresGrad = true;
        }
      }
    }
  }

  /**
   * With bias "all"/"lora_only", the trained biases are saved under their own names (as peft).
   * "all" takes every bias of the model's state, modules_to_save wrappers included as PEFT writes
   * them: `classifier.original_module.bias` and `classifier.modules_to_save.bias` (this adapter's
   * copy, its name dropped; the same tensor is also saved as `classifier.bias`).
   */
  protected override extraStateEntries(adapterName: string): { memKey: string; savedKey: string; tensor: Tensor }[] {
    const cfg = this.peftConfig.get(adapterName) as LoraConfig | undefined;
    if (!cfg || cfg.bias === "none") return [];
    const out: { memKey: string; savedKey: string; tensor: Tensor }[] = [];
    if (cfg.bias === "all") {
      const own = `.modules_to_save.${adapterName}.`;
      for (const [n, p] of this.model.namedParameters()) {
        if (!/(^|\.)bias$/.test(n)) continue;
        if (n.includes(".modules_to_save.") && !n.includes(own)) continue; // another adapter's copy
        out.push({ memKey: `model.${n}`, savedKey: `model.${n.replace(own, ".modules_to_save.")}`, tensor: p });
      }
    } else {
      for (const [key, layer] of this.tunerLayers()) {
        for (const [n, p] of layer.base_layer.namedParameters()) if (n === "bias") out.push({ memKey: `model.${key}.base_layer.bias`, savedKey: `model.${key}.base_layer.bias`, tensor: p });
      }
    }
    return out;
  }
}
