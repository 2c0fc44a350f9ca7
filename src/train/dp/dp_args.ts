// The checks of TrainingArguments' dp_* fields (only when dp is on): one of dp_target_epsilon and
// dp_noise_multiplier, positive values, a known accountant and clipping, and refusals of settings
// this DP-SGD does not keep private or support: tensor parallelism and ZeRO (a rank holds part of
// each example's gradient) and fp16 loss scaling (the per-sample norms would be of scaled grads).

import { ConfigError } from "../../tensor/errors.js";

export interface DpArgs {
  dp: boolean;
  dpTargetEpsilon: number | null;
  dpNoiseMultiplier: number | null;
  dpDelta: number | null;
  dpMaxGradNorm: number;
  dpAccountant: string;
  dpClipping: string;
  dataParallelSize?: number;
  tensorParallelSize: number;
  zeroStage: number;
  fp16: boolean;
}

export function checkDpArgs(a: DpArgs): void {
  if (!a.dp) return;
  const pos = (v: number | null, name: string, max = Infinity) => {
    if (v !== null && !(typeof v === "number" && v > 0 && v < max)) throw new ConfigError(`TrainingArguments.${name} must be a number in (0, ${max}), got ${JSON.stringify(v)}`);
  };
  if ((a.dpTargetEpsilon === null) === (a.dpNoiseMultiplier === null)) {
    throw new ConfigError(`dp: give exactly one of dp_target_epsilon and dp_noise_multiplier (got ${a.dpTargetEpsilon === null ? "neither" : "both"})`);
  }
  pos(a.dpTargetEpsilon, "dp_target_epsilon");
  if (a.dpNoiseMultiplier !== null && !(a.dpNoiseMultiplier >= 0)) throw new ConfigError(`TrainingArguments.dp_noise_multiplier must be >= 0, got ${a.dpNoiseMultiplier}`);
  pos(a.dpDelta, "dp_delta", 1);
  pos(a.dpMaxGradNorm, "dp_max_grad_norm");
  if (a.dpAccountant !== "rdp" && a.dpAccountant !== "gdp") throw new ConfigError(`dp_accountant must be "rdp" or "gdp", got ${JSON.stringify(a.dpAccountant)}`);
  if (a.dpClipping !== "flat" && a.dpClipping !== "per_layer" && a.dpClipping !== "ghost") throw new ConfigError(`dp_clipping must be "flat", "per_layer" or "ghost", got ${JSON.stringify(a.dpClipping)}`);
  if (a.tensorParallelSize > 1 || a.zeroStage > 0) {
    throw new ConfigError("dp: DP-SGD with tensor parallelism or ZeRO is not supported (the per-sample clipping needs each example's whole gradient on one rank); use plain data parallelism (several processes) or one process");
  }
  if (a.fp16) throw new ConfigError("dp: fp16 loss scaling is not supported with DP-SGD (the per-sample norms would be of scaled gradients); use bf16 or f32");
}
