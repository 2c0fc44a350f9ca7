// A decoder-only model as a BeamSearchModel: the prompt rows run once (one copy per beam, as HF
// expands them), then each step feeds every beam's last token with the KV cache; the cache's
// rows are reordered by beam index after each step. Without the cache every step runs the whole rows.

import { Tensor } from "../tensor/tensor.js";
import type { KeyValue } from "../nn/kv_cache.js";
import type { ModelInputs, ModelOutput } from "./modeling_utils.js";
import type { BeamSearchModel } from "./beam_search.js";
import { positionsFromMask } from "./inputs.js";

/** Rows `idx` of a [R, …] tensor, in that order. */
export function selectRows(t: Tensor, idx: number[]): Tensor {
  const [R, ...rest] = t.shape;
  const width = t.size / R;
  const src = t.f32();
  const out = new Float32Array(idx.length * width);
  idx.forEach((r, i) => out.set(src.subarray(r * width, (r + 1) * width), i * width));
  return Tensor.from(out, [idx.length, ...rest]);
}

/** Each row's logits at its last position, [R·V], from [R, T, V]. */
export function lastPositionLogits(t: Tensor): { logits: Float32Array; vocabSize: number } {
  const [R, Tl, V] = t.shape;
  const flat = t.f32();
  const logits = new Float32Array(R * V);
  for (let r = 0; r < R; r++) logits.set(flat.subarray((r * Tl + Tl - 1) * V, (r * Tl + Tl) * V), r * V);
  return { logits, vocabSize: V };
}

/** Past keys/values with their batch rows taken from `beamIdx` (HF Cache.reorder_cache). */
export function reorderKeyValues(past: KeyValue[], beamIdx: number[]): KeyValue[] {
  return past.map((kv) => ({ key: selectRows(kv.key, beamIdx), value: selectRows(kv.value, beamIdx) }));
}

/**
 * `promptMask[r]` is row r's attention mask over the prompt (rows as beamSearch sees them:
 * every item's prompt once per beam); the steps extend it with ones.
 */
export function causalBeamModel(model: { forward(inputs: ModelInputs): ModelOutput }, promptMask: number[][], useCache: boolean): BeamSearchModel<KeyValue[] | null> {
  return {
    step(sequences, cache) {
      const T = sequences[0].length;
      const mask = promptMask.map((m) => [...m, ...new Array<number>(T - m.length).fill(1)]);
      const pos = positionsFromMask(mask);
      const out = cache
        ? model.forward({ inputIds: sequences.map((r) => [r[T - 1]]), attentionMask: mask, positionIds: pos.map((r) => [r[T - 1]]), pastKeyValues: cache, useCache: true })
        : model.forward({ inputIds: sequences, attentionMask: mask, positionIds: pos, useCache });
      return { ...lastPositionLogits(out.logits!), cache: useCache ? out.pastKeyValues ?? null : null };
    },
    reorderCache: (cache, beamIdx) => (cache ? reorderKeyValues(cache, beamIdx) : null),
  };
}
