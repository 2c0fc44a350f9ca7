// The model card of a DP-SGD run: README.md next to the saved adapter/model states the privacy
// guarantee it was trained under (ε, δ, σ, C, q, steps, accountant, clipping, sampling), from
// trainer_state.json's "dp" (TrainerDp.stateJSON). An existing README.md keeps its text; its
// "## Differential privacy" section is replaced (or appended).

import { getFiles } from "../../platform/files.js";
import { join } from "../../platform/paths.js";
import { atomicWriteFile } from "../../io/fs.js";

const HEADING = "## Differential privacy (DP-SGD)";

const fmt = (v: unknown) => (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toPrecision(6).replace(/\.?0+$/, "")) : String(v));

/** The markdown section for a run's DP state. */
export function dpModelCardSection(dp: Record<string, unknown>): string {
  const rows: [string, unknown][] = [
    ["ε (epsilon spent)", dp.epsilon], ["δ (delta)", dp.delta], ["σ (noise multiplier)", dp.noise_multiplier], ["C (per-sample clipping norm)", dp.max_grad_norm],
    ["q (sample rate)", dp.sample_rate], ["expected batch size", dp.expected_batch_size], ["steps", dp.steps], ["accountant", dp.accountant],
    ["clipping", dp.clipping], ["Poisson sampling", dp.poisson_sampling],
  ];
  return [
    HEADING,
    "",
    `Trained with differentially private SGD (per-sample clipping and Gaussian noise; Abadi et al. 2016) in peft-ts: (ε, δ) = (${fmt(dp.epsilon)}, ${fmt(dp.delta)}) for the training examples, by the ${String(dp.accountant).toUpperCase()} accountant.` +
      (dp.poisson_sampling === false ? " Batches were shuffled, not Poisson-sampled: the accountant assumes Poisson sampling, so this ε does not hold exactly." : ""),
    "",
    "| | |",
    "|---|---|",
    ...rows.map(([k, v]) => `| ${k} | ${fmt(v)} |`),
    "",
  ].join("\n");
}

/** Writes or updates dir/README.md with the DP section. */
export function writeDpModelCard(dir: string, dp: Record<string, unknown>): void {
  const f = getFiles(), path = join(dir, "README.md");
  const section = dpModelCardSection(dp);
  let text = f.exists(path) ? f.readText(path) : "---\nlibrary_name: peft-ts\ntags:\n- differential-privacy\n- dp-sgd\n---\n\n# Model card\n\n";
  const at = text.indexOf(HEADING);
  if (at >= 0) {
    const next = text.indexOf("\n## ", at + HEADING.length);
    text = text.slice(0, at) + section + (next >= 0 ? text.slice(next + 1) : "");
  } else text = text.replace(/\n*$/, "\n\n") + section;
  atomicWriteFile(path, text);
}
