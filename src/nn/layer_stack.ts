// A stack of transformer layers run as HF runs it, collecting hidden states and the new KV cache.
import { Tensor } from "../tensor/tensor.js";
import type { KeyValue } from "./kv_cache.js";

/** What the stack returns: the shape of a base model's output (ModelOutput). */
export interface LayerStackOutput {
  lastHiddenState: Tensor;
  /** Each layer's input followed by the final output (as HF's hidden_states); with outputHiddenStates. */
  hiddenStates?: Tensor[];
  /** Per layer, its keys and values including the past; with useCache. */
  pastKeyValues?: KeyValue[];
}

/**
 * Runs a stack of layers as HF does: hidden states are each layer's input and then the final output
 * (after `finalNorm`, for decoders); the new key/value cache is collected when `useCache` is set.
 * Each layer is called through its own forward, so wrappers (gradient checkpointing) still apply.
 */
export function runLayerStack<L>(
  layers: Iterable<L>, h: Tensor, past: KeyValue[] | undefined, inputs: { outputHiddenStates?: boolean; useCache?: boolean },
  step: (layer: L, h: Tensor, past: KeyValue | undefined, index: number) => { out: Tensor; kv: KeyValue },
  finalNorm?: (h: Tensor) => Tensor,
): LayerStackOutput {
  const hiddenStates: Tensor[] = [];
  const newKv: KeyValue[] = [];
  let i = 0;
  for (const layer of layers) {
    hiddenStates.push(h);
    const r = step(layer, h, past?.[i], i);
    i++;
    h = r.out;
    newKv.push(r.kv);
  }
  if (finalNorm) h = finalNorm(h);
  hiddenStates.push(h);
  const out: LayerStackOutput = { lastHiddenState: h };
  if (inputs.outputHiddenStates) out.hiddenStates = hiddenStates;
  if (inputs.useCache) out.pastKeyValues = newKv;
  return out;
}
