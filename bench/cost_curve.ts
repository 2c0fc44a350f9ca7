// The cost curve: LoRA all-linear training step tokens/s and peak RSS against sequence length (one
// model) and against model size (bert-small → bert-base → Qwen2-0.5B at one length), ours and
// PyTorch + PEFT (bench/sizes.ts runs each point in its own process), written as JSON and an SVG plot.
//
//   node --import tsx bench/cost_curve.ts [--seqs=128,256,512,1024,2048] [--seq-model=qwen2-0.5b]
//     [--models=bert-small,bert-base,qwen2-0.5b] [--model-seq=512] [--batch=4] [--dtype=bf16|fp32]
//     [--gc=on|off] [--threads=N] [--torch-attn=eager|sdpa] [--no-torch] [--out=bench/results/cost_curve]
//     [--note="machine loaded by other jobs"]   (or `npm run bench:curve -- …`)
//   node --import tsx bench/cost_curve.ts --from=bench/results/cost_curve.json   (redraws the SVG)
//
// A point where a side fails (out of memory, timeout) is drawn as missing.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { cpus } from "node:os";
import { repoRoot } from "./common.js";
import { runOursSize, runTorchSize, type SizeModel, type SizeResult, type SizeSpec } from "./sizes.js";
import { findTorchPython } from "./torch.js";

interface Point { x: string; ours: SizeResult; torch: SizeResult }
export interface Curve { title: string; xLabel: string; points: Point[] }

function arg(name: string, dflt: string): string {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : dflt;
}

// ------------------------------------------------------------------ SVG (hand-written line plots)
const W = 420, Hh = 260, M = { l: 64, r: 16, t: 30, b: 44 };

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const e = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * e >= v) return m * e;
  return 10 * e;
}

function panel(c: Curve, metric: "tokPerS" | "peakRssMiB", x0: number, y0: number): string {
  const pw = W - M.l - M.r, ph = Hh - M.t - M.b;
  const vals = c.points.flatMap((p) => [p.ours[metric], p.torch[metric]]).filter((v): v is number => v !== null);
  const ymax = niceMax(Math.max(1, ...vals));
  const n = c.points.length;
  const px = (i: number) => x0 + M.l + (n === 1 ? pw / 2 : (i * pw) / (n - 1));
  const py = (v: number) => y0 + M.t + ph - (v / ymax) * ph;
  const out: string[] = [];
  const label = metric === "tokPerS" ? "tokens/s (higher is better)" : "peak RSS MiB (lower is better)";
  out.push(`<text x="${x0 + W / 2}" y="${y0 + 18}" text-anchor="middle" font-weight="bold">${c.title}: ${label}</text>`);
  out.push(`<rect x="${x0 + M.l}" y="${y0 + M.t}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  for (let k = 0; k <= 4; k++) {
    const v = (ymax * k) / 4, y = py(v);
    out.push(`<line x1="${x0 + M.l}" x2="${x0 + M.l + pw}" y1="${y}" y2="${y}" stroke="#eee"/>`);
    out.push(`<text x="${x0 + M.l - 6}" y="${y + 4}" text-anchor="end">${v >= 1000 ? (v / 1000).toFixed(v % 1000 ? 1 : 0) + "k" : v.toFixed(0)}</text>`);
  }
  c.points.forEach((p, i) => out.push(`<text x="${px(i)}" y="${y0 + M.t + ph + 16}" text-anchor="middle">${p.x}</text>`));
  out.push(`<text x="${x0 + M.l + pw / 2}" y="${y0 + Hh - 8}" text-anchor="middle">${c.xLabel}</text>`);
  for (const [side, color] of [["ours", "#d62728"], ["torch", "#1f77b4"]] as const) {
    const pts = c.points.map((p, i) => [i, p[side][metric]] as const).filter(([, v]) => v !== null) as [number, number][];
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map(([i, v]) => `${px(i)},${py(v)}`).join(" ")}"/>`);
    for (const [i, v] of pts) out.push(`<circle cx="${px(i)}" cy="${py(v)}" r="3" fill="${color}"/>`);
  }
  return out.join("\n");
}

export function curveSvg(curves: Curve[], caption: string): string {
  // the caption wrapped at ~110 characters per line, under the legend
  const lines: string[] = [];
  for (const word of caption.split(" ")) {
    if (lines.length && (lines[lines.length - 1] + " " + word).length <= 110) lines[lines.length - 1] += " " + word;
    else lines.push(word);
  }
  const rows = curves.length, width = 2 * W, height = rows * Hh + 30 + 14 * lines.length;
  const body = curves.map((c, r) => panel(c, "tokPerS", 0, r * Hh) + "\n" + panel(c, "peakRssMiB", W, r * Hh)).join("\n");
  const legend = `<g transform="translate(${M.l},${rows * Hh + 10})"><rect width="12" height="4" y="-4" fill="#d62728"/><text x="16">peft-ts</text>` +
    `<rect x="90" width="12" height="4" y="-4" fill="#1f77b4"/><text x="106">PyTorch + PEFT</text>` +
    lines.map((l, i) => `<text y="${18 + 14 * i}" fill="#555">${l.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</text>`).join("") + `</g>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">\n` +
    `<rect width="100%" height="100%" fill="white"/>\n${body}\n${legend}\n</svg>\n`;
}

// ------------------------------------------------------------------ runs
function cpuFlags(): string {
  try {
    const f = new Set(readFileSync("/proc/cpuinfo", "utf8").match(/\b(avx2|avx512f|avx512_bf16|amx_bf16)\b/g) ?? []);
    return [...f].sort().join(" ") || "none of avx2/avx512";
  } catch {
    return "unknown";
  }
}

async function point(spec: SizeSpec, torch: boolean, attn: string, x: string): Promise<Point> {
  const ours = await runOursSize(spec);
  const ref = torch ? await runTorchSize(spec, attn) : { tokPerS: null, peakRssMiB: null };
  console.log(`${spec.model} b${spec.batch} s${spec.seq} gc ${spec.gc ? "on" : "off"}: ours ${ours.tokPerS?.toFixed(1) ?? "failed"} tok/s ${ours.peakRssMiB?.toFixed(0) ?? "-"} MiB; ` +
    `torch ${ref.tokPerS?.toFixed(1) ?? "-"} tok/s ${ref.peakRssMiB?.toFixed(0) ?? "-"} MiB`);
  return { x, ours, torch: ref };
}

async function main(): Promise<void> {
  const from = arg("from", "");
  if (from) {
    // redraw a saved run: --from=bench/results/x.json writes x.svg next to it
    const saved = JSON.parse(readFileSync(from, "utf8")) as { caption: string; curves: Curve[] };
    writeFileSync(from.replace(/\.json$/, ".svg"), curveSvg(saved.curves, saved.caption));
    return;
  }
  const seqs = arg("seqs", "128,256,512,1024,2048").split(",").filter(Boolean).map(Number);
  const seqModel = arg("seq-model", "qwen2-0.5b") as SizeModel;
  const models = arg("models", "bert-small,bert-base,qwen2-0.5b").split(",").filter(Boolean) as SizeModel[];
  const modelSeq = Number(arg("model-seq", "512"));
  const batch = Number(arg("batch", "4"));
  const bf16 = arg("dtype", "bf16") === "bf16";
  const gc = arg("gc", "off") === "on";
  const threads = Number(arg("threads", String(cpus().length)));
  const attn = arg("torch-attn", "eager");
  const torch = !process.argv.includes("--no-torch");
  const outBase = join(repoRoot, arg("out", "bench/results/cost_curve"));
  const base = { batch, bf16, gc, threads, warmup: 1, steps: 2 };
  const curves: Curve[] = [];
  if (seqs.length) {
    const points: Point[] = [];
    for (const seq of seqs) points.push(await point({ ...base, model: seqModel, seq }, torch, attn, String(seq)));
    curves.push({ title: `${seqModel} vs sequence length`, xLabel: `sequence length (batch ${batch})`, points });
  }
  if (models.length) {
    const points: Point[] = [];
    for (const model of models) points.push(await point({ ...base, model, seq: modelSeq }, torch, attn, model));
    curves.push({ title: `model size at seq ${modelSeq}`, xLabel: `model (batch ${batch})`, points });
  }
  const note = arg("note", "");
  const caption = `${note ? note + "; " : ""}LoRA all-linear step, ${bf16 ? "bf16 frozen weights" : "fp32"}, grad ckpt ${gc ? "on" : "off"}, ${threads} threads, CPU: ${cpuFlags()}; torch ${findTorchPython()?.version ?? "-"} attn ${attn}`;
  mkdirSync(dirname(outBase), { recursive: true });
  writeFileSync(`${outBase}.json`, JSON.stringify({ caption, date: new Date().toISOString(), curves }, null, 1) + "\n");
  writeFileSync(`${outBase}.svg`, curveSvg(curves, caption));
  console.log(`wrote ${outBase}.json and ${outBase}.svg`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
