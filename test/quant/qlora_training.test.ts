// QLoRA on CPU: LoRA training on NF4 / int8 (and NF4 + bf16 compute) bases of llama-tiny and
// bert-tiny follows the f32-base run's loss curve within the quantisation's perturbation, and
// writes an adapter with the same keys, shapes and config as the f32 run, which loads onto the
// full-precision base. Also: config validation, prepareModelForKbitTraining, merge reports.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { AutoModelForCausalLM, AutoModelForSequenceClassification } from "../../src/models/auto.js";
import { BitsAndBytesConfig } from "../../src/quant/bnb_config.js";
import { QuantLinear } from "../../src/nn/quant_linear.js";
import { Linear } from "../../src/nn/layers.js";
import { LoraConfig } from "../../src/peft/lora/config.js";
import { getPeftModel, PeftModel } from "../../src/peft/peft_model.js";
import { AdamW } from "../../src/train/optim/adamw.js";
import { prepareModelForKbitTraining } from "../../src/train/kbit_training.js";
import { manualSeed } from "../../src/tensor/random.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { noGrad } from "../../src/tensor/autograd.js";
import { loadSafetensors } from "../../src/io/safetensors.js";
import { ConfigError } from "../../src/tensor/errors.js";
import { GOLDEN, tmp } from "../peft/helpers.js";

const LLAMA = join(GOLDEN, "llama-tiny-random"), BERT = join(GOLDEN, "bert-tiny-random");
const IDS = [[1, 5, 9, 22, 7, 3, 40, 11], [1, 30, 2, 17, 8, 19, 25, 6]];
const STEPS = 25;

type Kind = "causal" | "seqcls";
interface Run { losses: number[]; dir: string; model: PeftModel }

async function trainRun(kind: Kind, quant: BitsAndBytesConfig | null, bf16Base = false): Promise<Run> {
  manualSeed(1);
  const opts = quant ? { quantizationConfig: quant } : bf16Base ? { frozenDtype: "bf16" as const } : {};
  const base = kind === "causal" ? await AutoModelForCausalLM.fromPretrained(LLAMA, opts) : await AutoModelForSequenceClassification.fromPretrained(BERT, { ...opts, numLabels: 2, log: () => {} });
  if (quant) prepareModelForKbitTraining(base, { useGradientCheckpointing: kind === "causal" });
  const pm = getPeftModel(base, new LoraConfig({ r: 4, loraAlpha: 8, targetModules: "all-linear", taskType: kind === "causal" ? "CAUSAL_LM" : "SEQ_CLS" }));
  const opt = new AdamW(pm.parameters().filter((p) => p.requiresGrad), { lr: 2e-2 });
  const inputIds = Tensor.from(IDS).to("i32");
  const labels = kind === "causal" ? inputIds : Tensor.from([1, 0]).to("i32");
  pm.train();
  const losses: number[] = [];
  for (let s = 0; s < STEPS; s++) {
    opt.zeroGrad();
    const out = pm.forward({ inputIds, labels } as never) as { loss: Tensor };
    out.loss.backward();
    opt.step();
    losses.push(out.loss.item());
  }
  const dir = tmp("qlora-");
  await pm.savePretrained(dir);
  return { losses, dir, model: pm };
}

function adapterKeys(dir: string): string[] {
  return [...loadSafetensors(join(dir, "adapter_model.safetensors"))].map(([k, t]) => `${k} [${t.shape}] ${t.dtype}`).sort();
}

for (const kind of ["causal", "seqcls"] as const) {
  test(`LoRA on ${kind === "causal" ? "llama-tiny" : "bert-tiny"}: NF4 and int8 bases follow the f32-base loss curve; the adapters match the f32 run's format`, async (t) => {
    const ref = await trainRun(kind, null);
    const bf16 = await trainRun(kind, null, true); // the bf16-stored base (frozenDtype), the comparison
    const cases = [
      { name: "int8", cfg: new BitsAndBytesConfig({ loadIn8bit: true }), tol: 0.02 },
      { name: "nf4", cfg: new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: "nf4" }), tol: 0.15 },
      ...(kind === "causal" ? [{ name: "nf4+dq bf16", cfg: new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: "nf4", bnb4bitUseDoubleQuant: true, bnb4bitComputeDtype: "bfloat16" }), tol: 0.15 }] : []),
    ];
    assert.ok(ref.losses[STEPS - 1] < 0.7 * ref.losses[0], `the f32 run learns: ${ref.losses[0]} → ${ref.losses[STEPS - 1]}`);
    const refConfig = JSON.parse(readFileSync(join(ref.dir, "adapter_config.json"), "utf8"));
    for (const c of cases) {
      const run = await trainRun(kind, c.cfg);
      const quantised = run.model.namedModules().filter(([, m]) => m instanceof QuantLinear).length;
      assert.ok(quantised >= (kind === "causal" ? 14 : 12), `${c.name}: ${quantised} quantised layers`);
      const gap = Math.max(...run.losses.map((l, i) => Math.abs(l - ref.losses[i])));
      const gapBf16 = Math.max(...run.losses.map((l, i) => Math.abs(l - bf16.losses[i])));
      t.diagnostic(`${c.name}: max loss gap ${gap.toFixed(4)} vs the f32 base, ${gapBf16.toFixed(4)} vs the bf16 base; final ${run.losses[STEPS - 1].toFixed(4)} vs f32 ${ref.losses[STEPS - 1].toFixed(4)}, bf16 ${bf16.losses[STEPS - 1].toFixed(4)} (start ${ref.losses[0].toFixed(4)})`);
      // the bf16 base is itself a perturbation of the f32 one (bf16 weights): the bound adds its own gap
      const bf16Gap = Math.max(...bf16.losses.map((l, i) => Math.abs(l - ref.losses[i])));
      assert.ok(gapBf16 <= c.tol + bf16Gap, `${c.name}: max |loss − bf16-base loss| ${gapBf16.toFixed(4)} (> ${c.tol} + ${bf16Gap.toFixed(4)})`);
      assert.ok(gap <= c.tol, `${c.name}: max |loss − f32 loss| over ${STEPS} steps is ${gap.toFixed(4)} (> ${c.tol}); f32 ${ref.losses.map((l) => l.toFixed(3))} vs ${run.losses.map((l) => l.toFixed(3))}`);
      assert.ok(run.losses[STEPS - 1] < 0.7 * run.losses[0], `${c.name} learns`);
      assert.deepEqual(adapterKeys(run.dir), adapterKeys(ref.dir), `${c.name}: adapter tensors`);
      assert.deepEqual(JSON.parse(readFileSync(join(run.dir, "adapter_config.json"), "utf8")), refConfig, `${c.name}: adapter_config.json`);
      // the adapter trained on the quantised base loads onto the full-precision base with its trained values
      const full = kind === "causal" ? await AutoModelForCausalLM.fromPretrained(LLAMA) : await AutoModelForSequenceClassification.fromPretrained(BERT, { numLabels: 2, log: () => {} });
      const loaded = await PeftModel.fromPretrained(full, run.dir);
      const trained = new Map(run.model.namedParameters());
      for (const [n, p] of loaded.namedParameters()) {
        if (!n.includes("lora_")) continue;
        assert.deepEqual(Array.from(p.f32()), Array.from(trained.get(n)!.f32()), `${c.name}: ${n} loaded onto the f32 base`);
      }
    }
  });
}

test("merge onto a quantised base: full precision by default with the re-quantisation error reported; requantize keeps the format", async () => {
  for (const mode of ["dequantize", "requantize"] as const) {
    manualSeed(3);
    const base = await AutoModelForCausalLM.fromPretrained(LLAMA, { quantizationConfig: new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: "nf4" }) });
    const pm = getPeftModel(base, new LoraConfig({ r: 4, targetModules: ["q_proj", "v_proj"], initLoraWeights: false }));
    const ids = Tensor.from([[1, 5, 9, 22]]).to("i32");
    const before = noGrad(() => (pm.forward({ inputIds: ids } as never) as { logits: Tensor }).logits.f32());
    const merged = pm.mergeAndUnload({ quantized: mode });
    const report = pm.quantMergeReport;
    assert.equal(report.length, 4, "q_proj and v_proj of 2 layers");
    for (const e of report) {
      assert.equal(e.format, "nf4");
      assert.ok(e.maxAbsError > 0 && e.relFrobeniusError > 0.01 && e.relFrobeniusError < 0.2, `${e.module}: ${JSON.stringify(e)}`);
    }
    const after = noGrad(() => (merged.forward({ inputIds: ids } as never) as { logits: Tensor }).logits.f32());
    let diff = 0;
    for (let i = 0; i < before.length; i++) diff = Math.max(diff, Math.abs(before[i] - after[i]));
    const ql = merged.namedModules().filter(([, m]) => m instanceof QuantLinear).length;
    if (mode === "dequantize") {
      assert.equal(ql, 0, "no quantised layer left");
      assert.ok(merged.getSubmodule("model.layers.0.self_attn.q_proj") instanceof Linear);
      assert.ok(diff < 1e-4, `full-precision merge keeps the logits (${diff})`);
    } else {
      assert.equal(ql, 14, "every quantised layer stays quantised");
      assert.ok(diff > 1e-4, `re-quantising changes the logits (${diff})`);
    }
  }
});

test("BitsAndBytesConfig: HF defaults, snake_case dicts, and errors naming the field", () => {
  const d = new BitsAndBytesConfig({ loadIn4bit: true });
  assert.equal(d.bnb4bitQuantType, "fp4");
  assert.equal(d.bnb4bitComputeDtype, "f32");
  assert.equal(d.bnb4bitUseDoubleQuant, false);
  assert.equal(d.llmInt8SkipModules, null);
  assert.equal(d.format, "fp4");
  const h = BitsAndBytesConfig.fromDict({ quant_method: "bitsandbytes", load_in_4bit: true, bnb_4bit_quant_type: "nf4", bnb_4bit_compute_dtype: "bfloat16", bnb_4bit_use_double_quant: true, bnb_4bit_quant_storage: "uint8" });
  assert.equal(h.format, "nf4");
  assert.equal(h.computeDtype, "bf16");
  assert.deepEqual(BitsAndBytesConfig.fromDict(h.toDict()).toDict(), h.toDict());
  const bad: [() => unknown, RegExp][] = [
    [() => new BitsAndBytesConfig({ loadIn4bit: true, loadIn8bit: true }), /loadIn4bit and loadIn8bit are both true/],
    [() => new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: "int4" as never }), /field 'bnb4bitQuantType' must be "fp4" or "nf4", got "int4"/],
    [() => BitsAndBytesConfig.fromDict({ load_in_4bit: true, bnb_4bit_compute_dtype: "float16" }), /field 'bnb_4bit_compute_dtype' must be .*got "float16"/],
    [() => BitsAndBytesConfig.fromDict({ load_in_8bit: "yes" }), /field 'load_in_8bit' must be a boolean, got "yes"/],
    [() => BitsAndBytesConfig.fromDict({ load_in_4bit: true, bnb_4bit_quant: "nf4" }), /unknown field 'bnb_4bit_quant'/],
    [() => BitsAndBytesConfig.fromDict({ quant_method: "gptq" }), /field 'quant_method' must be "bitsandbytes"/],
    [() => new BitsAndBytesConfig({ llmInt8SkipModules: "lm_head" as never }), /field 'llmInt8SkipModules' must be a list of module names/],
  ];
  for (const [f, re] of bad) assert.throws(f, (e: Error) => e instanceof ConfigError && re.test(e.message), String(re));
});

test("quantising at load: heads and llm_int8_skip_modules stay full precision; prepareModelForKbitTraining freezes and checkpoints", async () => {
  const m = await AutoModelForCausalLM.fromPretrained(LLAMA, { quantizationConfig: { load_in_8bit: true, llm_int8_skip_modules: ["lm_head", "down_proj"] } });
  const kinds = new Map(m.namedModules().map(([n, x]) => [n, x.constructor.name]));
  assert.equal(kinds.get("lm_head"), "Linear");
  assert.equal(kinds.get("model.layers.1.mlp.down_proj"), "Linear");
  assert.equal(kinds.get("model.layers.1.mlp.up_proj"), "QuantLinear");
  const p = prepareModelForKbitTraining(m);
  assert.equal(p.checkpointedBlocks, 2);
  assert.ok(m.parameters().every((t) => !t.requiresGrad && t.dtype === "f32"));
  const s = await AutoModelForSequenceClassification.fromPretrained(BERT, { numLabels: 2, log: () => {}, quantizationConfig: new BitsAndBytesConfig({ loadIn4bit: true }) });
  assert.ok(s.getSubmodule("classifier") instanceof Linear, "the classification head is not quantised");
  assert.ok(s.getSubmodule("bert.encoder.layer.0.attention.self.query") instanceof QuantLinear);
});

test("other adapter methods wrap a QuantLinear too: IA3, LoHa, LoKr, VeRA, AdaLoRA train and merge on an NF4 base", async () => {
  const { IA3Config } = await import("../../src/peft/ia3/index.js");
  const { LoHaConfig } = await import("../../src/peft/loha/index.js");
  const { LoKrConfig } = await import("../../src/peft/lokr/index.js");
  const { VeraConfig } = await import("../../src/peft/vera/index.js");
  const { AdaLoraConfig } = await import("../../src/peft/adalora/index.js");
  const ids = Tensor.from([[1, 5, 9, 22]]).to("i32");
  const cfgs = [
    new IA3Config({ targetModules: ["k_proj", "v_proj", "down_proj"], feedforwardModules: ["down_proj"] }),
    new LoHaConfig({ r: 2, targetModules: ["q_proj"] }), new LoKrConfig({ r: 2, targetModules: ["q_proj"] }),
    new VeraConfig({ r: 4, targetModules: ["q_proj", "v_proj"] }), new AdaLoraConfig({ r: 4, targetModules: ["q_proj"], totalStep: 10 }),
  ];
  for (const c of cfgs) {
    const m = await AutoModelForCausalLM.fromPretrained(LLAMA, { quantizationConfig: new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: "nf4" }) });
    const pm = getPeftModel(m, c);
    const out = pm.forward({ inputIds: ids, labels: ids } as never) as { loss: Tensor };
    out.loss.backward();
    const trainable = pm.namedParameters().filter(([, p]) => p.requiresGrad);
    assert.ok(trainable.length > 0 && trainable.every(([, p]) => p.grad), `${c.peftType}: every trainable tensor gets a gradient`);
    const merged = pm.mergeAndUnload();
    assert.ok(pm.quantMergeReport.length > 0, `${c.peftType}: merge report`);
    assert.equal(merged.namedModules().filter(([, x]) => x instanceof QuantLinear).length, 0, `${c.peftType}: merged to full precision`);
  }
});
