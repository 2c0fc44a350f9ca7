// The terminal progress bar (cli-progress): Node-only, registered by src/node.ts for a TTY stderr.

import cliProgress from "cli-progress";
import { num, type Progress } from "./progress.js";

export class BarProgress implements Progress {
  private multi: cliProgress.MultiBar | null = null;
  private bar: cliProgress.SingleBar | null = null;
  private evalBar: cliProgress.SingleBar | null = null;
  private t0 = 0;
  private v0 = 0;
  private ensureMulti(): cliProgress.MultiBar {
    this.multi ??= new cliProgress.MultiBar({ hideCursor: true, clearOnComplete: false, stream: process.stderr, format: "{label} |{bar}| {value}/{total} {extra}" }, cliProgress.Presets.shades_classic);
    return this.multi;
  }
  start(total: number, startValue: number, label: string): void {
    this.t0 = Date.now();
    this.v0 = startValue;
    this.bar = this.ensureMulti().create(total, startValue, { label, extra: "" }, {
      format: `{label} |{bar}| {value}/{total} loss {loss} lr {lr} {rate} it/s ETA {eta_formatted}`,
    });
    this.bar.update(startValue, { label, loss: "-", lr: "-", rate: "-" });
  }
  evalStart(total: number): void {
    this.evalBar = this.ensureMulti().create(total, 0, { label: "eval ", extra: "" });
  }
  evalUpdate(done: number): void {
    this.evalBar?.update(done);
  }
  evalStop(summary: string): void {
    if (this.evalBar) {
      this.evalBar.stop();
      this.multi?.remove(this.evalBar);
      this.evalBar = null;
    }
    if (this.multi) this.multi.log(summary + "\n");
    else process.stderr.write(summary + "\n");
  }
  update(value: number, info: { loss?: number; lr?: number }): void {
    const dt = (Date.now() - this.t0) / 1000;
    const rate = dt > 0 ? ((value - this.v0) / dt).toFixed(2) : "-";
    this.bar?.update(value, { loss: num(info.loss), lr: num(info.lr, 6), rate });
  }
  line(msg: string): void {
    if (this.multi) this.multi.log(msg + "\n");
    else process.stderr.write(msg + "\n");
  }
  stop(): void {
    this.multi?.stop();
    this.multi = null;
    this.bar = null;
  }
}
