// Weighted combinations of LoRA adapters (peft's add_weighted_adapter), into a new adapter whose
// lora_alpha equals its rank (scaling 1):
//   linear: A = Σ √(w·s)·A_i, B = Σ √(w·s)·B_i (equal ranks; cross terms included)
//   cat:    A = rows of w·s·A_i stacked, B = columns of B_i side by side (rank Σ r_i; exact Σ w·ΔW_i)
//   svd:    ΔW = Σ w·ΔW_i cut to rank svd_rank by SVD: B = U_r·diag(S_r), A = V_rᵀ

import { noGrad } from "../../tensor/autograd.js";
import { ConfigError, PeftError } from "../../tensor/errors.js";
import { svd } from "../linalg.js";
import type { LoraConfig } from "./config.js";
import { LoraLayer } from "./layer.js";
import type { CombinationType } from "../registry.js";
import type { LoraModel } from "./model.js";

export type { CombinationType };

function unionTargets(cfgs: LoraConfig[]): string | string[] {
  const tms = cfgs.map((c) => c.targetModules);
  if (tms.every((t) => Array.isArray(t))) return [...new Set((tms as string[][]).flat())];
  if (tms.every((t) => typeof t === "string")) return tms.map((t) => `(${t})`).join("|");
  throw new ConfigError("addWeightedAdapter: cannot combine adapters whose target_modules mix lists and regex strings");
}

export function addWeightedAdapter(
  tuner: LoraModel, adapters: string[], weights: number[], newName: string,
  combinationType: CombinationType = "svd", svdRank?: number,
): LoraConfig {
  if (adapters.length === 0 || adapters.length !== weights.length) throw new PeftError(`addWeightedAdapter: need one weight per adapter (got ${adapters.length} adapters, ${weights.length} weights)`);
  const cfgs = adapters.map((a) => {
    const c = tuner.peftConfig.get(a) as LoraConfig | undefined;
    if (!c) throw new PeftError(`addWeightedAdapter: adapter '${a}' does not exist; available: ${[...tuner.peftConfig.keys()].join(", ")}`);
    if (c.modulesToSave && c.modulesToSave.length) throw new PeftError(`addWeightedAdapter: adapter '${a}' has modules_to_save (${c.modulesToSave.join(", ")}); peft cannot combine those`);
    if (c.useDora) throw new PeftError(`addWeightedAdapter: DoRA adapter '${a}' cannot be combined`);
    return c;
  });
  if (!["linear", "cat", "svd"].includes(combinationType)) throw new ConfigError(`addWeightedAdapter: combination_type must be "linear", "cat" or "svd", got ${JSON.stringify(combinationType)}`);
  const ranks = cfgs.map((c) => c.r);
  let r: number;
  if (combinationType === "linear") {
    if (new Set(ranks).size !== 1) throw new ConfigError(`addWeightedAdapter: "linear" needs equal ranks, got ${ranks.join(", ")}; use "cat" or "svd"`);
    r = ranks[0];
  } else if (combinationType === "cat") r = ranks.reduce((a, b) => a + b, 0);
  else r = svdRank ?? Math.max(...ranks);
  const cfg = cfgs[0].copy({ r, loraAlpha: r, targetModules: unionTargets(cfgs), rankPattern: {}, alphaPattern: {}, initLoraWeights: true });
  tuner.injectAdapter(newName, cfg);
  noGrad(() => {
    for (const [key, layer] of tuner.tunerLayers()) {
      if (!(layer instanceof LoraLayer) || !layer.lora_A.has(newName)) continue;
      const A = layer.lora_A.get(newName).weight, B = layer.lora_B.get(newName).weight;
      const ad = A.data as Float32Array, bd = B.data as Float32Array;
      ad.fill(0);
      bd.fill(0);
      const present = adapters.map((a, i) => [a, weights[i]] as const).filter(([a]) => layer.lora_A.has(a));
      if (combinationType === "linear") {
        for (const [a, w] of present) {
          const ws = w * layer.scaling.get(a)!;
          const f = Math.sqrt(Math.abs(ws)), sign = ws >= 0 ? 1 : -1;
          const ai = layer.lora_A.get(a).weight.f32(), bi = layer.lora_B.get(a).weight.f32();
          for (let i = 0; i < ad.length; i++) ad[i] += sign * f * ai[i];
          for (let i = 0; i < bd.length; i++) bd[i] += f * bi[i];
        }
      } else if (combinationType === "cat") {
        const inF = layer.inFeatures, outF = layer.outFeatures;
        let row = 0;
        for (const [a, w] of present) {
          const ra = layer.r.get(a)!, s = layer.scaling.get(a)!;
          const ai = layer.lora_A.get(a).weight.f32(), bi = layer.lora_B.get(a).weight.f32();
          for (let j = 0; j < ra; j++) for (let i = 0; i < inF; i++) ad[(row + j) * inF + i] = w * s * ai[j * inF + i];
          for (let o = 0; o < outF; o++) for (let j = 0; j < ra; j++) bd[o * r + row + j] = bi[o * ra + j];
          row += ra;
        }
      } else {
        const outF = layer.outFeatures, inF = layer.inFeatures;
        const delta = new Float64Array(outF * inF);
        for (const [a, w] of present) {
          const d = layer.getDeltaWeight(a).f32();
          for (let i = 0; i < delta.length; i++) delta[i] += w * d[i];
        }
        const { U, S, Vt, k } = svd(delta, outF, inF);
        if (r > k) throw new PeftError(`addWeightedAdapter: svd_rank ${r} exceeds min(out, in) = ${k} for '${key}'`);
        for (let j = 0; j < r; j++) {
          for (let i = 0; i < inF; i++) ad[j * inF + i] = Vt[j * inF + i];
          for (let o = 0; o < outF; o++) bd[o * r + j] = U[o * k + j] * S[j];
        }
      }
    }
  });
  return tuner.peftConfig.get(newName) as LoraConfig;
}
