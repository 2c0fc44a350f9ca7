// The tokenizer's public option and result shapes, and the per-sequence encoding they are built from.

export interface ChatMessage {
  role: string;
  content: string;
}

export interface EncodeOptions {
  textPair?: string;
  addSpecialTokens?: boolean;
}

export interface EncodingWithOffsets {
  ids: number[];
  tokens: string[];
  /** [start, end) UTF-16 offsets into the text of the token's sequence; [0, 0] for added special tokens. */
  offsets: [number, number][];
  typeIds: number[];
  /** Index of the pre-tokenized word within its sequence; null for special tokens. */
  wordIds: (number | null)[];
  /** 0 for the first text, 1 for the pair; null for special tokens. */
  sequenceIds: (number | null)[];
  /** 1 for special tokens added by the post-processor. */
  specialMask: number[];
}

export type PaddingStrategy = boolean | "longest" | "max_length" | "do_not_pad";
export type TruncationStrategy = boolean | "longest_first" | "only_first" | "only_second" | "do_not_truncate";

export interface CallOptions {
  textPair?: string | string[] | string[][];
  padding?: PaddingStrategy;
  truncation?: TruncationStrategy;
  maxLength?: number;
  addSpecialTokens?: boolean;
  /** texts (and textPair) are lists of words (string[] per example). */
  isSplitIntoWords?: boolean;
  /** Pad to a multiple of this length. */
  padToMultipleOf?: number;
}

export interface BatchEncoding {
  inputIds: number[][];
  attentionMask: number[][];
  tokenTypeIds: number[][];
  wordIds: (number | null)[][];
  offsets: [number, number][][];
  sequenceIds: (number | null)[][];
  specialTokensMask: number[][];
}

export interface DecodeOptions {
  skipSpecialTokens?: boolean;
  cleanUpTokenizationSpaces?: boolean;
}

export interface ChatTemplateOptions {
  addGenerationPrompt?: boolean;
  tokenize?: boolean;
  chatTemplate?: string;
  /** Extra variables for the template. */
  extra?: Record<string, unknown>;
}

/** One sequence before post-processing. */
export interface Seq {
  ids: number[];
  tokens: string[];
  offsets: [number, number][];
  wordIds: (number | null)[];
}
