// The page: wires the controls to the training worker (worker.ts), draws its progress, and offers
// the adapter as the two files HF PEFT writes. ?autorun=1&steps=N trains without clicks.
// window.__peftResult mirrors what the page shows, for tests and for the curious.
import type { AdapterFiles, PageToWorker, ProbeResult, Progress, ResumeInfo, TrainSummary, WorkerToPage } from "./protocol.js";
import { LossChart } from "./loss_chart.js";
import { applyAutorunQuery, jobFromForm, takeDataFile, takeModelFiles } from "./page_form.js";
import { dropZone } from "./page_drop.js";

interface PeftResult {
  status: string;
  backend: string;
  losses: [number, number][];
  accuracyBefore: number | null;
  accuracyAfter: number | null;
  probes: ProbeResult | null;
  summary: TrainSummary | null;
  errors: string[];
}

declare global {
  interface Window { __peftResult: PeftResult }
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const result: PeftResult = { status: "loading", backend: "", losses: [], accuracyBefore: null, accuracyAfter: null, probes: null, summary: null, errors: [] };
window.__peftResult = result;

const query = new URLSearchParams(location.search);
let maxSteps = 0;
const chart = new LossChart($("loss-chart") as unknown as SVGSVGElement, () => maxSteps);
let adapter: AdapterFiles | null = null;
let busy = false;
let worker: Worker;
// the cancel flag the worker polls after every step (needs cross-origin isolation); else cancel restarts the worker
const cancelFlag = globalThis.crossOriginIsolated ? new SharedArrayBuffer(4) : null;

function setStatus(s: string): void {
  result.status = s;
  $("status").textContent = s;
}

function message(text: string): void {
  $("message").textContent = text;
}

function setBusy(b: boolean): void {
  busy = b;
  $<HTMLButtonElement>("train").disabled = b;
  $<HTMLButtonElement>("cancel").disabled = !b;
  $<HTMLButtonElement>("try").disabled = b || !adapter;
  if (b) $<HTMLButtonElement>("resume").hidden = $<HTMLButtonElement>("discard").hidden = true;
}

function showResumable(r: ResumeInfo | null): void {
  const show = r !== null && !busy;
  $<HTMLButtonElement>("resume").hidden = $<HTMLButtonElement>("discard").hidden = !show;
  if (r && show) $("resume").textContent = `Resume (step ${r.step}/${r.maxSteps}, ${r.job.model.name})`;
}

function percent(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

function onProgress(p: Progress): void {
  maxSteps = p.maxSteps;
  result.losses.push([p.step, p.loss]);
  chart.add(p.step, p.loss);
  $("step").textContent = `${p.step}/${p.maxSteps}`;
  $("loss").textContent = p.loss.toFixed(4);
  $("lr-now").textContent = p.lr.toExponential(2);
  $("speed").textContent = `${Math.round(p.tokensPerSecond)} · ${p.stepsPerSecond.toFixed(2)}`;
}

function post(m: PageToWorker): void {
  worker.postMessage(m);
}

function onMessage(m: WorkerToPage): void {
  switch (m.type) {
    case "ready":
      result.backend = m.backend;
      $("backend").textContent = m.threads > 1 ? `${m.backend} × ${m.threads}` : m.backend;
      setStatus("ready");
      setBusy(false);
      showResumable(m.resumable);
      if (autorun) {
        autorun = false;
        start();
      }
      break;
    case "status":
      setStatus(m.text);
      break;
    case "progress":
      onProgress(m.progress);
      break;
    case "accuracy":
      if (m.which === "before") result.accuracyBefore = m.accuracy;
      else result.accuracyAfter = m.accuracy;
      $(`accuracy-${m.which}`).textContent = percent(m.accuracy);
      $(`accuracy-${m.which}`).title = `${m.rows} held-out rows`;
      break;
    case "trained":
      adapter = m.adapter;
      result.probes = m.probes;
      result.summary = m.summary;
      $("logits").textContent = JSON.stringify(m.probes);
      $("speed").textContent = `${Math.round(m.summary.tokensPerSecond)} · ${m.summary.stepsPerSecond.toFixed(2)}`;
      $<HTMLButtonElement>("download").disabled = false;
      message(`${m.summary.steps} steps in ${m.summary.seconds.toFixed(1)} s on ${m.summary.backend} (${m.summary.trainRows} training rows, ${m.summary.evalRows} held out)`);
      setBusy(false);
      setStatus("done");
      post({ type: "predict", text: $<HTMLInputElement>("try-text").value });
      break;
    case "prediction":
      $("try-result").textContent = m.labels.map((l, i) => `${l}: ${percent(m.probabilities[i])}`).join("  ");
      break;
    case "cancelled":
      setBusy(false);
      setStatus("cancelled");
      message(`cancelled at step ${m.step}${m.resumable ? "; the checkpoint is kept, Resume continues from it" : ""}`);
      showResumable(m.resumable);
      break;
    case "error":
      result.errors.push(m.message);
      console.error(`training worker: ${m.message}`);
      message(m.message);
      setBusy(false);
      setStatus("error");
      break;
  }
}

function startWorker(): void {
  worker = new Worker("./worker.js", { type: "module" });
  worker.onmessage = (e: MessageEvent<WorkerToPage>) => onMessage(e.data);
  worker.onerror = (e) => onMessage({ type: "error", message: `worker failed: ${e.message}` });
  post({ type: "init", cancelFlag, backend: query.get("backend") ?? "auto" });
}

function resetResults(): void {
  result.losses = [];
  result.accuracyBefore = result.accuracyAfter = null;
  result.probes = null;
  result.summary = null;
  adapter = null;
  maxSteps = 0;
  chart.clear();
  for (const id of ["accuracy-before", "accuracy-after", "step", "loss", "lr-now", "speed", "try-result", "logits"]) $(id).textContent = "–";
  $<HTMLButtonElement>("download").disabled = true;
}

function start(): void {
  try {
    const job = jobFromForm();
    resetResults();
    setBusy(true);
    setStatus("starting");
    post({ type: "train", job });
  } catch (e) {
    message((e as Error).message);
  }
}

function resume(): void {
  resetResults();
  setBusy(true);
  setStatus("resuming");
  post({ type: "resume" });
}

function cancel(): void {
  if (cancelFlag) {
    Atomics.store(new Int32Array(cancelFlag), 0, 1);
    setStatus("cancelling");
    return;
  }
  // no shared memory: stop the worker outright; the last saved checkpoint stays resumable
  worker.terminate();
  setStatus("cancelled");
  startWorker();
}

function download(): void {
  if (!adapter) return;
  const save = (bytes: Uint8Array, name: string, type: string) => {
    const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type }));
    const a = document.createElement("a");
    a.href = url;
    a.download = name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  };
  save(adapter.config, "adapter_config.json", "application/json");
  save(adapter.weights, "adapter_model.safetensors", "application/octet-stream");
}

async function guarded(f: () => Promise<string> | string, infoId: string): Promise<void> {
  try {
    $(infoId).textContent = await f();
  } catch (e) {
    $(infoId).textContent = (e as Error).message;
  }
}

function takeModel(files: File[]): Promise<void> {
  return guarded(() => {
    const line = takeModelFiles(files);
    const local = $<HTMLSelectElement>("model").querySelector<HTMLOptionElement>("option[value=local]")!;
    local.disabled = false;
    local.textContent = `dropped: ${line.split(":")[0]}`;
    $<HTMLSelectElement>("model").value = "local";
    return line;
  }, "model-info");
}

function takeData(files: File[]): Promise<void> {
  return guarded(async () => {
    if (files.length !== 1) throw new Error(`drop one data file (got ${files.length})`);
    const line = await takeDataFile(files[0]);
    $<HTMLSelectElement>("data").value = "file";
    return line;
  }, "data-info");
}

$("train").addEventListener("click", start);
$("cancel").addEventListener("click", cancel);
$("resume").addEventListener("click", resume);
$("discard").addEventListener("click", () => { post({ type: "discard" }); showResumable(null); });
$("download").addEventListener("click", download);
$("try").addEventListener("click", () => post({ type: "predict", text: $<HTMLInputElement>("try-text").value }));
$("model-files").addEventListener("change", (e) => takeModel(Array.from((e.target as HTMLInputElement).files ?? [])));
$("data-file").addEventListener("change", (e) => takeData(Array.from((e.target as HTMLInputElement).files ?? [])));
$("data-paste").addEventListener("input", () => { $<HTMLSelectElement>("data").value = "file"; });
dropZone($("model-drop"), takeModel);
dropZone($("data-drop"), takeData);

let autorun = applyAutorunQuery(query);
startWorker();
