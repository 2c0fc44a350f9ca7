// An encoder–decoder as a BeamSearchModel: the encoder output (computed once per source row) is
// repeated for each beam, as HF expands it; every step feeds each beam's last decoder token with the
// self-attention cache, whose rows follow the beams. The cross-attention keys/values are the same
// for all beams of an item and beams never move between items, so they are not reordered.

import type { Tensor } from "../tensor/tensor.js";
import type { IdsLike } from "./modeling_utils.js";
import type { BeamSearchModel } from "./beam_search.js";
import { lastPositionLogits, reorderKeyValues, selectRows } from "./beam_causal.js";
import type { EncoderDecoderLM, Seq2SeqLayerCache } from "./seq2seq.js";

export function seq2seqBeamModel(
  model: EncoderDecoderLM, encoderHidden: Tensor, sourceMask: number[][], numBeams: number, useCache: boolean,
): BeamSearchModel<Seq2SeqLayerCache[] | null> {
  const rows = sourceMask.flatMap((_, b) => new Array<number>(numBeams).fill(b));
  const encoderOutputs = { lastHiddenState: selectRows(encoderHidden, rows) };
  const attentionMask: IdsLike = rows.map((b) => sourceMask[b]);
  return {
    step(sequences, cache) {
      const T = sequences[0].length;
      const out = model.forward({
        encoderOutputs, attentionMask, useCache,
        decoderInputIds: cache ? sequences.map((r) => [r[T - 1]]) : sequences,
        ...(cache ? { pastKeyValues: cache } : {}),
      });
      return { ...lastPositionLogits(out.logits), cache: useCache ? out.pastKeyValues ?? null : null };
    },
    reorderCache: (cache, beamIdx) => cache
      ? cache.map((layer) => ({ ...reorderKeyValues([layer], beamIdx)[0], cross: layer.cross }))
      : null,
  };
}
