// "What the adapter changed", from adapter_delta.json: per adapted module, the update's norm
// relative to the base weight's (‖ΔW‖ / ‖W‖) and its effective rank, as bar charts by layer.

import { COLORS, chartFrame, legend, svgOf } from "./chart_frame.js";
import { esc, htmlTable } from "./html.js";
import { formatNumber } from "./format.js";
import type { AdapterDeltaModule } from "./run_data.js";

function bars(mods: AdapterDeltaModule[], value: (m: AdapterDeltaModule) => number, title: string, id: string, yLabel: string): string {
  const kinds = [...new Set(mods.map((m) => m.module))].sort();
  const n = mods.length;
  const top = Math.max(...mods.map(value), 0);
  const f = chartFrame({ x: [0, n], y: [0, top || 1], xLabel: "module (by layer)", yLabel, fixedX: true, width: Math.min(1100, Math.max(420, 70 + n * 14)) });
  const w = Math.max(1, (f.sx(1) - f.sx(0)) * 0.8);
  const body: string[] = [`<g class="series" data-series="${esc(id)}">`];
  mods.forEach((m, i) => {
    const v = value(m), c = COLORS[kinds.indexOf(m.module) % COLORS.length];
    body.push(`<rect class="pt" x="${(f.sx(i) + w * 0.1).toFixed(1)}" y="${f.sy(v).toFixed(1)}" width="${w.toFixed(1)}" height="${(f.sy(0) - f.sy(v)).toFixed(1)}" fill="${c}"><title>${esc(m.name)}: ${formatNumber(v, 3)}</title></rect>`);
  });
  body.push("</g>");
  return `<figure class="plot" id="plot-${esc(id)}"><figcaption>${esc(title)}</figcaption>${legend(kinds.map((k, i) => ({ name: k, color: COLORS[i % COLORS.length] })))}${svgOf(f, body, "bars")}</figure>`;
}

export function adapterDeltaResults(mods: AdapterDeltaModule[]): string {
  if (!mods.length) return "";
  const sorted = [...mods].sort((a, b) => (a.layer ?? -1) - (b.layer ?? -1) || a.module.localeCompare(b.module) || a.name.localeCompare(b.name));
  const top = [...mods].sort((a, b) => b.relative_norm - a.relative_norm).slice(0, 8);
  return `<div class="plots">${bars(sorted, (m) => m.relative_norm, "Relative update norm ‖ΔW‖ / ‖W‖", "delta-relative-norm", "‖ΔW‖ / ‖W‖")}${bars(sorted, (m) => m.effective_rank, "Effective rank of ΔW", "delta-effective-rank", "effective rank")}</div>
<h3>Largest relative changes</h3>${htmlTable(["module", "layer", "‖ΔW‖ / ‖W‖", "‖ΔW‖", "effective rank"], top.map((m) => [esc(m.name), m.layer === null ? "–" : String(m.layer), formatNumber(m.relative_norm, 3), formatNumber(m.delta_norm, 3), formatNumber(m.effective_rank, 3)]), "delta-top")}`;
}
