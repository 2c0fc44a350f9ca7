// Collecting the attention weights of a forward (outputAttentions): a scope that the attention
// blocks report their post-softmax weights to, so the layer stack gets them per layer without every
// block's signature carrying them.
import type { Tensor } from "../tensor/tensor.js";

/** One attention block's weights [B, heads, Tq, Tk]; cross = attending over the encoder output. */
export interface CapturedAttention {
  weights: Tensor;
  cross: boolean;
}

let active: CapturedAttention[] | null = null;

/** Whether a capture scope is open (attention blocks then take the eager path and report their weights). */
export function capturingAttentions(): boolean {
  return active !== null;
}

/** Called by an attention block with its weights; a no-op outside a capture scope. */
export function reportAttention(weights: Tensor, cross: boolean): void {
  if (active) active.push({ weights, cross });
}

/**
 * Runs fn with a capture scope open when `on` (nested scopes each see their own blocks only) and
 * returns what the blocks reported, in call order.
 */
export function captureAttentions<T>(on: boolean, fn: () => T): { result: T; captured: CapturedAttention[] } {
  if (!on) return { result: fn(), captured: [] };
  const outer = active;
  const mine: CapturedAttention[] = [];
  active = mine;
  try {
    return { result: fn(), captured: mine };
  } finally {
    active = outer;
  }
}
