// Shared by the CLI tests: the bundled data files, SST-2 slices in a temp folder, and running the
// CLI in the test's own process (where a task registered by the test exists).

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "../../src/cli/main.js";

export const ROOT = join(fileURLToPath(import.meta.url), "..", "..", "..");
export const BERT_TINY = join(ROOT, "..", "shared", "golden", "bert-tiny-random");
export const SST2_DEV = existsSync(join(ROOT, "data", "sst2", "dev.tsv")) ? join(ROOT, "data", "sst2", "dev.tsv") : "/work/shared/fixtures/sst2/dev.tsv";

/** train.tsv (SST-2 dev rows 1..train) and dev.tsv (the next `dev` rows) in `dir`, with the header. */
export function writeSst2Split(dir: string, train: number, dev: number): { trainTsv: string; devTsv: string } {
  const lines = readFileSync(SST2_DEV, "utf8").split("\n").filter(Boolean);
  const trainTsv = join(dir, "train.tsv");
  const devTsv = join(dir, "dev.tsv");
  writeFileSync(trainTsv, [lines[0], ...lines.slice(1, 1 + train)].join("\n") + "\n");
  writeFileSync(devTsv, [lines[0], ...lines.slice(1 + train, 1 + train + dev)].join("\n") + "\n");
  return { trainTsv, devTsv };
}

/**
 * Runs `peft-ts <args>` in this process, capturing stderr (stdout is left alone: it carries the
 * test runner's reports, and the CLI's progress lines show up as test output).
 */
export async function cliInProcess(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = "";
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string | Uint8Array) => {
    stderr += String(s);
    return true;
  }) as typeof process.stderr.write;
  try {
    return { code: await main(args), stderr };
  } finally {
    process.stderr.write = write;
  }
}
