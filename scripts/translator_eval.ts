// Translating and scoring with the bundled translator: batched generate() over source strings and
// corpus BLEU/chrF (sacrebleu defaults, src/data/metrics.ts). Shared by scripts/pretrain_translator.ts
// and test/models/translator_model.test.ts.

import { generate, type CausalLM } from "../src/models/generate.js";
import type { PreTrainedTokenizer } from "../src/io/tokenizer.js";
import { bleu, chrf } from "../src/data/metrics.js";

export interface Pair { en: string; de: string }

export interface TranslateOptions { numBeams?: number; maxNewTokens?: number; batchSize?: number; maxSourceTokens?: number }

/** German for each English source (sources cut to maxSourceTokens ids, the last kept as EOS). */
export function translateAll(model: unknown, tok: PreTrainedTokenizer, sources: string[], o: TranslateOptions = {}): string[] {
  const bs = o.batchSize ?? 16, maxSrc = o.maxSourceTokens ?? 64;
  const out: string[] = [];
  for (let i = 0; i < sources.length; i += bs) {
    const ids = sources.slice(i, i + bs).map((s) => {
      const e = tok.encode(s);
      return e.length > maxSrc ? [...e.slice(0, maxSrc - 1), e.at(-1)!] : e;
    });
    const gen = generate(model as CausalLM, ids, { numBeams: o.numBeams ?? 1, maxNewTokens: o.maxNewTokens ?? 64 });
    for (const g of gen) out.push(tok.decode(g, { skipSpecialTokens: true }));
  }
  return out;
}

export function scoreTranslations(predictions: string[], references: string[]): { bleu: number; chrf: number; signature: string } {
  const b = bleu(predictions, references);
  return { bleu: b.score, chrf: chrf(predictions, references).score, signature: b.signature };
}
