// The live loss curve: an SVG polyline over (step, loss), rescaled as points arrive, with the
// axes' ranges written at the corners. No chart library: a few elements redrawn per point.

const NS = "http://www.w3.org/2000/svg";
const W = 640, H = 260, PAD_L = 44, PAD_R = 10, PAD_T = 12, PAD_B = 24;

function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

export class LossChart {
  private points: [number, number][] = [];

  constructor(private readonly svg: SVGSVGElement, private readonly maxSteps = () => 0) {
    this.draw();
  }

  clear(): void {
    this.points = [];
    this.draw();
  }

  add(step: number, loss: number): void {
    if (!Number.isFinite(loss)) return;
    this.points.push([step, loss]);
    this.draw();
  }

  /** The points drawn so far (the acceptance test reads them too). */
  get data(): readonly [number, number][] {
    return this.points;
  }

  private draw(): void {
    const svg = this.svg;
    svg.replaceChildren();
    const x1 = Math.max(1, this.maxSteps(), ...this.points.map((p) => p[0]));
    const losses = this.points.map((p) => p[1]);
    const lo = losses.length ? Math.min(...losses) : 0;
    const hi = losses.length ? Math.max(...losses) : 1;
    const span = hi - lo || Math.max(Math.abs(hi), 1) * 0.1;
    const y0 = lo - 0.05 * span, y1 = hi + 0.05 * span;
    const sx = (s: number) => PAD_L + (s / x1) * (W - PAD_L - PAD_R);
    const sy = (l: number) => PAD_T + ((y1 - l) / (y1 - y0)) * (H - PAD_T - PAD_B);
    svg.append(
      el("line", { x1: PAD_L, y1: H - PAD_B, x2: W - PAD_R, y2: H - PAD_B, stroke: "#99a" }),
      el("line", { x1: PAD_L, y1: PAD_T, x2: PAD_L, y2: H - PAD_B, stroke: "#99a" }),
      el("text", { x: PAD_L - 4, y: PAD_T + 8, "text-anchor": "end", "font-size": 10, fill: "#556" }, y1.toFixed(3)),
      el("text", { x: PAD_L - 4, y: H - PAD_B, "text-anchor": "end", "font-size": 10, fill: "#556" }, y0.toFixed(3)),
      el("text", { x: W - PAD_R, y: H - 6, "text-anchor": "end", "font-size": 10, fill: "#556" }, `step ${x1}`),
      el("text", { x: PAD_L + 4, y: H - 6, "font-size": 10, fill: "#556" }, this.points.length ? "training loss per step (light) and its moving average" : "training loss (press Train)"),
    );
    if (!this.points.length) return;
    const pts = this.points.map(([s, l]) => `${sx(s).toFixed(1)},${sy(l).toFixed(1)}`).join(" ");
    svg.append(el("polyline", { points: pts, fill: "none", stroke: "#9db3e6", "stroke-width": 1.2, "data-series": "loss" }));
    // an exponential moving average over the noisy per-batch losses
    let ema = this.points[0][1];
    const smooth = this.points.map(([s, l]) => { ema = 0.8 * ema + 0.2 * l; return `${sx(s).toFixed(1)},${sy(ema).toFixed(1)}`; }).join(" ");
    svg.append(el("polyline", { points: smooth, fill: "none", stroke: "#2456c8", "stroke-width": 2, "data-series": "loss-ema" }));
    const [ls, ll] = this.points[this.points.length - 1];
    svg.append(el("circle", { cx: sx(ls), cy: sy(ll), r: 3, fill: "#2456c8" }));
  }
}
