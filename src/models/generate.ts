// Autoregressive generation for causal LMs with HF generate() semantics: greedy or sampling
// (temperature → top-k → top-p, after the repetition penalty), beam search (numBeams > 1,
// beam_search.ts), EOS stopping with pad filling of finished rows, min_new_tokens, forced EOS and
// no_repeat_ngram_size, left-padded batches (positions from the attention mask) and a KV cache.
// Encoder–decoders go to generate_seq2seq.ts.

import { Tensor } from "../tensor/tensor.js";
import { noGrad } from "../tensor/autograd.js";
import { globalRng, Rng } from "../tensor/random.js";
import { ConfigError, ShapeError } from "../tensor/errors.js";
import type { BaseConfig } from "../io/hf_config.js";
import type { KeyValue, ModelInputs, ModelOutput } from "./modeling_utils.js";
import { positionsFromMask } from "./inputs.js";
import { bannedNgramTokens, beamSearch } from "./beam_search.js";
import { causalBeamModel } from "./beam_causal.js";
import { pastLength, preallocateCache } from "../nn/kv_cache.js";
import { isEncoderDecoder } from "./seq2seq.js";
import { generateSeq2Seq } from "./generate_seq2seq.js";
import { applyLengthProcessors } from "./logits_processors.js";

export interface GenerateOptions {
  /** Tokens to add per row (default 20, as HF's max_length 20 for short prompts). */
  maxNewTokens?: number;
  doSample?: boolean;
  temperature?: number;
  /** HF default 50 (applies only when sampling); 0 disables. */
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  /** Defaults to config.eos_token_id; null disables stopping. */
  eosTokenId?: number | number[] | null;
  /** Fills finished rows and the left padding; defaults to config.pad_token_id, else the first EOS id. */
  padTokenId?: number;
  /** For a rectangular (already padded) batch; otherwise derived as HF does. */
  attentionMask?: number[][];
  /** Use the KV cache (default true). */
  useCache?: boolean;
  rng?: Rng;
  /** Called after each step with the new token of every row (not with beam search). */
  onToken?: (tokens: number[]) => void;
  /** EOS is not chosen before this many new tokens (HF min_new_tokens; default 0). */
  minNewTokens?: number;
  /** Bans tokens that would repeat an n-gram of this size in the row (HF no_repeat_ngram_size; 0 = off). */
  noRepeatNgramSize?: number;
  /** Beam search when > 1 (HF num_beams; default 1). Sampling with beams is not supported. */
  numBeams?: number;
  /** Beam search: hypotheses scored sum(logprob) / length^lengthPenalty (default 1). */
  lengthPenalty?: number;
  /** Beam search: HF early_stopping, false (default), true or "never". */
  earlyStopping?: boolean | "never";
  /** Rows returned per prompt (beam search: the best hypotheses; sampling: independent samples). */
  numReturnSequences?: number;
  /** Encoder–decoders: the first decoder token (default config.decoder_start_token_id). */
  decoderStartTokenId?: number;
  /** Encoder–decoders: the token forced as the first generated one (HF forced_bos_token_id). */
  forcedBosTokenId?: number;
  /** The token forced as the last one when max_new_tokens is reached (HF forced_eos_token_id). */
  forcedEosTokenId?: number;
}

export interface CausalLM {
  config: BaseConfig;
  /** generation_config.json defaults; explicit options win. */
  generationConfig?: Partial<GenerateOptions>;
  forward(inputs: ModelInputs): ModelOutput;
}

/** Left-pads ragged prompts; returns ids and mask. */
export function preparePrompts(input: number[][] | number[] | Tensor, pad: number, eos: number[], mask?: number[][]): { ids: number[][]; mask: number[][] } {
  let rows: number[][];
  if (input instanceof Tensor) {
    if (input.ndim === 1) rows = [Array.from(input.i32())];
    else if (input.ndim === 2) rows = input.toArray() as number[][];
    else throw new ShapeError(`generate: inputIds must be [batch, seq], got [${input.shape}]`);
  } else if (input.length > 0 && !Array.isArray(input[0])) rows = [input as number[]];
  else rows = (input as number[][]).map((r) => r.slice());
  if (rows.length === 0 || rows.some((r) => r.length === 0)) throw new ShapeError("generate: every prompt needs at least one token");
  const T = Math.max(...rows.map((r) => r.length));
  const ragged = rows.some((r) => r.length !== T);
  if (mask) {
    if (ragged) throw new ShapeError("generate: attentionMask given with prompts of different lengths; pad them or omit the mask");
    if (mask.length !== rows.length || mask.some((m) => m.length !== T)) throw new ShapeError("generate: attentionMask does not match the prompts' shape");
    return { ids: rows, mask: mask.map((m) => m.slice()) };
  }
  if (ragged) {
    return {
      ids: rows.map((r) => [...new Array(T - r.length).fill(pad), ...r]),
      mask: rows.map((r) => [...new Array(T - r.length).fill(0), ...new Array(r.length).fill(1)]),
    };
  }
  // HF: the mask is ids != pad when the pad token occurs and differs from EOS; otherwise all ones.
  const infer = !eos.includes(pad) && rows.some((r) => r.includes(pad));
  return { ids: rows, mask: rows.map((r) => r.map((x) => (infer && x === pad ? 0 : 1))) };
}

function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

/** Processes one row's next-token scores in place (HF processor/warper order) and picks a token. */
export function selectToken(scores: Float32Array, history: number[], o: Required<Pick<GenerateOptions, "doSample" | "temperature" | "topK" | "topP" | "repetitionPenalty">>, rng: Rng): number {
  const V = scores.length;
  if (o.repetitionPenalty !== 1) {
    for (const id of new Set(history)) {
      if (id < 0 || id >= V) continue;
      const s = scores[id];
      scores[id] = s < 0 ? s * o.repetitionPenalty : s / o.repetitionPenalty;
    }
  }
  if (!o.doSample) return argmax(scores);
  if (o.temperature !== 1) for (let i = 0; i < V; i++) scores[i] /= o.temperature;
  if (o.topK > 0 && o.topK < V) {
    const kth = Float32Array.from(scores).sort()[V - o.topK];
    for (let i = 0; i < V; i++) if (scores[i] < kth) scores[i] = -Infinity;
  }
  if (o.topP < 1) {
    const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
    const mx = scores[order[V - 1]];
    let z = 0;
    for (let i = 0; i < V; i++) z += Math.exp(scores[i] - mx);
    let cum = 0;
    for (let r = 0; r < V - 1; r++) {
      // ascending order: drop tokens whose cumulative probability stays within 1 − top_p (keep ≥ 1)
      cum += Math.exp(scores[order[r]] - mx) / z;
      if (cum <= 1 - o.topP) scores[order[r]] = -Infinity;
      else break;
    }
  }
  let mx = -Infinity;
  for (let i = 0; i < V; i++) if (scores[i] > mx) mx = scores[i];
  const p = new Float64Array(V);
  let z = 0;
  for (let i = 0; i < V; i++) {
    p[i] = scores[i] === -Infinity ? 0 : Math.exp(scores[i] - mx);
    z += p[i];
  }
  let u = rng.random() * z;
  for (let i = 0; i < V; i++) {
    u -= p[i];
    if (u < 0) return i;
  }
  for (let i = V - 1; i >= 0; i--) if (p[i] > 0) return i;
  return argmax(scores);
}

export function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Generates continuations; returns each row's full sequence (left padding, prompt, new tokens).
 * For an encoder–decoder (T5, …) the prompt goes to the encoder and the decoder's ids are returned
 * (decoder start token, new tokens), as HF's generate does.
 */
export function generate(model: CausalLM, inputIds: number[][] | number[] | Tensor, options: GenerateOptions = {}): number[][] {
  if (isEncoderDecoder(model)) return generateSeq2Seq(model, inputIds, options);
  const cfg = model.config;
  const opts: GenerateOptions = { ...(model.generationConfig ?? {}), ...dropUndefined(options) };
  const eosOpt = opts.eosTokenId === undefined ? cfg.eosTokenId : opts.eosTokenId;
  const eos = eosOpt === null ? [] : Array.isArray(eosOpt) ? eosOpt : [eosOpt];
  const pad = opts.padTokenId ?? cfg.padTokenId ?? eos[0];
  const maxNew = opts.maxNewTokens ?? 20;
  if (!Number.isInteger(maxNew) || maxNew < 0) throw new ConfigError(`generate: maxNewTokens must be a non-negative integer, got ${maxNew}`);
  const o = {
    doSample: opts.doSample ?? false,
    temperature: opts.temperature ?? 1,
    topK: opts.topK ?? 50,
    topP: opts.topP ?? 1,
    repetitionPenalty: opts.repetitionPenalty ?? 1,
  };
  if (o.doSample && !(o.temperature > 0)) throw new ConfigError(`generate: temperature must be > 0 when sampling, got ${o.temperature}`);
  if (!(o.topP > 0 && o.topP <= 1)) throw new ConfigError(`generate: topP must be in (0, 1], got ${o.topP}`);
  if (!(o.repetitionPenalty > 0)) throw new ConfigError(`generate: repetitionPenalty must be > 0, got ${o.repetitionPenalty}`);
  const rng = opts.rng ?? globalRng;
  const useCache = opts.useCache ?? true;
  const padForPrompt = pad ?? 0;
  const prepared = preparePrompts(inputIds, padForPrompt, eos, opts.attentionMask);
  const numBeams = opts.numBeams ?? 1;
  const nrs = opts.numReturnSequences ?? 1;
  const minNew = opts.minNewTokens ?? 0;
  const ngram = opts.noRepeatNgramSize ?? 0;
  if (!Number.isInteger(numBeams) || numBeams < 1) throw new ConfigError(`generate: numBeams must be a positive integer, got ${numBeams}`);
  if (numBeams > 1) {
    if (o.doSample) throw new ConfigError("generate: sampling with numBeams > 1 (beam sampling) is not supported; use doSample or numBeams");
    if (maxNew === 0) return prepared.ids;
    const masks = prepared.mask.flatMap((m) => new Array<number[]>(numBeams).fill(m));
    return noGrad(() => beamSearch(causalBeamModel(model, masks, useCache), prepared.ids, {
      numBeams, maxNewTokens: maxNew, minNewTokens: minNew, lengthPenalty: opts.lengthPenalty, earlyStopping: opts.earlyStopping,
      noRepeatNgramSize: ngram, repetitionPenalty: o.repetitionPenalty, numReturnSequences: nrs, eosTokenIds: eos, padTokenId: pad,
    }));
  }
  if (!Number.isInteger(nrs) || nrs < 1) throw new ConfigError(`generate: numReturnSequences must be a positive integer, got ${nrs}`);
  if (nrs > 1 && !o.doSample) throw new ConfigError(`generate: numReturnSequences ${nrs} needs beam search (numBeams ≥ ${nrs}) or sampling; greedy search returns one sequence per prompt`);
  if (!Number.isInteger(minNew) || minNew < 0) throw new ConfigError(`generate: minNewTokens must be a non-negative integer, got ${minNew}`);
  if (!Number.isInteger(ngram) || ngram < 0) throw new ConfigError(`generate: noRepeatNgramSize must be a non-negative integer, got ${ngram}`);
  // several samples per prompt: each prompt repeated in place (HF's expand)
  const ids = prepared.ids.flatMap((r) => Array.from({ length: nrs }, () => r.slice()));
  const mask = prepared.mask.flatMap((m) => Array.from({ length: nrs }, () => m.slice()));
  const B = ids.length;
  const promptLen = ids[0].length;
  const unfinished = new Array<boolean>(B).fill(true);
  const lengths = { eos, minNewTokens: minNew, maxNewTokens: maxNew, forcedEos: opts.forcedEosTokenId };
  // greedy with no logits processor: the argmax of the logits row in place (no copy of the row)
  const plainGreedy = !o.doSample && o.repetitionPenalty === 1 && ngram === 0;
  // without padding the mask is all ones: cached steps pass none (the same scores, no [B, P+1] mask per step)
  const padded = mask.some((m) => m.includes(0));
  // each row's next position id (HF: cumsum(mask) − 1), kept as a count instead of rebuilt per step
  const seen = mask.map((m) => m.reduce((a, x) => a + (x !== 0 ? 1 : 0), 0));
  return noGrad(() => {
    let past: KeyValue[] | undefined;
    for (let step = 0; step < maxNew; step++) {
      const T = ids[0].length;
      let out: ModelOutput;
      if (useCache && past) {
        out = model.forward({
          inputIds: ids.map((r) => [r[T - 1]]),
          ...(padded && { attentionMask: mask }),
          positionIds: seen.map((c) => [c - 1]),
          pastKeyValues: past,
          useCache: true,
        });
      } else {
        // the prompt pass: only the last position's logits are read
        out = model.forward({ inputIds: ids, attentionMask: mask, positionIds: positionsFromMask(mask), useCache, logitsToKeep: 1 });
      }
      if (useCache) {
        past = out.pastKeyValues;
        // after the prompt: a cache with room for every new token, extended in place by each step
        if (step === 0 && past && past.length > 0) past = preallocateCache(past, pastLength(past) + maxNew - 1);
      }
      const logits = out.logits!;
      const [, Tl, V] = logits.shape;
      const flat = logits.f32();
      const next: number[] = [];
      for (let b = 0; b < B; b++) {
        const row = flat.subarray((b * Tl + Tl - 1) * V, (b * Tl + Tl) * V);
        // a length processor acts on this step (EOS banned before min_new_tokens, forced EOS at the end)
        const step = T - promptLen;
        const lengthActs = (step < minNew && eos.length > 0) || (opts.forcedEosTokenId !== undefined && step === maxNew - 1);
        let tok: number;
        if (plainGreedy && !lengthActs) tok = argmax(row);
        else {
          const scores = Float32Array.from(row);
          if (ngram > 0) for (const t of bannedNgramTokens(ids[b], ngram)) scores[t] = -Infinity;
          applyLengthProcessors(scores, step, lengths);
          tok = selectToken(scores, ids[b], o, rng);
        }
        if (!unfinished[b]) {
          if (pad === undefined) throw new ConfigError("generate: a row finished but there is no pad_token_id (or eos) to fill it with");
          tok = pad;
        }
        next.push(tok);
      }
      for (let b = 0; b < B; b++) {
        ids[b].push(next[b]);
        mask[b].push(1);
        seen[b]++;
        if (eos.includes(next[b])) unfinished[b] = false;
      }
      opts.onToken?.(next);
      if (!unfinished.some(Boolean)) break;
    }
    return ids;
  });
}
