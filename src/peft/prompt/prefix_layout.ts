// Where prefix tuning's keys and values sit in the prefix rows [V, blocks·H·D]: PEFT's 2 blocks (keys,
// values) per layer, or 4 with peft-ts's encoder prefixes (prompt/seq2seq.ts).
import type { Tensor } from "../../tensor/tensor.js";
import { PrefixTuningConfig, type PromptLearningConfig } from "./config.js";

/** True when the config adds encoder prefixes (peft-ts's option for encoder–decoders, prompt/seq2seq.ts). */
export function hasEncoderPrefix(cfg: PromptLearningConfig): boolean {
  return cfg instanceof PrefixTuningConfig && cfg.encoderPrefix === true;
}

/** Blocks of H·D values per prefix row: PEFT's 2L (keys and values per layer), or 4L with encoder prefixes. */
export function prefixBlocks(cfg: PromptLearningConfig): number {
  return cfg.numLayers! * (hasEncoderPrefix(cfg) ? 4 : 2);
}

/** Block j of the prefix rows [V, blocks·H·D] as keys or values [B, H, V, D]. */
export function prefixBlock(rows: Tensor, B: number, cfg: PromptLearningConfig, j: number, blocks = cfg.numLayers! * 2): Tensor {
  const V = cfg.numVirtualTokens, H = cfg.numAttentionHeads!, D = cfg.tokenDim! / H;
  return rows.reshape([V, blocks, H, D]).select(1, j).permute([1, 0, 2]).unsqueeze(0).expand([B, H, V, D]).contiguous();
}

