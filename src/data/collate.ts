// Collators: turn a list of tokenized features into one padded batch of number arrays
// ({inputIds, attentionMask, tokenTypeIds?, labels}), which the models accept as is.

import { ConfigError } from "../tensor/errors.js";

export interface Features {
  inputIds: number[];
  attentionMask?: number[];
  tokenTypeIds?: number[];
  /** A class id / float / float[] (sequence tasks) or per-token ids (token tasks, causal LM). */
  labels?: number | number[];
  [extra: string]: unknown;
}

export interface PaddedBatch {
  inputIds: number[][];
  attentionMask: number[][];
  tokenTypeIds?: number[][];
  labels?: number[] | number[][];
  [extra: string]: unknown;
}

export interface PaddingOptions {
  padTokenId?: number | null;
  paddingSide?: "right" | "left";
  /** Pad every batch to this length (≥ the longest row) instead of the longest row. */
  maxLength?: number;
  padToMultipleOf?: number;
}

/** Anything with a pad id and padding side (a tokenizer). */
export interface PadSource {
  padTokenId: number | null;
  paddingSide?: "right" | "left";
}

function padRow(row: number[], len: number, value: number, side: "right" | "left"): number[] {
  const n = len - row.length;
  if (n <= 0) return row.slice();
  const pad = new Array<number>(n).fill(value);
  return side === "left" ? [...pad, ...row] : [...row, ...pad];
}

function targetLength(rows: number[][], opts: PaddingOptions): number {
  let len = rows.reduce((m, r) => Math.max(m, r.length), 0);
  if (opts.maxLength !== undefined) {
    if (len > opts.maxLength) throw new ConfigError(`collate: a row has ${len} tokens, more than maxLength ${opts.maxLength}; truncate when tokenizing`);
    len = opts.maxLength;
  }
  const m = opts.padToMultipleOf;
  if (m && len % m !== 0) len += m - (len % m);
  return len;
}

function resolvePad(src: PadSource | PaddingOptions | undefined): Required<Pick<PaddingOptions, "paddingSide">> & PaddingOptions {
  const padTokenId = src?.padTokenId ?? null;
  return { ...(src as PaddingOptions), padTokenId, paddingSide: src?.paddingSide ?? "right" };
}

/** Pads the token fields; extra fields (e.g. exampleId, offsets) are gathered as lists. */
function padCommon(features: Features[], opts: ReturnType<typeof resolvePad>, exclude: Set<string>): { batch: PaddedBatch; len: number } {
  if (features.length === 0) throw new ConfigError("collate: empty batch");
  const ids = features.map((f) => f.inputIds);
  const len = targetLength(ids, opts);
  const needsPad = ids.some((r) => r.length < len);
  if (needsPad && (opts.padTokenId === null || opts.padTokenId === undefined)) {
    throw new ConfigError("collate: rows have different lengths but no padTokenId is set (set tokenizer.padTokenId, e.g. to eosTokenId)");
  }
  const pid = opts.padTokenId ?? 0;
  const side = opts.paddingSide;
  const batch: PaddedBatch = {
    inputIds: ids.map((r) => padRow(r, len, pid, side)),
    attentionMask: features.map((f) => padRow(f.attentionMask ?? new Array<number>(f.inputIds.length).fill(1), len, 0, side)),
  };
  if (features.some((f) => f.tokenTypeIds)) {
    batch.tokenTypeIds = features.map((f) => padRow(f.tokenTypeIds ?? new Array<number>(f.inputIds.length).fill(0), len, 0, side));
  }
  const skip = new Set(["inputIds", "attentionMask", "tokenTypeIds", "labels", ...exclude]);
  for (const k of Object.keys(features[0])) {
    if (skip.has(k)) continue;
    batch[k] = features.map((f) => f[k]);
  }
  return { batch, len };
}

/**
 * transformers.DataCollatorWithPadding: pads inputIds with the pad id, attentionMask with 0,
 * tokenTypeIds with 0; sequence-level labels (numbers or float vectors) are stacked as they are.
 */
export class DataCollatorWithPadding {
  private readonly opts: ReturnType<typeof resolvePad>;
  constructor(tokenizerOrOpts?: PadSource | PaddingOptions, extra: PaddingOptions = {}) {
    this.opts = { ...resolvePad(tokenizerOrOpts), ...extra };
  }
  call(features: Features[]): PaddedBatch {
    const { batch } = padCommon(features, this.opts, new Set());
    if (features.some((f) => f.labels !== undefined)) {
      if (features.some((f) => f.labels === undefined)) throw new ConfigError("DataCollatorWithPadding: some features have labels and some do not");
      batch.labels = features.map((f) => f.labels) as number[] | number[][];
    }
    return batch;
  }
}

/** transformers.DataCollatorForTokenClassification: per-token labels padded with labelPadTokenId (−100). */
export class DataCollatorForTokenClassification {
  private readonly opts: ReturnType<typeof resolvePad>;
  readonly labelPadTokenId: number;
  constructor(tokenizerOrOpts?: PadSource | PaddingOptions, extra: PaddingOptions & { labelPadTokenId?: number } = {}) {
    this.opts = { ...resolvePad(tokenizerOrOpts), ...extra };
    this.labelPadTokenId = extra.labelPadTokenId ?? -100;
  }
  call(features: Features[]): PaddedBatch {
    const { batch, len } = padCommon(features, this.opts, new Set());
    if (features.some((f) => f.labels !== undefined)) {
      batch.labels = features.map((f, i) => {
        if (!Array.isArray(f.labels)) throw new ConfigError(`DataCollatorForTokenClassification: feature ${i} labels must be a per-token array`);
        if (f.labels.length !== f.inputIds.length) throw new ConfigError(`DataCollatorForTokenClassification: feature ${i} has ${f.inputIds.length} tokens but ${f.labels.length} labels`);
        return padRow(f.labels, len, this.labelPadTokenId, this.opts.paddingSide);
      });
    }
    return batch;
  }
}

/**
 * Causal-LM collator (DataCollatorForLanguageModeling with mlm=false): labels are the features'
 * labels (e.g. −100 on the prompt) or a copy of inputIds; padded positions get −100. The model
 * shifts labels itself.
 */
export class DataCollatorForCausalLM {
  private readonly opts: ReturnType<typeof resolvePad>;
  constructor(tokenizerOrOpts?: PadSource | PaddingOptions, extra: PaddingOptions = {}) {
    this.opts = { ...resolvePad(tokenizerOrOpts), ...extra };
  }
  call(features: Features[]): PaddedBatch {
    const { batch, len } = padCommon(features, this.opts, new Set());
    batch.labels = features.map((f, i) => {
      const lab = f.labels === undefined ? f.inputIds : f.labels;
      if (!Array.isArray(lab) || lab.length !== f.inputIds.length) throw new ConfigError(`DataCollatorForCausalLM: feature ${i} labels must be an array as long as inputIds (${f.inputIds.length})`);
      const mask = f.attentionMask;
      const masked = mask ? lab.map((v, t) => (mask[t] === 0 ? -100 : v)) : lab;
      return padRow(masked, len, -100, this.opts.paddingSide);
    });
    return batch;
  }
}

/** What DataCollatorForSeq2Seq needs of the model to make decoder inputs (HF: model.prepare_decoder_input_ids_from_labels). */
export interface DecoderStart {
  decoderStartTokenId: number | null;
  padTokenId: number | null;
}

/**
 * transformers.DataCollatorForSeq2Seq: inputs padded as DataCollatorWithPadding, labels padded with
 * labelPadTokenId (−100) to the longest label row (rounded up to padToMultipleOf, on the padding
 * side), and — when the model's decoder start is given — decoderInputIds = labels shifted right
 * (start token first, −100 → pad), which the model would otherwise make itself (needed when the
 * labels are taken out of the model call, as with label smoothing).
 */
export class DataCollatorForSeq2Seq {
  private readonly opts: ReturnType<typeof resolvePad>;
  readonly labelPadTokenId: number;
  private readonly model?: DecoderStart;
  constructor(tokenizerOrOpts?: PadSource | PaddingOptions, extra: PaddingOptions & { labelPadTokenId?: number; model?: DecoderStart } = {}) {
    this.opts = { ...resolvePad(tokenizerOrOpts), ...extra };
    this.labelPadTokenId = extra.labelPadTokenId ?? -100;
    this.model = extra.model;
  }
  call(features: Features[]): PaddedBatch {
    const { batch } = padCommon(features, this.opts, new Set(["decoderInputIds", "decoderAttentionMask"]));
    if (!features.some((f) => f.labels !== undefined)) return batch;
    const rows = features.map((f, i) => {
      if (!Array.isArray(f.labels)) throw new ConfigError(`DataCollatorForSeq2Seq: feature ${i} has no per-token labels (every feature needs its target ids)`);
      return f.labels;
    });
    let len = rows.reduce((m, r) => Math.max(m, r.length), 0);
    const m = this.opts.padToMultipleOf;
    if (m && len % m !== 0) len += m - (len % m);
    const labels = rows.map((r) => padRow(r, len, this.labelPadTokenId, this.opts.paddingSide));
    batch.labels = labels;
    if (this.model) {
      const { decoderStartTokenId: start, padTokenId: pad } = this.model;
      if (start === null || pad === null) throw new ConfigError("DataCollatorForSeq2Seq: the model has no decoder_start_token_id / pad_token_id to shift labels into decoder_input_ids");
      batch.decoderInputIds = labels.map((r) => [start, ...r.slice(0, -1).map((v) => (v === -100 ? pad : v))]);
    }
    return batch;
  }
}

/** Splits indices 0..n−1 into batches (optionally shuffled with a seed), like a DataLoader sampler. */
export function batchIndices(n: number, batchSize: number, opts: { dropLast?: boolean; order?: number[] } = {}): number[][] {
  if (!(batchSize >= 1)) throw new ConfigError(`batchIndices: batchSize must be >= 1, got ${batchSize}`);
  const order = opts.order ?? [...Array(n).keys()];
  const out: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) {
    const b = order.slice(i, i + batchSize);
    if (b.length < batchSize && opts.dropLast) break;
    out.push(b);
  }
  return out;
}
