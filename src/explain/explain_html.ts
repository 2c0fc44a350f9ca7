// explain.html: one self-contained page (no script, no network) with the tokens highlighted by
// attribution, the attention map of one layer/head as an SVG heatmap, and the prediction with and
// without the adapter side by side. Also the terminal rendering of the token scores.

/** A class (or next token) and its probability. */
export interface PredictionRow {
  label: string;
  probability: number;
}

export interface ExplainPage {
  title?: string;
  model: string;
  adapter: string | null;
  text: string;
  /** ig | grad_x_input | rollout (and how it was run, e.g. "50 steps, gausslegendre"). */
  method: string;
  methodDetail?: string;
  /** What the scores explain ("label POSITIVE (1)"). */
  targetDescription: string;
  tokens: string[];
  scores: number[];
  /** Integrated Gradients' Σ attributions − (f(x) − f(baseline)), when IG ran. */
  convergenceDelta?: number | null;
  /** "with the adapter" / "base model" (or just one without an adapter). */
  predictions: { name: string; rows: PredictionRow[] }[];
  attention: { layer: number; head: number; weights: number[][] } | null;
}

export function escapeHtml(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

const num = (v: number) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : v.toFixed(4));

/** Background for a score scaled by the largest |score|: red for positive, blue for negative. */
function tokenColor(score: number, maxAbs: number): string {
  const a = maxAbs > 0 ? Math.min(1, Math.abs(score) / maxAbs) : 0;
  return score >= 0 ? `rgba(214, 39, 40, ${(0.08 + 0.72 * a).toFixed(3)})` : `rgba(31, 119, 180, ${(0.08 + 0.72 * a).toFixed(3)})`;
}

function tokensHtml(p: ExplainPage): string {
  const maxAbs = Math.max(0, ...p.scores.map((s) => Math.abs(s)));
  return p.tokens.map((t, i) => {
    const s = p.scores[i];
    return `<span class="tok" data-token-index="${i}" data-attribution="${s}" style="background:${tokenColor(s, maxAbs)}" title="${escapeHtml(`${t}: ${num(s)}`)}">${escapeHtml(t)}</span>`;
  }).join(" ");
}

function predictionsHtml(p: ExplainPage): string {
  return p.predictions.map((col) => {
    const rows = col.rows.map((r) => `<tr><td>${escapeHtml(r.label)}</td><td class="bar"><span style="width:${(100 * r.probability).toFixed(1)}%"></span></td><td>${(100 * r.probability).toFixed(1)}%</td></tr>`).join("");
    return `<div class="pred" data-prediction="${escapeHtml(col.name)}"><h3>${escapeHtml(col.name)}</h3><table>${rows}</table></div>`;
  }).join("");
}

function heatmapSvg(p: ExplainPage): string {
  if (!p.attention) return "<p>No attention map (the model returned no attentions).</p>";
  const { weights } = p.attention, T = weights.length, cell = Math.max(10, Math.min(28, Math.floor(560 / Math.max(T, 1))));
  const label = 90, size = label + T * cell;
  const max = Math.max(1e-12, ...weights.flat());
  const rects: string[] = [];
  weights.forEach((row, i) => row.forEach((w, j) => {
    rects.push(`<rect class="cell" x="${label + j * cell}" y="${label + i * cell}" width="${cell}" height="${cell}" fill="rgba(148, 52, 110, ${(w / max).toFixed(4)})"><title>${escapeHtml(`${p.tokens[i]} → ${p.tokens[j]}: ${num(w)}`)}</title></rect>`);
  }));
  const rowLabels = p.tokens.map((t, i) => `<text x="${label - 4}" y="${label + i * cell + cell * 0.7}" text-anchor="end">${escapeHtml(t.slice(0, 12))}</text>`).join("");
  const colLabels = p.tokens.map((t, j) => `<text transform="translate(${label + j * cell + cell * 0.7}, ${label - 4}) rotate(-60)">${escapeHtml(t.slice(0, 12))}</text>`).join("");
  return `<svg class="heatmap" xmlns="http://www.w3.org/2000/svg" width="${size + 10}" height="${size + 10}" font-size="11">${rowLabels}${colLabels}${rects.join("")}</svg>`;
}

export function renderExplainHtml(p: ExplainPage): string {
  const title = p.title ?? "peft-ts explain";
  const delta = p.convergenceDelta !== undefined && p.convergenceDelta !== null ? `<p>Convergence delta (Σ attributions − (f(x) − f(baseline))): <b>${num(p.convergenceDelta)}</b></p>` : "";
  const att = p.attention ? `<h2>Attention: layer ${p.attention.layer}, head ${p.attention.head}</h2><p>Rows are queries, columns keys (post-softmax weights).</p>` : "<h2>Attention</h2>";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
.tokens{line-height:2.2;font-size:18px}.tok{padding:2px 4px;border-radius:4px;white-space:pre}
.preds{display:flex;gap:32px;flex-wrap:wrap}.pred table{border-collapse:collapse}.pred td{padding:2px 8px}
.bar{width:160px}.bar span{display:block;height:10px;background:#2ca02c}
.meta td{padding:1px 10px 1px 0;color:#555}
</style></head><body>
<h1>${escapeHtml(title)}</h1>
<table class="meta"><tr><td>model</td><td>${escapeHtml(p.model)}</td></tr><tr><td>adapter</td><td>${escapeHtml(p.adapter ?? "none")}</td></tr>
<tr><td>method</td><td>${escapeHtml(p.method)}${p.methodDetail ? ` (${escapeHtml(p.methodDetail)})` : ""}</td></tr><tr><td>explains</td><td>${escapeHtml(p.targetDescription)}</td></tr></table>
<h2>Token attributions</h2>
<p>${escapeHtml(p.text)}</p>
<p class="legend">Red: the token pushes towards what is explained; blue: against it (shade ∝ |score|).</p>
<div class="tokens" data-testid="tokens">${tokensHtml(p)}</div>
${delta}
<h2>Prediction</h2>
<div class="preds">${predictionsHtml(p)}</div>
${att}
<div data-testid="attention">${heatmapSvg(p)}</div>
</body></html>
`;
}

/** The token scores for a terminal: one "token score" per line, coloured (ANSI background) when `color`. */
export function formatTokenScores(tokens: string[], scores: number[], color: boolean): string {
  const maxAbs = Math.max(0, ...scores.map((s) => Math.abs(s)));
  const width = Math.max(5, ...tokens.map((t) => t.length));
  return tokens.map((t, i) => {
    const s = scores[i];
    let shown = t.padEnd(width);
    if (color) {
      const a = maxAbs > 0 ? Math.abs(s) / maxAbs : 0;
      const level = Math.min(5, Math.round(a * 5));
      // 256-colour palette: light to strong reds for positive, blues for negative
      const code = level === 0 ? 255 : (s >= 0 ? [224, 217, 210, 203, 196] : [195, 159, 117, 75, 33])[level - 1];
      shown = `\x1b[48;5;${code}m\x1b[38;5;16m${shown}\x1b[0m`;
    }
    return `${shown}  ${s >= 0 ? " " : ""}${num(s)}`;
  }).join("\n");
}
