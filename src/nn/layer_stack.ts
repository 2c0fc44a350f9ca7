// A stack of transformer layers run as HF runs it, collecting hidden states and the new KV cache.
import { Tensor } from "../tensor/tensor.js";
import type { KeyValue } from "./kv_cache.js";
import { captureAttentions } from "./attention_capture.js";

/** What the stack returns: the shape of a base model's output (ModelOutput). */
export interface LayerStackOutput {
  lastHiddenState: Tensor;
  /** Each layer's input followed by the final output (as HF's hidden_states); with outputHiddenStates. */
  hiddenStates?: Tensor[];
  /** Per layer, its self-attention weights [B, heads, Tq, Tk]; with outputAttentions. */
  attentions?: Tensor[];
  /** Per decoder layer, its cross-attention weights [B, heads, Tq, Tsource]; with outputAttentions. */
  crossAttentions?: Tensor[];
  /** Per layer, its keys and values including the past; with useCache. */
  pastKeyValues?: KeyValue[];
}

/**
 * Runs a stack of layers as HF does: hidden states are each layer's input and then the final output
 * (after `finalNorm`, for decoders); the new key/value cache is collected when `useCache` is set.
 * Each layer is called through its own forward, so wrappers (gradient checkpointing) still apply.
 * With `outputAttentions` each layer runs in an attention capture scope: its self-attention weights
 * (and cross-attention weights, for decoder layers that have them) are returned per layer.
 */
export function runLayerStack<L>(
  layers: Iterable<L>, h: Tensor, past: KeyValue[] | undefined, inputs: { outputHiddenStates?: boolean; outputAttentions?: boolean; useCache?: boolean },
  step: (layer: L, h: Tensor, past: KeyValue | undefined, index: number) => { out: Tensor; kv: KeyValue },
  finalNorm?: (h: Tensor) => Tensor,
): LayerStackOutput {
  const hiddenStates: Tensor[] = [];
  const newKv: KeyValue[] = [];
  const attentions: Tensor[] = [], crossAttentions: Tensor[] = [];
  const capture = inputs.outputAttentions === true;
  let i = 0;
  for (const layer of layers) {
    hiddenStates.push(h);
    const index = i;
    const { result: r, captured } = captureAttentions(capture, () => step(layer, h, past?.[index], index));
    for (const c of captured) (c.cross ? crossAttentions : attentions).push(c.weights);
    i++;
    h = r.out;
    newKv.push(r.kv);
  }
  if (finalNorm) h = finalNorm(h);
  hiddenStates.push(h);
  const out: LayerStackOutput = { lastHiddenState: h };
  if (inputs.outputHiddenStates) out.hiddenStates = hiddenStates;
  if (capture) {
    out.attentions = attentions;
    if (crossAttentions.length > 0) out.crossAttentions = crossAttentions;
  }
  if (inputs.useCache) out.pastKeyValues = newKv;
  return out;
}
