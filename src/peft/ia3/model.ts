// IA3Model: the IA3 tuner (Liu et al. 2022): wraps targets in IA3Layer, feed-forward or not.
import { Module } from "../../nn/module.js";
import { BaseTuner } from "../tuner.js";
import type { PeftConfig } from "../config.js";
import type { IA3Config } from "./config.js";
import { IA3Layer } from "./layer.js";

/** PEFT's TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING / …_FEEDFORWARD_MODULES_MAPPING. */
export const IA3_DEFAULT_TARGETS: Record<string, { target: string[]; feedforward: string[] }> = {
  bert: { target: ["key", "value", "output.dense"], feedforward: ["output.dense"] },
  roberta: { target: ["key", "value", "output.dense"], feedforward: ["output.dense"] },
  distilbert: { target: ["k_lin", "v_lin", "lin2"], feedforward: ["lin2"] },
  gpt2: { target: ["c_attn", "mlp.c_proj"], feedforward: ["mlp.c_proj"] },
  llama: { target: ["k_proj", "v_proj", "down_proj"], feedforward: ["down_proj"] },
  mistral: { target: ["k_proj", "v_proj", "down_proj"], feedforward: ["down_proj"] },
  qwen2: { target: ["k_proj", "v_proj", "down_proj"], feedforward: ["down_proj"] },
  t5: { target: ["k", "v", "wo"], feedforward: ["wo"] },
  bart: { target: ["q_proj", "v_proj", "fc2"], feedforward: ["fc2"] },
};

/** PEFT's feed-forward check: regex full match, or a plain suffix of the module key. */
export function isFeedforwardKey(ff: string | string[] | null, key: string): boolean {
  if (ff === null) return false;
  if (typeof ff === "string") return new RegExp(`^(?:${ff})$`).test(key);
  return ff.some((f) => key.endsWith(f));
}

export class IA3Model extends BaseTuner {
  get prefix(): string {
    return "ia3_";
  }
  protected defaultTargetModules(modelType: string | null): string[] | null {
    return modelType ? IA3_DEFAULT_TARGETS[modelType]?.target ?? null : null;
  }
  override prepareAdapterConfig(cfg: PeftConfig): PeftConfig {
    const c = cfg as IA3Config;
    if (c.feedforwardModules === null && c.targetModules === null) {
      const mt = (this.model as unknown as { config?: { modelType?: string } }).config?.modelType;
      const d = mt ? IA3_DEFAULT_TARGETS[mt] : undefined;
      if (d) cfg = c.copy({ feedforwardModules: d.feedforward.slice() });
    }
    return super.prepareAdapterConfig(cfg);
  }
  protected createAndReplace(config: PeftConfig, adapterName: string, target: Module, key: string): void {
    const cfg = config as IA3Config;
    const make = () => new IA3Layer(target, isFeedforwardKey(cfg.feedforwardModules, key));
    this.updateOrWrap(IA3Layer, make, cfg, adapterName, target, { key, activeAdapters: this.activeAdapters });
  }
}
