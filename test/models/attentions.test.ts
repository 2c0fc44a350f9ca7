// outputAttentions / outputHiddenStates on every family against transformers (eager attention,
// output_attentions=True, output_hidden_states=True): test/fixtures/attentions, made by
// scripts/fixtures/make_attention_goldens.py.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { noGrad } from "../../src/tensor/autograd.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { loadSafetensors } from "../../src/io/safetensors.js";
import { AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoModelForSequenceClassification } from "../../src/models/auto.js";
import type { ModelOutput } from "../../src/models/modeling_utils.js";
import type { Seq2SeqOutput } from "../../src/models/seq2seq.js";
import { setAttentionKernels } from "../../src/ops/attention.js";
import { assertClose } from "./helpers.js";

const DIR = join(import.meta.dirname, "..", "fixtures", "attentions");
const ROOT = join(import.meta.dirname, "..", "..");
const TOL = { abs: 1e-5, rel: 0 };

function golden(c: string): { model: string; inputs: Record<string, number[][]>; t: Map<string, Tensor> } {
  const j = JSON.parse(readFileSync(join(DIR, `${c}.json`), "utf8"));
  return { model: join(ROOT, j.model), inputs: j.inputs, t: loadSafetensors(join(DIR, `${c}.safetensors`)) };
}

function checkList(actual: Tensor[] | undefined, t: Map<string, Tensor>, prefix: string, c: string): void {
  const n = [...t.keys()].filter((k) => k.startsWith(`${prefix}.`)).length;
  assert.ok(n > 0, `${c}: golden has ${prefix}`);
  assert.ok(actual, `${c}: ${prefix} returned`);
  assert.equal(actual!.length, n, `${c}: ${prefix} count`);
  actual!.forEach((a, i) => assertClose(a, t.get(`${prefix}.${i}`)!, `${c} ${prefix}[${i}]`, TOL));
}

const single: [string, { fromPretrained(p: string, o?: object): Promise<unknown> }][] = [
  ["bert", AutoModelForSequenceClassification], ["roberta", AutoModelForSequenceClassification],
  ["distilbert", AutoModelForSequenceClassification], ["gpt2", AutoModelForCausalLM], ["llama", AutoModelForCausalLM],
  ["qwen2", AutoModelForCausalLM], ["mistral", AutoModelForCausalLM],
];

for (const [c, Auto] of single) {
  test(`${c}: outputAttentions and outputHiddenStates equal transformers' (≤ 1e-5), whichever kernel is the default`, async () => {
    const g = golden(c);
    const model = (await Auto.fromPretrained(g.model, { log: () => {} })) as { forward(i: object): ModelOutput };
    const inputs = { inputIds: g.inputs.input_ids, attentionMask: g.inputs.attention_mask };
    for (const kernels of ["flash", "eager"] as const) {
      setAttentionKernels(kernels);
      try {
        const out = noGrad(() => model.forward({ ...inputs, outputAttentions: true, outputHiddenStates: true }));
        checkList(out.attentions, g.t, "attentions", `${c} (${kernels})`);
        checkList(out.hiddenStates, g.t, "hidden_states", `${c} (${kernels})`);
        assertClose(out.logits!, g.t.get("logits")!, `${c} logits`, TOL);
        for (const a of out.attentions!) assert.equal(a.requiresGrad, false);
      } finally {
        setAttentionKernels("auto");
      }
    }
    const plain = noGrad(() => model.forward(inputs));
    assert.equal(plain.attentions, undefined, "no attentions unless asked");
  });
}

for (const c of ["bart", "marian", "t5"]) {
  test(`${c}: encoder, decoder and cross attentions and hidden states equal transformers' (≤ 1e-5)`, async () => {
    const g = golden(c);
    const model = await AutoModelForSeq2SeqLM.fromPretrained(g.model, { log: () => {} });
    const out: Seq2SeqOutput = noGrad(() => model.forward({
      inputIds: g.inputs.input_ids, attentionMask: g.inputs.attention_mask, decoderInputIds: g.inputs.decoder_input_ids,
      decoderAttentionMask: g.inputs.decoder_attention_mask, outputAttentions: true, outputHiddenStates: true,
    }));
    checkList(out.encoderAttentions, g.t, "encoder_attentions", c);
    checkList(out.decoderAttentions, g.t, "decoder_attentions", c);
    checkList(out.crossAttentions, g.t, "cross_attentions", c);
    checkList(out.encoderHiddenStates, g.t, "encoder_hidden_states", c);
    checkList(out.decoderHiddenStates, g.t, "decoder_hidden_states", c);
    assert.equal(out.attentions, out.decoderAttentions);
    assertClose(out.logits, g.t.get("logits")!, `${c} logits`, { abs: 1e-5, rel: 1e-4 });
  });
}
