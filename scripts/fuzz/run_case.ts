// One fuzz case: build the input, run the reader, classify the outcome (shared by the campaign's
// child processes and the in-process smoke test).

import { PeftError } from "../../src/tensor/errors.js";
import { FuzzRng } from "./mutate.js";
import { findInheritedPollution, pollutionSnapshot } from "./pollution.js";
import type { FuzzTarget } from "./target.js";
import { targetSeed } from "./targets/index.js";

export type Outcome =
  | { i: number; kind: "ok" }
  | { i: number; kind: "typed"; cls: string }
  | { i: number; kind: "untyped" | "pollution"; cls: string; msg: string };

/** Runs case `i` of `target` in `dir` (empty); `baseline` is pollutionSnapshot() taken before any case; `fullStack` keeps every frame. */
export async function runCase(target: FuzzTarget, seed: number, i: number, dir: string, baseline: string, fullStack = false): Promise<Outcome> {
  let out: Outcome;
  try {
    const result = await target.run(new FuzzRng(seed, targetSeed(target.name), i), dir);
    const inherited = findInheritedPollution(result);
    out = inherited ? { i, kind: "pollution", cls: "-", msg: inherited } : { i, kind: "ok" };
  } catch (e) {
    if (e instanceof PeftError) out = { i, kind: "typed", cls: e.constructor.name };
    else {
      const err = e as Error;
      const frames = (err?.stack ?? "").split("\n").filter((l) => l.trim().startsWith("at "));
      const at = (frames.find((l) => l.includes("/src/")) ?? frames[0] ?? "") + (fullStack ? "\n" + frames.join("\n") : "");
      out = { i, kind: "untyped", cls: err?.constructor?.name ?? typeof e, msg: `${String(err?.message ?? e).slice(0, 300)} ${at.trim()}` };
    }
  }
  const now = pollutionSnapshot();
  if (now !== baseline) out = { i, kind: "pollution", cls: "-", msg: `Object/Array prototype changed: ${now}` };
  return out;
}
