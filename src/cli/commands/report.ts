// peft-ts report DIR: renders report.html of a run dir again from the files in it (any run,
// old ones included: only metrics.json / trainer_state.json / log_history.jsonl are needed).
// peft-ts report A B …: one compare page (curves overlaid, summaries and final metrics side by side).

import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { CliError } from "../errors.js";
import type { Opts } from "../resolve.js";
import { writeCompareReport, writeRunReport } from "../../report/index.js";
import { TrainingArguments } from "../../train/index.js";
import { FormatError } from "../../tensor/errors.js";

export async function run(opts: Opts, dirs: string[]): Promise<number> {
  if (dirs.length === 0) throw new CliError("report: give a run's output_dir (or several to compare), e.g. peft-ts report runs/sst2");
  for (const d of dirs) {
    if (!existsSync(d)) throw new CliError(`report: ${d} does not exist (expected a run's output_dir)`);
    if (!statSync(d).isDirectory()) throw new CliError(`report: ${d} is not a folder (expected a run's output_dir)`);
  }
  const title = opts.title !== undefined ? String(opts.title) : undefined;
  try {
    if (dirs.length === 1) {
      const out = writeRunReport(dirs[0], {
        defaultArgs: new TrainingArguments().toDict(),
        ...(title !== undefined ? { title } : {}),
        ...(opts.output !== undefined ? { output: String(opts.output) } : {}),
      });
      process.stdout.write(`report: ${resolve(out)}\n`);
    } else {
      const out = writeCompareReport(dirs, String(opts.output ?? "compare.html"), title !== undefined ? { title } : {});
      process.stdout.write(`compare report of ${dirs.length} runs: ${resolve(out)}\n`);
    }
  } catch (e) {
    if (e instanceof FormatError) throw new CliError(`report: ${e.message}`);
    throw e;
  }
  return 0;
}
