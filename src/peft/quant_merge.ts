// Merging adapters into a quantised base (QuantLinear layers): the base weight is dequantised, the
// delta added in f32, and then either the layer becomes a full-precision Linear ("dequantize", the
// default: nothing is lost beyond the base's own quantisation) or the sum is quantised again in the
// base's format ("requantize", what peft does for bitsandbytes layers). Either way the error of the
// re-quantisation is measured per module (users of PEFT see merges into 4-bit bases silently degrade):
// for "dequantize" it is what re-quantising the merged model would cost, for "requantize" what it cost.

import { Module } from "../nn/module.js";
import { QuantLinear } from "../nn/quant_linear.js";
import { dequantize, getQuantFormat } from "../quant/format.js";
import { Tensor } from "../tensor/tensor.js";
import { PeftError, ShapeError } from "../tensor/errors.js";

export type QuantMergeMode = "dequantize" | "requantize";

/** Re-quantisation error of one merged module. */
export interface QuantMergeError {
  module: string;
  format: string;
  /** max |W_merged − deq(quant(W_merged))|. */
  maxAbsError: number;
  /** ‖W_merged − deq(quant(W_merged))‖_F / ‖W_merged‖_F. */
  relFrobeniusError: number;
}

/** Quantises `merged` in ql's format and options, returning the matrix and the error against merged. */
export function requantizeWithError(ql: QuantLinear, merged: Float32Array, module: string) {
  const q = getQuantFormat(ql.format).quantize(merged, ql.outFeatures, ql.inFeatures, ql.quantOptions);
  const back = dequantize(q);
  let maxAbs = 0, num = 0, den = 0;
  for (let i = 0; i < merged.length; i++) {
    const e = merged[i] - back[i];
    maxAbs = Math.max(maxAbs, Math.abs(e));
    num += e * e;
    den += merged[i] * merged[i];
  }
  const error: QuantMergeError = { module, format: ql.format, maxAbsError: maxAbs, relFrobeniusError: den > 0 ? Math.sqrt(num / den) : Math.sqrt(num) };
  return { q, error };
}

/** W ← W + sign·Δ (Δ [out, in]) on a QuantLinear, re-quantised; returns the re-quantisation error. */
export function addIntoQuantLinear(ql: QuantLinear, delta: Tensor, sign: number, safeMergeName: string | null, module = ""): QuantMergeError {
  if (delta.size !== ql.outFeatures * ql.inFeatures) {
    throw new ShapeError(`merge: delta weight [${delta.shape}] does not fit the ${ql.format} base weight [${ql.outFeatures}, ${ql.inFeatures}]`);
  }
  const w = ql.dequantizedWeight(), d = delta.contiguous().f32();
  for (let i = 0; i < w.length; i++) {
    w[i] += sign * d[i];
    if (safeMergeName !== null && !Number.isFinite(w[i])) throw new PeftError(`safe merge: NaN/Inf in the merged weight of adapter '${safeMergeName}'; the adapter seems broken`);
  }
  const { q, error } = requantizeWithError(ql, w, module);
  ql.qweight = q;
  return error;
}

/** Every QuantLinear of a model with its dotted name. */
export function quantLinears(model: Module): [string, QuantLinear][] {
  return model.namedModules().filter((e): e is [string, QuantLinear] => e[1] instanceof QuantLinear);
}

/** Replaces every QuantLinear of a model by its dequantised f32 Linear (a full-precision model). */
export function dequantizeModel(model: Module): void {
  for (const [path, ql] of quantLinears(model)) {
    const lin = ql.toLinear();
    lin.weight.name = path ? `${path}.weight` : "weight";
    if (path === "") throw new PeftError(`dequantizeModel: the model itself is a QuantLinear`);
    model.setSubmodule(path, lin);
  }
}
