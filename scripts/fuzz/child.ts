// Fuzz child process: runs cases [from, to) of one target and reports each outcome to the parent over IPC.
// Usage (forked by main.ts): node --import tsx child.ts <target> <seed> <from> <to> <tmpRoot>

import "../../src/node.js"; // the Node implementations (files, backends, MPI) behind the core
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pollutionSnapshot } from "./pollution.js";
import { runCase } from "./run_case.js";
import { loadTarget } from "./targets/index.js";

export type { Outcome } from "./run_case.js";

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
  await send(await runCase(target, seed, i, dir, baseline, to - from === 1));
}
rmSync(dir, { recursive: true, force: true });
target.teardown?.();
await send({ done: true });
process.exit(0);
