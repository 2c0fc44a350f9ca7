// The slice of the tokenizer API the task pipelines use (PreTrainedTokenizer satisfies it;
// tests may pass a small fake with the same shape).

export interface TaskBatchEncoding {
  inputIds: number[][];
  attentionMask: number[][];
  tokenTypeIds: number[][];
  wordIds: (number | null)[][];
}

export interface TaskEncodingWithOffsets {
  ids: number[];
  offsets: [number, number][];
  typeIds: number[];
  sequenceIds: (number | null)[];
}

export interface TaskTokenizer {
  padTokenId: number | null;
  bosTokenId?: number | null;
  eosTokenId?: number | null;
  clsTokenId?: number | null;
  eosToken?: string | null;
  chatTemplate?: string | null;
  call(texts: string | string[] | string[][], opts?: {
    textPair?: string | string[] | string[][];
    padding?: boolean | "longest" | "max_length" | "do_not_pad";
    truncation?: boolean | "longest_first" | "only_first" | "only_second" | "do_not_truncate";
    maxLength?: number;
    isSplitIntoWords?: boolean;
    addSpecialTokens?: boolean;
  }): TaskBatchEncoding;
  encode(text: string, opts?: { textPair?: string; addSpecialTokens?: boolean }): number[];
  encodeWithOffsets(text: string, opts?: { textPair?: string; addSpecialTokens?: boolean }): TaskEncodingWithOffsets;
  decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): string;
  applyChatTemplate?(messages: { role: string; content: string }[], opts?: { addGenerationPrompt?: boolean; tokenize?: false; chatTemplate?: string }): string | number[];
}
