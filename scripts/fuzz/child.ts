// Fuzz child process: runs cases [from, to) of one target and reports each outcome to the parent over IPC.
// Usage (forked by main.ts): node --import tsx child.ts <target> <seed> <from> <to> <tmpRoot>

import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { PeftError } from "../../src/tensor/errors.js";
import { FuzzRng } from "./mutate.js";
import { pollutionSnapshot, findInheritedPollution } from "./pollution.js";
import { loadTarget, targetSeed } from "./targets/index.js";

export type Outcome =
  | { i: number; kind: "ok" }
  | { i: number; kind: "typed"; cls: string }
  | { i: number; kind: "untyped" | "pollution"; cls: string; msg: string };

const [name, seedArg, fromArg, toArg, tmpRoot] = process.argv.slice(2);
const seed = Number(seedArg), from = Number(fromArg), to = Number(toArg);
const send = (m: unknown) => new Promise<void>((res) => process.send!(m, () => res()));

// Readers warn about suspicious content (e.g. NaN weights); the campaign counts outcomes, not warnings.
console.warn = () => {};
process.removeAllListeners("warning");
process.on("warning", () => {});

const target = await loadTarget(name);
await target.setup();
const baseline = pollutionSnapshot();
const dir = join(tmpRoot, "case");
for (let i = from; i < to; i++) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let out: Outcome;
  try {
    const result = await target.run(new FuzzRng(seed, targetSeed(name), i), dir);
    const inherited = findInheritedPollution(result);
    out = inherited ? { i, kind: "pollution", cls: "-", msg: inherited } : { i, kind: "ok" };
  } catch (e) {
    if (e instanceof PeftError) out = { i, kind: "typed", cls: e.constructor.name };
    else {
      const err = e as Error;
      const frames = (err?.stack ?? "").split("\n").filter((l) => l.trim().startsWith("at "));
      const at = (frames.find((l) => l.includes("/src/")) ?? frames[0] ?? "") + (to - from === 1 ? "\n" + frames.join("\n") : "");
      out = { i, kind: "untyped", cls: err?.constructor?.name ?? typeof e, msg: `${String(err?.message ?? e).slice(0, 300)} ${at.trim()}` };
    }
  }
  const now = pollutionSnapshot();
  if (now !== baseline) out = { i, kind: "pollution", cls: "-", msg: `Object/Array prototype changed: ${now}` };
  await send(out);
}
rmSync(dir, { recursive: true, force: true });
await send({ done: true });
process.exit(0);
