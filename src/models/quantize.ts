// Quantising a loaded full-precision model per a BitsAndBytesConfig (transformers'
// replace_with_bnb_linear): every nn.Linear becomes a frozen QuantLinear except the skipped modules:
// llm_int8_skip_modules when given, else the output head(s) and tied modules (get_keys_to_not_convert).
// GPT-2's Conv1D layers and tensor-parallel shards stay as they are.

import { Linear } from "../nn/layers.js";
import { QuantLinear } from "../nn/quant_linear.js";
import { isParallelLinear } from "../nn/parallel/index.js";
import { BitsAndBytesConfig } from "../quant/bnb_config.js";
import type { PreTrainedModel } from "./modeling_utils.js";

/** HF's module-name rule: a key matches a module path equal to it or containing it as whole dotted parts. */
function skipped(path: string, keys: string[]): boolean {
  return keys.some((k) => path === k || path.startsWith(k + ".") || path.endsWith("." + k) || path.includes("." + k + "."));
}

/** The modules kept in full precision by default: heads (lm_head, classifier, …) and tied-weight owners. */
export function defaultSkipModules(model: PreTrainedModel): string[] {
  const keys = new Set<string>(["lm_head", ...model.newHeadModules]);
  for (const [dst, src] of Object.entries(model.tiedWeights())) {
    for (const n of [dst, src]) keys.add(n.slice(0, Math.max(0, n.lastIndexOf("."))));
  }
  keys.delete("");
  return [...keys];
}

/** Replaces the Linear layers of a model by QuantLinear in place; returns the quantised module names. */
export function quantizeModel(model: PreTrainedModel, cfg: BitsAndBytesConfig | Record<string, unknown>): string[] {
  const config = cfg instanceof BitsAndBytesConfig ? cfg : BitsAndBytesConfig.fromDict(cfg);
  if (!config.quantizes) return [];
  const skip = config.llmInt8SkipModules ?? defaultSkipModules(model);
  const done: string[] = [];
  for (const [path, m] of model.namedModules()) {
    if (!(m instanceof Linear) || path === "" || isParallelLinear(m) || skipped(path, skip)) continue;
    const ql = QuantLinear.fromLinear(m, config.format, { doubleQuant: config.loadIn4bit && config.bnb4bitUseDoubleQuant, computeDtype: config.computeDtype });
    if (ql.bias) ql.bias.name = `${path}.bias`;
    model.setSubmodule(path, ql);
    m.registerParameter("weight", null); // namedModules() above still lists the old Linear: free its f32 weight now
    done.push(path);
  }
  return done;
}
