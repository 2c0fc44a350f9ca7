// HF's length-and-forcing logits processors, applied in place to one row's next-token scores before
// the token is chosen: MinNewTokensLength (no EOS before min_new_tokens), ForcedBOS (the first
// generated token of an encoder–decoder) and ForcedEOS (the last token when max_new_tokens is reached).
import { ConfigError } from "../tensor/errors.js";

export interface LengthProcessors {
  eos: number[];
  minNewTokens: number;
  maxNewTokens: number;
  /** Forced as the first generated token (encoder–decoders only, as HF's cur_len == 1). */
  forcedBos?: number;
  forcedEos?: number;
}

/** Applies the processors for the `step`-th new token (0-based), in HF's order. */
export function applyLengthProcessors(scores: Float32Array, step: number, p: LengthProcessors): void {
  if (step < p.minNewTokens) for (const e of p.eos) if (e >= 0 && e < scores.length) scores[e] = -Infinity;
  const force = (id: number) => {
    scores.fill(-Infinity);
    if (id >= 0 && id < scores.length) scores[id] = 0;
  };
  if (p.forcedBos !== undefined && step === 0) force(p.forcedBos);
  if (p.forcedEos !== undefined && step === p.maxNewTokens - 1) force(p.forcedEos);
}

/** min_new_tokens checked as HF's processor checks it. */
export function checkMinNewTokens(minNewTokens: number | undefined, where: string): number {
  const v = minNewTokens ?? 0;
  if (!Number.isInteger(v) || v < 0) throw new ConfigError(`${where}: minNewTokens must be a non-negative integer, got ${minNewTokens}`);
  return v;
}
