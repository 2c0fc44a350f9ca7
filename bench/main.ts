// `npm run bench -- <suite> [--json] [--quick] [--threads N]`: op and end-to-end benchmarks, side
// by side with PyTorch measured in the same run. Suites register themselves in `suites`; add one
// by writing bench/<name>.ts that exports a Suite and registering it below.
// Output (DESIGN.md "Benchmark output"): a readable table, or with --json one object per line:
// {"suite","case","ours","reference","unit","ratio"}, ratio oriented so that > 1 means we are better.
import "../src/node.js"; // the Node implementations (files, backends, MPI) behind the core
import { pathToFileURL } from "node:url";
import { opsSuite } from "./ops.js";
import { inferSuite } from "./infer.js";
import { loraSuite } from "./lora.js";
import { trainSuite } from "./train.js";
import { dpSuite } from "./dp.js";
import { distSuite } from "./dist.js";
import { wasmSuite } from "./wasm.js";
import { sizesSuite } from "./sizes.js";
import { webSuite } from "./web.js";
import { explainSuite } from "./explain.js";
import { seq2seqSuite } from "./seq2seq.js";
import { quantSuite } from "./quant.js";
import type { BenchRow, Suite } from "./common.js";

export * from "./common.js";

export const suites = new Map<string, Suite>();

export function registerSuite(s: Suite): void {
  suites.set(s.name, s);
}

registerSuite(opsSuite);
registerSuite(inferSuite);
registerSuite(loraSuite);
registerSuite(trainSuite);
registerSuite(dpSuite);
registerSuite(distSuite);
registerSuite(wasmSuite);
registerSuite(sizesSuite);
registerSuite(webSuite);
registerSuite(explainSuite);
registerSuite(seq2seqSuite);
registerSuite(quantSuite);

function fmt(x: number | null, digits = 3): string {
  if (x === null) return "-";
  return Math.abs(x) >= 100 ? x.toFixed(1) : x.toPrecision(digits);
}

export function printRow(r: BenchRow, json: boolean): void {
  if (json) {
    console.log(JSON.stringify(r));
    return;
  }
  const ratio = r.ratio === null ? "-" : `${r.ratio.toFixed(2)}x`;
  console.log(`${r.suite.padEnd(6)} ${r.case.padEnd(46)} ${fmt(r.ours).padStart(10)} ${fmt(r.reference).padStart(10)} ${r.unit.padEnd(6)} ${ratio.padStart(8)}`);
}

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes("--json");
  const quick = argv.includes("--quick");
  const ti = argv.indexOf("--threads");
  const threads = ti >= 0 ? Number(argv[ti + 1]) : undefined;
  const rest = argv.filter((a, i) => !a.startsWith("--") && !(ti >= 0 && i === ti + 1));
  const names = rest;
  if (names.length === 0 || names.some((n) => !suites.has(n))) {
    const bad = names.filter((n) => !suites.has(n));
    if (bad.length) console.error(`unknown suite(s): ${bad.join(", ")}`);
    console.error("usage: npm run bench -- <suite...> [--json] [--quick] [--threads N] [suite switches, e.g. ops: --no-ts]\nsuites:");
    for (const s of suites.values()) console.error(`  ${s.name.padEnd(8)} ${s.description}`);
    return 2;
  }
  if (!json) console.log(`${"suite".padEnd(6)} ${"case".padEnd(46)} ${"ours".padStart(10)} ${"reference".padStart(10)} ${"unit".padEnd(6)} ${"ratio".padStart(8)}`);
  for (const n of names) {
    const s = suites.get(n)!;
    await s.run({ json, quick, threads, args: argv }, (r) => printRow(r, json));
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
    console.error(e);
    process.exit(1);
  });
}
