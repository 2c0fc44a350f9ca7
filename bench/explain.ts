// Suite "explain": Integrated Gradients (50 Gauss–Legendre points in one batch, one backward) and
// gradient × input on one SST-2 sentence through llama-mini-en as a sequence classifier (the demo's
// model, seeded new head), against the same computation in PyTorch on the same folder (bench/torch_ig.py).
import { join } from "node:path";
import type { BenchOptions, BenchRow, Suite } from "./common.js";
import { benchSrc, repoRoot, timeMs, timeRow } from "./common.js";
import { benchThreads } from "./lora.js";
import { runTorchScript } from "./torch.js";
import { AutoModelForSequenceClassification } from "../src/models/auto.js";
import { AutoTokenizer } from "../src/io/tokenizer.js";
import { manualSeed } from "../src/tensor/random.js";
import { gradientXInput, integratedGradients, type ExplainableModel } from "../src/explain/index.js";

const TEXT = "it 's a charming and often affecting journey . ";

export const explainSuite: Suite = {
  name: "explain",
  description: "Integrated Gradients (n_steps 50, one batch) and gradient × input on one SST-2 sentence, llama-mini-en seq-cls, vs PyTorch",
  async run(opts: BenchOptions, emit: (r: BenchRow) => void): Promise<void> {
    const threads = await benchThreads(opts);
    const dir = join(repoRoot, "models", "llama-mini-en");
    manualSeed(0);
    const model = (await AutoModelForSequenceClassification.fromPretrained(dir, { numLabels: 2, log: () => {} })) as unknown as ExplainableModel;
    const tok = await AutoTokenizer.fromPretrained(dir);
    const ids = tok.encode(TEXT), keep = new Set(tok.allSpecialIds);
    const reps = opts.quick ? 2 : 5, nSteps = 50;
    const target = { kind: "sequence-classification" as const, label: 1 };
    if (!opts.json) console.log(`# explain: ${ids.length} tokens, llama-mini-en seq-cls; threads ${threads}; reference = PyTorch, same folder`);
    const ig = timeMs(() => integratedGradients(model, { inputIds: ids }, { target, nSteps, keepTokenIds: [...keep] }), reps, 1);
    const gxi = timeMs(() => gradientXInput(model, { inputIds: ids }, { target }), reps, 1);
    const ref = runTorchScript(join(benchSrc, "torch_ig.py"), [], {
      model: dir, ids, baseline_ids: ids.map((id) => (keep.has(id) ? id : 0)), n_steps: nSteps, reps, threads,
    })?.[0] as { ig: number; grad_x_input: number } | undefined;
    emit(timeRow("explain", `integrated gradients n_steps ${nSteps} T${ids.length} t${threads}`, ig, ref?.ig ?? null));
    emit(timeRow("explain", `gradient x input T${ids.length} t${threads}`, gxi, ref?.grad_x_input ?? null));
  },
};
