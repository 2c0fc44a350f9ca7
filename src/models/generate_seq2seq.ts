// Generation for encoder–decoders with HF generate() semantics: the encoder runs once, the decoder
// starts from decoder_start_token_id and extends one token a step with its self-attention cache
// (cross-attention keys/values are computed on the first step and reused), greedy or sampling as
// for decoder-only models (selectToken), or beam search (beam_search.ts through beam_seq2seq.ts),
// min_new_tokens, no_repeat_ngram_size, forced BOS/EOS, EOS stopping with pad filling of finished
// rows; returns the decoder ids (start token first) as HF does.

import { Tensor } from "../tensor/tensor.js";
import { noGrad } from "../tensor/autograd.js";
import { globalRng } from "../tensor/random.js";
import { ConfigError } from "../tensor/errors.js";
import type { BaseConfig } from "../io/hf_config.js";
import { dropUndefined, preparePrompts, selectToken, type GenerateOptions } from "./generate.js";
import { applyLengthProcessors, checkMinNewTokens } from "./logits_processors.js";
import { bannedNgramTokens, beamSearch } from "./beam_search.js";
import { seq2seqBeamModel } from "./beam_seq2seq.js";
import type { EncoderDecoderLM, Seq2SeqLayerCache, Seq2SeqOutput } from "./seq2seq.js";

type Seq2SeqGenerator = EncoderDecoderLM & { config: BaseConfig & { decoderStartTokenId?: number | null }; generationConfig?: Partial<GenerateOptions> };

/**
 * Ragged source rows padded on the right, as the tokenizers of these models pad: encoders with
 * absolute positions (BART, Marian) would see shifted positions with left padding.
 */
function rightPadded(input: number[][] | number[] | Tensor, pad: number): number[][] | number[] | Tensor {
  if (input instanceof Tensor || input.length === 0 || !Array.isArray(input[0])) return input;
  const rows = input as number[][], T = Math.max(...rows.map((r) => r.length));
  return rows.map((r) => [...r, ...new Array<number>(T - r.length).fill(pad)]);
}

/** The mask of right-padded ragged rows (undefined for a rectangular batch: derived as HF does). */
function raggedMask(input: number[][] | number[] | Tensor): number[][] | undefined {
  if (input instanceof Tensor || input.length === 0 || !Array.isArray(input[0])) return undefined;
  const rows = input as number[][], T = Math.max(...rows.map((r) => r.length));
  if (rows.every((r) => r.length === T)) return undefined;
  return rows.map((r) => [...new Array<number>(r.length).fill(1), ...new Array<number>(T - r.length).fill(0)]);
}

/** The decoder's ids for each source row: [decoder start, new tokens…], finished rows pad-filled. */
export function generateSeq2Seq(model: Seq2SeqGenerator, inputIds: number[][] | number[] | Tensor, options: GenerateOptions = {}): number[][] {
  const cfg = model.config;
  const opts: GenerateOptions = { ...(model.generationConfig ?? {}), ...dropUndefined(options) };
  const eosOpt = opts.eosTokenId === undefined ? cfg.eosTokenId : opts.eosTokenId;
  const eos = eosOpt === null ? [] : Array.isArray(eosOpt) ? eosOpt : [eosOpt];
  const pad = opts.padTokenId ?? cfg.padTokenId ?? eos[0];
  const start = opts.decoderStartTokenId ?? cfg.decoderStartTokenId ?? null;
  if (start === null || start === undefined) throw new ConfigError(`${cfg.source ?? "generate"}: decoder_start_token_id is not set (in config.json, generation_config.json or the options)`);
  const maxNew = opts.maxNewTokens ?? 20;
  if (!Number.isInteger(maxNew) || maxNew < 0) throw new ConfigError(`generate: maxNewTokens must be a non-negative integer, got ${maxNew}`);
  const o = {
    doSample: opts.doSample ?? false, temperature: opts.temperature ?? 1, topK: opts.topK ?? 50, topP: opts.topP ?? 1,
    repetitionPenalty: opts.repetitionPenalty ?? 1,
  };
  if (o.doSample && !(o.temperature > 0)) throw new ConfigError(`generate: temperature must be > 0 when sampling, got ${o.temperature}`);
  const processors = {
    eos, minNewTokens: checkMinNewTokens(opts.minNewTokens, "generate"), maxNewTokens: maxNew,
    forcedBos: opts.forcedBosTokenId, forcedEos: opts.forcedEosTokenId,
  };
  const rng = opts.rng ?? globalRng;
  const useCache = opts.useCache ?? true;
  const { ids: src, mask } = preparePrompts(rightPadded(inputIds, pad ?? 0), pad ?? 0, eos, opts.attentionMask ?? raggedMask(inputIds));
  const B = src.length;
  const dec = src.map(() => [start]);
  const ngram = opts.noRepeatNgramSize ?? 0, numBeams = opts.numBeams ?? 1, nrs = opts.numReturnSequences ?? 1;
  if (!Number.isInteger(ngram) || ngram < 0) throw new ConfigError(`generate: noRepeatNgramSize must be a non-negative integer, got ${ngram}`);
  if (!Number.isInteger(numBeams) || numBeams < 1) throw new ConfigError(`generate: numBeams must be a positive integer, got ${numBeams}`);
  if (numBeams > 1) {
    if (o.doSample) throw new ConfigError("generate: sampling with numBeams > 1 (beam sampling) is not supported; use doSample or numBeams");
    if (maxNew === 0) return dec;
    const forced = { eos: [], minNewTokens: 0, maxNewTokens: maxNew, forcedBos: processors.forcedBos, forcedEos: processors.forcedEos };
    return noGrad(() => beamSearch(seq2seqBeamModel(model, model.encode({ inputIds: src, attentionMask: mask }), mask, numBeams, useCache), dec, {
      numBeams, maxNewTokens: maxNew, minNewTokens: processors.minNewTokens, lengthPenalty: opts.lengthPenalty, earlyStopping: opts.earlyStopping,
      noRepeatNgramSize: ngram, repetitionPenalty: o.repetitionPenalty, numReturnSequences: nrs, eosTokenIds: eos, padTokenId: pad,
      processLogProbs: (lp, generated) => applyLengthProcessors(lp, generated, forced),
    }));
  }
  if (nrs !== 1) throw new ConfigError(`generate: numReturnSequences ${nrs} needs beam search (numBeams ≥ ${nrs}); greedy and sampling return one sequence per source row here`);
  const unfinished = new Array<boolean>(B).fill(true);
  return noGrad(() => {
    const encoderOutputs = { lastHiddenState: model.encode({ inputIds: src, attentionMask: mask }) };
    let past: Seq2SeqLayerCache[] | undefined;
    for (let step = 0; step < maxNew; step++) {
      const T = dec[0].length;
      const out: Seq2SeqOutput = model.forward({
        encoderOutputs, attentionMask: mask, useCache,
        decoderInputIds: useCache && past ? dec.map((r) => [r[T - 1]]) : dec,
        ...(useCache && past ? { pastKeyValues: past } : {}),
      });
      if (useCache) past = out.pastKeyValues;
      const [, Tl, V] = out.logits.shape;
      const flat = out.logits.f32();
      const next: number[] = [];
      for (let b = 0; b < B; b++) {
        const scores = Float32Array.from(flat.subarray((b * Tl + Tl - 1) * V, (b * Tl + Tl) * V));
        if (ngram > 0) for (const t of bannedNgramTokens(dec[b], ngram)) scores[t] = -Infinity;
        applyLengthProcessors(scores, step, processors);
        let tok = selectToken(scores, dec[b], o, rng);
        if (!unfinished[b]) {
          if (pad === undefined || pad === null) throw new ConfigError("generate: a row finished but there is no pad_token_id (or eos) to fill it with");
          tok = pad;
        }
        next.push(tok);
      }
      for (let b = 0; b < B; b++) {
        dec[b].push(next[b]);
        if (eos.includes(next[b])) unfinished[b] = false;
      }
      opts.onToken?.(next);
      if (!unfinished.some(Boolean)) break;
    }
    return dec;
  });
}
