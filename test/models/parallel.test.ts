// Tensor parallelism at the model level with one rank (LocalGroup): the parallel model (built
// without full-size allocation, read slice by slice) gives the same logits, loss and gradients as
// the ordinary model; the clear errors. The 2-rank equivalence is in test/dist/tp.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { LocalGroup, type ProcessGroup } from "../../src/dist/index.js";
import { AutoModelForCausalLM, AutoModelForSequenceClassification } from "../../src/models/auto.js";
import { LlamaForCausalLM } from "../../src/models/llama.js";
import { parallelizeModel } from "../../src/models/parallel.js";
import { ColumnParallelLinear, RowParallelLinear, VocabParallelEmbedding, tensorParallelGroupOf } from "../../src/nn/parallel/index.js";
import { GPT2LMHeadModel } from "../../src/models/gpt2.js";
import { GOLDEN } from "./helpers.js";
import { assertClose } from "../helpers/gradcheck.js";

const LLAMA = join(GOLDEN, "llama-tiny-random"), BERT = join(GOLDEN, "bert-tiny-random");
const ids = [[1, 5, 9, 33, 7, 2], [1, 200, 17, 4, 0, 0]];
const mask = [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]];

test("Llama with tensorParallel (one rank): same logits, loss and gradients as the plain model; parallel layers in place", async () => {
  const g = new LocalGroup();
  const plain = await AutoModelForCausalLM.fromPretrained(LLAMA);
  const tp = await AutoModelForCausalLM.fromPretrained(LLAMA, { tensorParallel: g });
  assert.ok(tp instanceof LlamaForCausalLM);
  assert.equal(tensorParallelGroupOf(tp), g);
  const layer = tp.model.layers.get(0);
  assert.ok(layer.self_attn.q_proj instanceof ColumnParallelLinear);
  assert.ok(layer.self_attn.o_proj instanceof RowParallelLinear);
  assert.ok(layer.mlp.down_proj instanceof RowParallelLinear);
  assert.ok(tp.model.embed_tokens instanceof VocabParallelEmbedding);
  assert.ok(tp.lm_head instanceof ColumnParallelLinear);
  assert.deepEqual([...tp.stateDict().keys()], [...plain.stateDict().keys()], "HF names kept");
  for (const m of [plain, tp]) m.train();
  const a = plain.forward({ inputIds: ids, attentionMask: mask, labels: ids });
  const b = tp.forward({ inputIds: ids, attentionMask: mask, labels: ids });
  assertClose(b.logits!.f32(), a.logits!.f32(), 1e-5, 0, "logits");
  assertClose([b.loss!.item()], [a.loss!.item()], 1e-5, 0, "loss");
  a.loss!.backward();
  b.loss!.backward();
  const pa = plain.stateDict(), pb = tp.stateDict();
  for (const [n, p] of pa) assertClose(pb.get(n)!.grad!.f32(), p.grad!.f32(), 1e-5, 1e-4, `grad ${n}`);
});

test("BERT with tensorParallel (one rank): same logits and loss as the plain model", async () => {
  const g = new LocalGroup();
  const plain = await AutoModelForSequenceClassification.fromPretrained(BERT, { log: () => {} });
  const tp = await AutoModelForSequenceClassification.fromPretrained(BERT, { tensorParallel: g, log: () => {} });
  const inp = { inputIds: [[2, 15, 33, 3], [2, 40, 3, 0]], attentionMask: [[1, 1, 1, 1], [1, 1, 1, 0]], labels: [1, 0] };
  const a = plain.forward(inp), b = tp.forward(inp);
  assertClose(b.logits!.f32(), a.logits!.f32(), 1e-5, 0, "logits");
  assertClose([b.loss!.item()], [a.loss!.item()], 1e-5, 0, "loss");
});

test("parallelizeModel: heads not divisible by the group size, an unsupported model type and a second call are clear errors", async () => {
  const three = { worldSize: 3, rank: 0 } as ProcessGroup;
  const m = await AutoModelForCausalLM.fromPretrained(LLAMA);
  assert.throws(() => parallelizeModel(m, three), /num_attention_heads \(4\) must be divisible by tensor_parallel_size \(3\)/);
  const kv = await AutoModelForCausalLM.fromPretrained(LLAMA);
  assert.throws(() => parallelizeModel(kv, { worldSize: 4, rank: 0 } as ProcessGroup), /num_key_value_heads \(2\) must be divisible by tensor_parallel_size \(4\)/);
  const gpt2 = await GPT2LMHeadModel.fromPretrained(join(GOLDEN, "gpt2-tiny-random"));
  assert.throws(() => parallelizeModel(gpt2, new LocalGroup()), /tensor parallelism supports model types llama, mistral, qwen2, bert, roberta, not 'gpt2'/);
  const once = parallelizeModel(await AutoModelForCausalLM.fromPretrained(LLAMA), new LocalGroup());
  assert.throws(() => parallelizeModel(once, new LocalGroup()), /already tensor-parallel/);
});
