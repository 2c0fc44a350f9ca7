// Prompt tuning and prefix tuning with task_type SEQ_2_SEQ_LM against peft 0.21
// (test/fixtures/seq2seq/prompt, made by scripts/fixtures/make_seq2seq_prompt_goldens.py): PEFT's adapter
// loads with PEFT's logits, encoder states, loss and generate ids; the gradients match PEFT's; ours
// saves PEFT's tensor names, shapes and config fields.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { noGrad } from "../../src/tensor/autograd.js";
import { loadSafetensors, readSafetensorsHeader } from "../../src/io/safetensors.js";
import { loadPeftConfig } from "../../src/peft/config.js";
import { PeftModel, getPeftModel } from "../../src/peft/peft_model.js";
import { generate } from "../../src/models/generate.js";
import { AutoModelForSeq2SeqLM } from "../../src/models/auto.js";
import type { Seq2SeqInputs } from "../../src/models/seq2seq.js";
import { GRAD_TOL, assertClose, sortedKeys, tmp } from "./helpers.js";

const FIX = join(import.meta.dirname, "..", "fixtures", "seq2seq");
const PROMPT = join(FIX, "prompt");
const inputs = JSON.parse(readFileSync(join(FIX, "t5-tiny-random", "golden.json"), "utf8")).inputs;
const quiet = { warn: () => {} };
const load = (name: string) => AutoModelForSeq2SeqLM.fromPretrained(join(FIX, name), { log: () => {} });
const TOL = { abs: 1e-5, rel: 1e-5 };
const batch = { inputIds: inputs.input_ids, attentionMask: inputs.attention_mask, labels: inputs.labels };

const CASES = ["t5-prompt-tuning", "bart-prompt-tuning", "marian-prompt-tuning", "t5-prefix-tuning", "t5-v1_1-prefix-projection"];

for (const c of CASES) {
  const g = JSON.parse(readFileSync(join(PROMPT, c, "golden.json"), "utf8"));
  const outs = loadSafetensors(join(PROMPT, c, "golden_outputs.safetensors"));
  const adapter = join(PROMPT, c, "adapter");

  test(`${c}: PEFT's adapter loads with PEFT's logits, encoder states, loss and greedy/beam-3 ids`, async () => {
    const pm = await PeftModel.fromPretrained(await load(g.base), adapter, quiet);
    const out = noGrad(() => pm.forward(batch)) as { logits: never; loss: never; encoderLastHiddenState: never };
    assertClose(out.logits, outs.get("logits")!, "logits", TOL);
    assertClose(out.encoderLastHiddenState, outs.get("encoder_last_hidden_state")!, "encoder_last_hidden_state", TOL);
    assertClose(out.loss, g.loss, "loss", TOL);
    const withMask: Seq2SeqInputs = {
      inputIds: inputs.input_ids, attentionMask: inputs.attention_mask,
      decoderInputIds: g.decoder_input_ids_from_labels, decoderAttentionMask: inputs.decoder_attention_mask,
    };
    const masked = noGrad(() => pm.forward(withMask));
    assertClose(masked.logits!, outs.get("logits_decoder_attention_mask")!, "logits with decoder_attention_mask", TOL);
    const opts = { attentionMask: inputs.attention_mask, maxNewTokens: 8 };
    assert.deepEqual(generate(pm, inputs.input_ids, opts), g.greedy_output_ids, "greedy (KV cache)");
    assert.deepEqual(generate(pm, inputs.input_ids, { ...opts, useCache: false }), g.greedy_output_ids, "greedy (no cache)");
    assert.deepEqual(generate(pm, inputs.input_ids, { ...opts, numBeams: 3 }), g.beam3_output_ids, "beam-3");
    // the adapter switched off gives the base model's logits
    const base = await load(g.base);
    assertClose(noGrad(() => pm.disableAdapter(() => pm.forward(batch))).logits!, noGrad(() => base.forward(batch)).logits, "adapter disabled", { abs: 0, rel: 0 });
  });

  test(`${c}: gradients, trainable count and state-dict names match PEFT's; saved files as PEFT's`, async () => {
    const cfg = loadPeftConfig(adapter, () => {});
    cfg.inferenceMode = false;
    const pm = getPeftModel(await load(g.base), cfg, "default", quiet);
    const weights = loadSafetensors(join(PROMPT, c, "trainable_weights.safetensors"));
    const params = new Map(pm.namedParameters());
    for (const [n, w] of weights) params.get(n)!.data.set(w.f32());
    assert.equal(pm.getNbTrainableParameters()[0], g.trainable_parameters);
    // BART/Marian count differently from PyTorch (final_logits_bias is a frozen parameter here, a buffer
    // there; Marian's sinusoidal tables the other way round), so the whole line is compared on T5 only
    if (g.base.startsWith("t5")) assert.equal(pm.trainableParametersLine(), g.print_trainable_parameters);
    const shapes: Record<string, number[]> = {};
    for (const [k, t] of pm.stateDict()) shapes[k] = t.shape;
    // Marian's sinusoidal tables are computed here, not state (transformers holds them as parameters)
    const want = Object.fromEntries(Object.entries<number[]>(g.state_dict).filter(([k]) => !(g.base.startsWith("marian") && k.endsWith("embed_positions.weight"))));
    assert.deepEqual(sortedKeys(shapes), sortedKeys(want));
    for (const [k, s] of Object.entries(want)) assert.deepEqual(shapes[k], s, k);
    const out = pm.forward(batch);
    assertClose(out.logits!, outs.get("logits")!, "logits (trainable)", TOL);
    out.loss!.backward();
    const grads = loadSafetensors(join(PROMPT, c, "golden_grads.safetensors"));
    assert.deepEqual(sortedKeys(grads), [...g.grad_names].sort());
    for (const [k, want] of grads) assertClose(params.get(k)!.grad!, want, `grad ${k}`, GRAD_TOL);
    for (const [n, p] of params) if (!p.requiresGrad) assert.equal(p.grad, null, `frozen ${n} has no gradient`);

    const dir = tmp("s2s-prompt-");
    await pm.savePretrained(dir);
    const h1 = readSafetensorsHeader(join(dir, "adapter_model.safetensors")), h2 = readSafetensorsHeader(join(adapter, "adapter_model.safetensors"));
    assert.deepEqual([...h1.tensors.keys()].sort(), [...h2.tensors.keys()].sort());
    for (const [k, e] of h2.tensors) assert.deepEqual([h1.tensors.get(k)!.shape, h1.tensors.get(k)!.dtype], [e.shape, e.dtype], k);
    const c1 = JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8"));
    const c2 = JSON.parse(readFileSync(join(adapter, "adapter_config.json"), "utf8"));
    for (const k of Object.keys(g.config)) assert.deepEqual(c1[k], g.config[k], `config ${k}`);
    delete c1.base_model_name_or_path;
    delete c2.base_model_name_or_path;
    assert.deepEqual(c1, c2, "adapter_config.json field for field");
    // and what we saved loads back with the same logits
    const back = await PeftModel.fromPretrained(await load(g.base), dir, quiet);
    assertClose(noGrad(() => back.forward(batch)).logits!, outs.get("logits")!, "our saved adapter", TOL);
  });
}
