// Reads the page's controls (or the ?autorun query) into a TrainJob, and keeps the dropped files.
import type { DataSource, ModelSource, TrainJob } from "./protocol.js";

/** Texts whose logits the page reports after training (the acceptance test recomputes them in Node). */
export const PROBE_TEXTS = [
  "a gorgeous , witty , seductive movie .",
  "the plot is nothing but boilerplate cliches , and the acting is dreadful .",
  "it 's not a great film , but it is a pleasant one .",
  "unflinchingly bleak and desperate",
];

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const num = (id: string) => Number($<HTMLInputElement>(id).value);

/** Files the user dropped: a model folder and/or one data file (or pasted text). */
export const dropped: { modelFiles: File[]; modelName: string; dataName: string; dataText: string } = {
  modelFiles: [], modelName: "", dataName: "", dataText: "",
};

function modelSource(): ModelSource {
  const v = $<HTMLSelectElement>("model").value;
  if (v === "local") return { kind: "local", name: dropped.modelName, files: dropped.modelFiles };
  return { kind: "bundled", name: v.replace(/^bundled:/, "") };
}

function dataSource(): DataSource {
  if ($<HTMLSelectElement>("data").value === "sst2") return { kind: "sst2", trainRows: num("train-rows"), evalRows: num("eval-rows") };
  const pasted = $<HTMLTextAreaElement>("data-paste").value.trim();
  const text = pasted || dropped.dataText;
  if (!text) throw new Error("choose a data file or paste labelled texts first (columns text,label)");
  // pasted text: JSONL when it starts with "{", CSV otherwise
  const name = pasted ? (pasted.startsWith("{") ? "pasted.jsonl" : "pasted.csv") : dropped.dataName;
  return { kind: "file", name, text, evalFraction: 0.2 };
}

/** The job the form describes. */
export function jobFromForm(): TrainJob {
  return {
    model: modelSource(),
    data: dataSource(),
    loraR: num("lora-r"),
    loraAlpha: num("lora-alpha"),
    targetModules: $<HTMLInputElement>("targets").value.trim() || "all-linear",
    epochs: num("epochs"),
    learningRate: num("lr"),
    batchSize: num("batch"),
    maxLength: num("max-length"),
    maxSteps: num("max-steps"),
    seed: 0,
    probeTexts: PROBE_TEXTS,
  };
}

/** ?autorun=1&steps=N[&batch=B&eval=E&model=NAME&lr=X]: fills the form for a run on bundled SST-2 rows (?backend= is page.ts's). */
export function applyAutorunQuery(q: URLSearchParams): boolean {
  if (q.get("autorun") !== "1") return false;
  const steps = Math.max(1, Number(q.get("steps") ?? 30) | 0);
  const batch = Math.max(1, Number(q.get("batch") ?? 32) | 0);
  const set = (id: string, v: string | number) => { $<HTMLInputElement>(id).value = String(v); };
  $<HTMLSelectElement>("model").value = `bundled:${q.get("model") ?? "llama-mini-en"}`;
  $<HTMLSelectElement>("data").value = "sst2";
  set("batch", batch);
  set("max-steps", steps);
  set("epochs", 1);
  // one pass over fresh rows: steps × batch training rows (at most the 5,000 bundled)
  set("train-rows", Math.min(5000, steps * batch));
  set("eval-rows", Number(q.get("eval") ?? 200) | 0);
  if (q.get("lr")) set("lr", q.get("lr")!);
  return true;
}

/** Remembers a dropped/picked model folder; returns a line describing it. */
export function takeModelFiles(files: File[]): string {
  const names = files.map((f) => f.name);
  if (!names.includes("config.json")) throw new Error(`the dropped folder has no config.json (got ${names.join(", ") || "nothing"})`);
  if (!names.some((n) => n.endsWith(".safetensors"))) throw new Error("the dropped folder has no *.safetensors weights");
  const rel = (files[0] as File & { webkitRelativePath?: string }).webkitRelativePath ?? "";
  dropped.modelFiles = files;
  dropped.modelName = rel.split("/")[0] || "dropped-model";
  return `${dropped.modelName}: ${names.join(", ")}`;
}

/** Remembers a dropped/picked data file. */
export async function takeDataFile(file: File): Promise<string> {
  dropped.dataName = file.name;
  dropped.dataText = await file.text();
  const lines = dropped.dataText.split("\n").filter((l) => l.trim()).length;
  return `${file.name}: ${lines} lines`;
}
