// The ops composed into real HF blocks and compared with PyTorch outputs and gradients:
// a Llama decoder (rmsNorm, rotary, GQA causal attention with padding, silu MLP, shifted CE) and
// BERT's embedding block (embedding + layerNorm). This checks op semantics end to end, not models.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Tensor } from "../../src/tensor/tensor.js";
import * as ops from "../../src/ops/index.js";
import { assertClose } from "../helpers/gradcheck.js";
import { readSafetensors, RawTensor } from "../helpers/safetensors_min.js";

const golden = (p: string) => fileURLToPath(new URL(`../../../shared/golden/${p}`, import.meta.url));
const asT = (r: RawTensor) => new Tensor(Float32Array.from(r.data), r.shape);

test("llama-tiny-random: decoder built from ops matches HF logits, loss and every parameter gradient", () => {
  const dir = "llama-tiny-random";
  const cfg = JSON.parse(readFileSync(golden(`${dir}/config.json`), "utf8"));
  const G = JSON.parse(readFileSync(golden(`${dir}/golden.json`), "utf8"));
  const raw = readSafetensors(golden(`${dir}/model.safetensors`));
  const P = new Map<string, Tensor>();
  for (const [k, v] of raw) P.set(k, asT(v).requiresGrad_());
  const w = (k: string) => { const t = P.get(k); assert.ok(t, `missing ${k}`); return t!; };
  const ids: number[][] = G.inputs.input_ids, mask: number[][] = G.inputs.attention_mask;
  const B = ids.length, T = ids[0].length, H = cfg.num_attention_heads, Hkv = cfg.num_key_value_heads, D = cfg.head_dim;
  const { cos, sin } = ops.rotaryTables([...Array(T).keys()], D, cfg.rope_parameters.rope_theta);
  let h = ops.embedding(w("model.embed_tokens.weight"), ids);
  const hidden: Tensor[] = [h];
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    const x = ops.rmsNorm(h, w(p + "input_layernorm.weight"), cfg.rms_norm_eps);
    const heads = (name: string, n: number) => ops.linear(x, w(p + `self_attn.${name}.weight`)).reshape([B, T, n, D]).transpose(1, 2);
    const q = ops.applyRotary(heads("q_proj", H), cos, sin);
    const k = ops.applyRotary(heads("k_proj", Hkv), cos, sin);
    const v = heads("v_proj", Hkv);
    const a = ops.scaledDotProductAttention(q, k, v, { keyMask: mask, causal: true }).transpose(1, 2).reshape([B, T, H * D]);
    h = ops.add(h, ops.linear(a, w(p + "self_attn.o_proj.weight")));
    const y = ops.rmsNorm(h, w(p + "post_attention_layernorm.weight"), cfg.rms_norm_eps);
    const mlp = ops.mul(ops.silu(ops.linear(y, w(p + "mlp.gate_proj.weight"))), ops.linear(y, w(p + "mlp.up_proj.weight")));
    h = ops.add(h, ops.linear(mlp, w(p + "mlp.down_proj.weight")));
    hidden.push(h);
  }
  const normed = ops.rmsNorm(h, w("model.norm.weight"), cfg.rms_norm_eps);
  const logits = ops.linear(normed, w("lm_head.weight"));
  const out = readSafetensors(golden(`${dir}/golden_outputs.safetensors`));
  // padded positions are compared too: they depend on the finfo.min mask semantics
  assertClose(hidden[1].f32(), out.get("hidden_states.1")!.data, 1e-5, 1e-4, "hidden_states.1");
  assertClose(normed.f32(), out.get("last_hidden_state_after_final_norm")!.data, 1e-5, 1e-4, "final norm");
  assertClose(logits.f32(), out.get("logits")!.data, 1e-5, 1e-4, "logits");
  // causal-LM loss: logits[:, :-1] against labels[:, 1:], −100 ignored
  const labels: number[][] = G.inputs.labels;
  const shifted = labels.map((r) => r.slice(1));
  const loss = ops.crossEntropy(logits.slice(1, 0, T - 1), shifted);
  assertClose([loss.item()], [G.loss], 1e-5, 1e-4, "loss");
  loss.backward();
  const grads = readSafetensors(golden(`${dir}/golden_grads.safetensors`));
  assert.equal(grads.size, P.size);
  for (const [k, g] of grads) assertClose(w(k).grad!.f32(), g.data, 1e-5, 1e-3, `grad ${k}`);
});

test("bert-tiny-random: embeddings block (word + position + type, LayerNorm eps 1e-12) matches HF hidden_states.0", () => {
  const dir = "bert-tiny-random";
  const G = JSON.parse(readFileSync(golden(`${dir}/golden.json`), "utf8"));
  const raw = readSafetensors(golden(`${dir}/model.safetensors`));
  const w = (k: string) => asT(raw.get(k)!);
  const ids: number[][] = G.inputs.input_ids, types: number[][] = G.inputs.token_type_ids;
  const T = ids[0].length;
  const pos = ids.map(() => [...Array(T).keys()]);
  const e = ops.add(ops.add(ops.embedding(w("bert.embeddings.word_embeddings.weight"), ids),
    ops.embedding(w("bert.embeddings.position_embeddings.weight"), pos)),
  ops.embedding(w("bert.embeddings.token_type_embeddings.weight"), types));
  const h0 = ops.layerNorm(e, w("bert.embeddings.LayerNorm.weight"), w("bert.embeddings.LayerNorm.bias"), 1e-12);
  const out = readSafetensors(golden(`${dir}/golden_outputs.safetensors`));
  assertClose(h0.f32(), out.get("hidden_states.0")!.data, 1e-5, 1e-4, "hidden_states.0");
});

test("bert-tiny-random: encoder built from ops matches HF logits, loss and every parameter gradient", () => {
  const dir = "bert-tiny-random";
  const cfg = JSON.parse(readFileSync(golden(`${dir}/config.json`), "utf8"));
  const G = JSON.parse(readFileSync(golden(`${dir}/golden.json`), "utf8"));
  const raw = readSafetensors(golden(`${dir}/model.safetensors`));
  const P = new Map<string, Tensor>();
  for (const [k, v] of raw) P.set(k, asT(v).requiresGrad_());
  const w = (k: string) => { const t = P.get(k); assert.ok(t, `missing ${k}`); return t!; };
  const lin = (x: Tensor, name: string) => ops.linear(x, w(name + ".weight"), w(name + ".bias"));
  const ln = (x: Tensor, name: string) => ops.layerNorm(x, w(name + ".weight"), w(name + ".bias"), cfg.layer_norm_eps);
  const ids: number[][] = G.inputs.input_ids, types: number[][] = G.inputs.token_type_ids, mask: number[][] = G.inputs.attention_mask;
  const B = ids.length, T = ids[0].length, H = cfg.num_attention_heads, C = cfg.hidden_size, D = C / H;
  const pos = ids.map(() => [...Array(T).keys()]);
  let h = ln(ops.add(ops.add(ops.embedding(w("bert.embeddings.word_embeddings.weight"), ids),
    ops.embedding(w("bert.embeddings.position_embeddings.weight"), pos)),
  ops.embedding(w("bert.embeddings.token_type_embeddings.weight"), types)), "bert.embeddings.LayerNorm");
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `bert.encoder.layer.${l}.`;
    const heads = (name: string) => lin(h, p + "attention.self." + name).reshape([B, T, H, D]).transpose(1, 2);
    const a = ops.scaledDotProductAttention(heads("query"), heads("key"), heads("value"), { keyMask: mask })
      .transpose(1, 2).reshape([B, T, C]);
    h = ln(ops.add(lin(a, p + "attention.output.dense"), h), p + "attention.output.LayerNorm");
    const f = lin(ops.gelu(lin(h, p + "intermediate.dense")), p + "output.dense");
    h = ln(ops.add(f, h), p + "output.LayerNorm");
  }
  const out = readSafetensors(golden(`${dir}/golden_outputs.safetensors`));
  assertClose(h.f32(), out.get("last_hidden_state")!.data, 1e-5, 1e-4, "last_hidden_state");
  const pooled = ops.tanh(lin(h.select(1, 0), "bert.pooler.dense"));
  const logits = lin(pooled, "classifier");
  assertClose(logits.f32(), out.get("logits")!.data, 1e-5, 1e-4, "logits");
  const loss = ops.crossEntropy(logits, G.inputs.labels);
  assertClose([loss.item()], [G.loss], 1e-5, 1e-4, "loss");
  loss.backward();
  const grads = readSafetensors(golden(`${dir}/golden_grads.safetensors`));
  assert.equal(grads.size, P.size);
  for (const [k, g] of grads) assertClose(w(k).grad!.f32(), g.data, 1e-5, 1e-3, `grad ${k}`);
});

test("gpt2-tiny-random: Conv1D blocks with gelu_new and causal + padding attention match HF logits, loss and gradients", () => {
  const dir = "gpt2-tiny-random";
  const cfg = JSON.parse(readFileSync(golden(`${dir}/config.json`), "utf8"));
  const G = JSON.parse(readFileSync(golden(`${dir}/golden.json`), "utf8"));
  const raw = readSafetensors(golden(`${dir}/model.safetensors`));
  const P = new Map<string, Tensor>();
  for (const [k, v] of raw) P.set(k, asT(v).requiresGrad_());
  const w = (k: string) => { const t = P.get(k); assert.ok(t, `missing ${k}`); return t!; };
  // Conv1D stores [in, out]: y = x·W + b
  const conv = (x: Tensor, name: string) => ops.add(ops.matmul(x, w(name + ".weight")), w(name + ".bias"));
  const ln = (x: Tensor, name: string) => ops.layerNorm(x, w(name + ".weight"), w(name + ".bias"), cfg.layer_norm_epsilon);
  const ids: number[][] = G.inputs.input_ids, mask: number[][] = G.inputs.attention_mask;
  const B = ids.length, T = ids[0].length, H = cfg.n_head, C = cfg.n_embd, D = C / H;
  const pos = ids.map(() => [...Array(T).keys()]);
  let h = ops.add(ops.embedding(w("transformer.wte.weight"), ids), ops.embedding(w("transformer.wpe.weight"), pos));
  for (let l = 0; l < cfg.n_layer; l++) {
    const p = `transformer.h.${l}.`;
    const [q, k, v] = ops.split(conv(ln(h, p + "ln_1"), p + "attn.c_attn"), C, 2).map((t) => t.reshape([B, T, H, D]).transpose(1, 2));
    const a = ops.scaledDotProductAttention(q, k, v, { keyMask: mask, causal: true }).transpose(1, 2).reshape([B, T, C]);
    h = ops.add(h, conv(a, p + "attn.c_proj"));
    h = ops.add(h, conv(ops.gelu(conv(ln(h, p + "ln_2"), p + "mlp.c_fc"), "tanh"), p + "mlp.c_proj"));
  }
  h = ln(h, "transformer.ln_f");
  const logits = ops.linear(h, w("transformer.wte.weight")); // tied lm_head
  const out = readSafetensors(golden(`${dir}/golden_outputs.safetensors`));
  assertClose(logits.f32(), out.get("logits")!.data, 1e-5, 1e-4, "logits");
  const shifted = (G.inputs.labels as number[][]).map((r) => r.slice(1));
  const loss = ops.crossEntropy(logits.slice(1, 0, T - 1), shifted);
  assertClose([loss.item()], [G.loss], 1e-5, 1e-4, "loss");
  loss.backward();
  const grads = readSafetensors(golden(`${dir}/golden_grads.safetensors`));
  for (const [k, g] of grads) assertClose(w(k).grad!.f32(), g.data, 1e-5, 1e-3, `grad ${k}`);
});
