// The messages between the page (page.ts) and the training worker (worker.ts). Both sides import
// only types from here, so the page script stays free of the library.

/** A model the page offers: a bundled directory served from /models/, or files the user dropped. */
export type ModelSource =
  | { kind: "bundled"; name: string }
  | { kind: "local"; name: string; files: File[] };

/** Labelled texts: the bundled SST-2 files, or one file the user dropped or pasted. */
export type DataSource =
  | { kind: "sst2"; trainRows: number; evalRows: number }
  | { kind: "file"; name: string; text: string; evalFraction: number };

/** What the Train button (or ?autorun=1) asks for. Field names follow HF TrainingArguments / LoraConfig. */
export interface TrainJob {
  model: ModelSource;
  data: DataSource;
  loraR: number;
  loraAlpha: number;
  /** "all-linear" or a comma-separated list of module names (q_proj,v_proj). */
  targetModules: string;
  epochs: number;
  learningRate: number;
  batchSize: number;
  maxLength: number;
  /** Stops after this many optimizer steps when > 0 (HF max_steps). */
  maxSteps: number;
  seed: number;
  /** Held-out texts whose logits the page shows after training (window.__peftResult). */
  probeTexts: string[];
}

export type PageToWorker =
  /** backend: "auto" (wasm, else the TS kernels) or a name to insist on ("wasm", "ts"). */
  | { type: "init"; cancelFlag: SharedArrayBuffer | null; backend: string }
  | { type: "train"; job: TrainJob }
  | { type: "resume" }
  | { type: "discard" }
  | { type: "cancel" }
  | { type: "predict"; text: string };

/** One optimizer step, as the issue names the fields. */
export interface Progress {
  step: number;
  maxSteps: number;
  epoch: number;
  loss: number;
  lr: number;
  tokensPerSecond: number;
  stepsPerSecond: number;
}

/** The adapter as HF PEFT writes it: two files, ready for download. */
export interface AdapterFiles {
  config: Uint8Array;
  weights: Uint8Array;
}

export type WorkerToPage =
  | { type: "ready"; backend: string; threads: number; resumable: ResumeInfo | null }
  | { type: "status"; text: string }
  | { type: "progress"; progress: Progress }
  | { type: "accuracy"; which: "before" | "after"; accuracy: number; rows: number }
  | { type: "trained"; adapter: AdapterFiles; probes: ProbeResult; summary: TrainSummary }
  | { type: "prediction"; text: string; labels: string[]; probabilities: number[] }
  | { type: "cancelled"; step: number; resumable: ResumeInfo | null }
  | { type: "error"; message: string };

/** A checkpoint found in the browser's storage after a reload. */
export interface ResumeInfo {
  step: number;
  maxSteps: number;
  job: TrainJob;
}

/** Logits of the probe texts, one row each (each text run alone, no padding). */
export interface ProbeResult {
  texts: string[];
  logits: number[][];
}

export interface TrainSummary {
  steps: number;
  seconds: number;
  tokensPerSecond: number;
  stepsPerSecond: number;
  trainRows: number;
  evalRows: number;
  backend: string;
}
