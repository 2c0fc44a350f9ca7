// A short run of the reader fuzz campaign (npm run fuzz runs 10,000 cases per reader): every
// mutated input must end in success or a PeftError subclass, with no prototype pollution.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pollutionSnapshot } from "../../scripts/fuzz/pollution.js";
import { runCase } from "../../scripts/fuzz/run_case.js";
import { loadTarget, TARGET_NAMES } from "../../scripts/fuzz/targets/index.js";

const CASES = 150;
const SEED = 20261203;

test(`fuzz smoke: ${CASES} seeded cases per reader end in success or a typed error`, { timeout: 180_000 }, async () => {
  // readers warn about what they accept (NaN weights, missing keys): not what is counted here
  const warn = console.warn;
  console.warn = () => {};
  process.removeAllListeners("warning");
  const root = mkdtempSync(join(tmpdir(), "peft-ts-fuzz-smoke-"));
  const bad: string[] = [];
  const okPerTarget: Record<string, number> = {};
  try {
    for (const name of TARGET_NAMES) {
      const target = await loadTarget(name);
      await target.setup();
      const baseline = pollutionSnapshot();
      okPerTarget[name] = 0;
      for (let i = 0; i < CASES; i++) {
        const dir = join(root, `${name}-${i}`);
        mkdirSync(dir);
        const out = await runCase(target, SEED, i, dir, baseline);
        rmSync(dir, { recursive: true, force: true });
        if (out.kind === "ok") okPerTarget[name]++;
        if (out.kind === "untyped" || out.kind === "pollution") bad.push(`${name} case ${i}: ${out.kind} ${out.cls}: ${out.msg}`);
      }
      target.teardown?.();
    }
  } finally {
    console.warn = warn;
    rmSync(root, { recursive: true, force: true });
  }
  assert.deepEqual(bad, []);
  // the mutations are not all fatal: every reader also reads some damaged inputs successfully
  for (const [name, ok] of Object.entries(okPerTarget)) assert.ok(ok > 0 && ok < CASES, `${name}: ${ok} of ${CASES} cases read successfully`);
});
