// npm run fuzz [-- --cases N --seed S --only a,b --timeout-ms T --case I]
// Runs seeded, structure-aware mutations of every reader's input, each case in a child process
// per target (a watchdog kills a child whose case runs past the time limit: that case is a hang,
// and the child restarts after it). Prints a per-target table; exits 1 on any untyped error,
// hang, crash or prototype pollution. --case I replays one case and prints its outcome.

import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Outcome } from "./child.js";
import { TARGET_NAMES } from "./targets/index.js";

interface Tally {
  cases: number; ok: number; typed: Map<string, number>; untyped: number; hangs: number; crashes: number; pollution: number;
  examples: string[];
}

function parseArgs(argv: string[]) {
  const o = { cases: 10_000, seed: 1, only: [...TARGET_NAMES] as string[], timeoutMs: 10_000, one: -1 };
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k], v = argv[k + 1];
    if (a === "--cases") { o.cases = Number(v); k++; }
    else if (a === "--seed") { o.seed = Number(v); k++; }
    else if (a === "--only") { o.only = v.split(","); k++; }
    else if (a === "--timeout-ms") { o.timeoutMs = Number(v); k++; }
    else if (a === "--case") { o.one = Number(v); k++; }
    else throw new Error(`fuzz: unknown argument '${a}' (known: --cases N --seed S --only ${TARGET_NAMES.join(",")} --timeout-ms T --case I)`);
  }
  for (const t of o.only) if (!TARGET_NAMES.includes(t)) throw new Error(`fuzz: unknown target '${t}' (known: ${TARGET_NAMES.join(", ")})`);
  if (!Number.isInteger(o.cases) || o.cases < 1) throw new Error(`fuzz: --cases must be a positive integer`);
  return o;
}

/** Runs cases [from, to) in one child; resolves with the index after the last finished case (a hang/crash stops early). */
function runChild(target: string, seed: number, from: number, to: number, timeoutMs: number, tally: Tally, tmpRoot: string): Promise<number> {
  return new Promise((resolve) => {
    const child = fork(join(import.meta.dirname, "child.ts"), [target, String(seed), String(from), String(to), tmpRoot], {
      execArgv: ["--import", "tsx", "--max-old-space-size=2048", "--stack-size=984"],
      stdio: ["ignore", "ignore", "pipe", "ipc"],
    });
    let stderr = "";
    child.stderr!.on("data", (d) => { stderr = (stderr + d).slice(-2000); });
    let next = from;
    let finished = false;
    // the first case also loads the modules and the fixtures: give it longer
    let timer = setTimeout(onHang, timeoutMs * 6);
    function onHang() {
      if (finished) return;
      finished = true;
      tally.hangs++;
      tally.cases++;
      tally.examples.push(`case ${next}: hang (no result within ${timeoutMs} ms)`);
      child.kill("SIGKILL");
      resolve(next + 1);
    }
    child.on("message", (m: Outcome | { done: true }) => {
      if ("done" in m) { finished = true; clearTimeout(timer); resolve(to); return; }
      clearTimeout(timer);
      timer = setTimeout(onHang, timeoutMs);
      tally.cases++;
      if (m.kind === "ok") tally.ok++;
      else if (m.kind === "typed") tally.typed.set(m.cls, (tally.typed.get(m.cls) ?? 0) + 1);
      else {
        if (m.kind === "untyped") tally.untyped++;
        else tally.pollution++;
        if (tally.examples.length < 12) tally.examples.push(`case ${m.i}: ${m.kind} ${m.cls}: ${m.msg}`);
      }
      if (to - from === 1) console.log(`case ${m.i}: ${JSON.stringify(m)}`);
      next = m.i + 1;
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (finished) return;
      finished = true;
      tally.crashes++;
      tally.cases++;
      tally.examples.push(`case ${next}: crash (exit ${code ?? signal}) ${stderr.trim().split("\n").slice(-12).join(" | ")}`);
      resolve(next + 1);
    });
  });
}

async function fuzzTarget(target: string, o: ReturnType<typeof parseArgs>): Promise<Tally> {
  const tally: Tally = { cases: 0, ok: 0, typed: new Map(), untyped: 0, hangs: 0, crashes: 0, pollution: 0, examples: [] };
  const tmpRoot = mkdtempSync(join(tmpdir(), `peft-fuzz-${target}-`));
  try {
    const [from, to] = o.one >= 0 ? [o.one, o.one + 1] : [0, o.cases];
    let i = from;
    while (i < to) i = await runChild(target, o.seed, i, to, o.timeoutMs, tally, tmpRoot);
  } finally {
    rmSync(tmpRoot, { recursive: true, force: true });
  }
  return tally;
}

const o = parseArgs(process.argv.slice(2));
const t0 = Date.now();
const rows: [string, Tally][] = [];
for (const name of o.only) {
  const s = Date.now();
  const t = await fuzzTarget(name, o);
  rows.push([name, t]);
  console.error(`fuzz ${name}: ${t.cases} cases in ${((Date.now() - s) / 1000).toFixed(1)} s`);
}
const pad = (s: string | number, n: number) => String(s).padEnd(n);
console.log(`\nseed ${o.seed}, ${o.one >= 0 ? `case ${o.one}` : `${o.cases} cases per target`}, per-case limit ${o.timeoutMs} ms, wall ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
console.log(`${pad("target", 16)}${pad("cases", 8)}${pad("ok", 8)}${pad("untyped", 9)}${pad("hangs", 7)}${pad("crashes", 9)}${pad("pollution", 11)}typed errors by class`);
let bad = 0;
for (const [name, t] of rows) {
  const typed = [...t.typed].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(", ");
  console.log(`${pad(name, 16)}${pad(t.cases, 8)}${pad(t.ok, 8)}${pad(t.untyped, 9)}${pad(t.hangs, 7)}${pad(t.crashes, 9)}${pad(t.pollution, 11)}${typed}`);
  bad += t.untyped + t.hangs + t.crashes + t.pollution;
}
for (const [name, t] of rows) for (const e of t.examples) console.log(`  ${name} ${e}`);
if (bad) console.log(`\nFAIL: ${bad} case(s) ended in an untyped error, a hang, a crash or prototype pollution (replay one with --only <target> --case <i>)`);
process.exit(bad ? 1 : 0);
