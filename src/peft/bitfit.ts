// BitFit (Ben Zaken et al. 2021): train only the bias terms. PEFT has no peft_type for it, so it
// is a helper on a plain model rather than a tuner: every parameter is frozen except biases.

import type { Module } from "../nn/module.js";
import { PeftError } from "../tensor/errors.js";

/**
 * Freezes every parameter except those named `bias` (optionally only biases whose module path
 * matches `only`). Returns the names of the trainable biases.
 */
export function applyBitFit(model: Module, opts: { only?: RegExp } = {}): string[] {
  const trainable: string[] = [];
  for (const [name, p] of model.namedParameters()) {
    const isBias = /(^|\.)bias$/.test(name) && (!opts.only || opts.only.test(name));
    p.requiresGrad = isBias;
    if (isBias) trainable.push(name);
  }
  if (trainable.length === 0) throw new PeftError(`applyBitFit: the model has no bias parameters${opts.only ? ` matching ${opts.only}` : ""}`);
  return trainable;
}
