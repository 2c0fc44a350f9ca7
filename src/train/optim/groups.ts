// HF Trainer's default parameter grouping (Trainer.get_decay_parameter_names): weight decay
// for every trainable parameter except biases and normalisation weights — names matching
// bias / layernorm / rmsnorm / ".norm." / "_norm" (lower-cased), or owned by a LayerNorm/RMSNorm.

import type { Module } from "../../nn/module.js";
import { LayerNorm, RMSNorm } from "../../nn/layers.js";
import type { ParamGroupInput } from "./optimizer.js";
import type { Tensor } from "../../tensor/tensor.js";

const FORBIDDEN = [/bias/, /layernorm/, /rmsnorm/, /(?:^|\.)norm(?:$|\.)/, /_norm(?:$|\.)/];

/** Names of the model's parameters that get weight decay. */
export function decayParameterNames(model: Module): Set<string> {
  const normOwned = new Set<string>();
  for (const [path, m] of model.namedModules()) {
    if (!(m instanceof LayerNorm || m instanceof RMSNorm)) continue;
    for (const [n] of m.namedParameters()) normOwned.add(path ? `${path}.${n}` : n);
  }
  const out = new Set<string>();
  for (const [name] of model.namedParameters()) {
    if (normOwned.has(name)) continue;
    const low = name.toLowerCase();
    if (FORBIDDEN.some((re) => re.test(low))) continue;
    out.add(name);
  }
  return out;
}

/** Two groups (decay, no decay) of the trainable parameters, empty groups dropped, as HF builds them. */
export function defaultParamGroups(model: Module, weightDecay: number): ParamGroupInput[] {
  const decay = decayParameterNames(model);
  const a: [string, Tensor][] = [], b: [string, Tensor][] = [];
  for (const [name, p] of model.namedParameters()) {
    if (!p.requiresGrad) continue;
    (decay.has(name) ? a : b).push([name, p]);
  }
  const groups: ParamGroupInput[] = [];
  if (a.length) groups.push({ params: a.map(([, p]) => p), names: a.map(([n]) => n), weightDecay });
  if (b.length) groups.push({ params: b.map(([, p]) => p), names: b.map(([n]) => n), weightDecay: 0 });
  return groups;
}
