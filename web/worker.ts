// The training Web Worker: runs one fine-tuning job at a time with the library (worker_train.ts),
// posts {step, loss, lr, tokensPerSecond} after every step, stops at the step after Cancel (a flag
// in shared memory, so no message has to wait behind the busy loop), and keeps a checkpoint in the
// origin-private file system so a reloaded page resumes the run.
import { getBackend, memoryFiles as fs, setBackend, useWasmBackend } from "peft-ts";
import type { PageToWorker, ResumeInfo, TrainJob, WorkerToPage } from "./protocol.js";
import { ADAPTER_DIR, OUTPUT_DIR, RUN_DIR, heldOutAccuracy, predict, prepareRun, probe, type PreparedRun } from "./worker_train.js";
import { discardRun, mountBundledData, mountJobData, mountModel, persistRun, readAdapter, readJob, restoreRun, writeJob } from "./worker_files.js";

const post = (m: WorkerToPage, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);
let cancelFlag: Int32Array | null = null;
let run: PreparedRun | null = null;
let pendingPersist: Promise<void> = Promise.resolve();

/** The newest checkpoint of the kept run, read from its trainer_state.json. */
function resumeInfo(): ResumeInfo | null {
  const job = readJob();
  if (!job || !fs.exists(OUTPUT_DIR)) return null;
  const cps = fs.readdir(OUTPUT_DIR).filter((n) => /^checkpoint-\d+$/.test(n)).sort((a, b) => Number(a.slice(11)) - Number(b.slice(11)));
  if (!cps.length) return null;
  const state = JSON.parse(fs.readText(`${OUTPUT_DIR}/${cps[cps.length - 1]}/trainer_state.json`)) as { global_step: number; max_steps: number };
  return { step: state.global_step, maxSteps: state.max_steps, job };
}

/** The backend: "auto" tries wasm and falls back to the TS kernels; "wasm" insists; "ts" is the reference. */
async function chooseBackend(name: string): Promise<void> {
  if (name === "ts") {
    setBackend("ts");
    return;
  }
  if (name !== "auto" && name !== "wasm") throw new Error(`?backend=${name}: expected auto, wasm or ts`);
  try {
    await useWasmBackend(new URL("./browser/peft_kernels.wasm", self.location.href).href);
  } catch (e) {
    if (name === "wasm") throw e;
    setBackend("ts");
    post({ type: "status", text: `wasm backend unavailable (${(e as Error).message}); using the TS kernels` });
  }
}

async function init(flag: SharedArrayBuffer | null, backend: string): Promise<void> {
  cancelFlag = flag ? new Int32Array(flag) : null;
  await chooseBackend(backend);
  const kept = await restoreRun();
  const be = getBackend();
  post({ type: "ready", backend: be.name, threads: be.numThreads(), resumable: kept ? resumeInfo() : null });
}

const BEFORE_FILE = `${RUN_DIR}/accuracy_before.json`;

async function train(job: TrainJob, resume: boolean): Promise<void> {
  if (cancelFlag) Atomics.store(cancelFlag, 0, 0);
  if (!resume) writeJob(job);
  if (job.data.kind === "sst2") await mountBundledData();
  const modelDir = await mountModel(job.model);
  const dataPath = mountJobData(job);
  run = null;
  const r = await prepareRun(job, modelDir, dataPath, {
    progress: (progress) => post({ type: "progress", progress }),
    status: (text) => post({ type: "status", text }),
    cancelled: () => cancelFlag !== null && Atomics.load(cancelFlag, 0) === 1,
    saved: () => { pendingPersist = pendingPersist.then(persistRun); },
  });
  let before: number;
  if (resume && fs.exists(BEFORE_FILE)) before = JSON.parse(fs.readText(BEFORE_FILE)) as number;
  else {
    post({ type: "status", text: `evaluating ${r.evalRows} held-out rows` });
    before = await heldOutAccuracy(r);
    fs.writeFile(BEFORE_FILE, JSON.stringify(before));
    await persistRun();
  }
  post({ type: "accuracy", which: "before", accuracy: before, rows: r.evalRows });
  post({ type: "status", text: resume ? "resuming training" : "training" });
  const t0 = performance.now();
  const out = await r.trainer.train({ resumeFromCheckpoint: resume ? true : null });
  await pendingPersist;
  const seconds = (performance.now() - t0) / 1000;
  if (cancelFlag && Atomics.load(cancelFlag, 0) === 1 && out.globalStep < r.trainer.state.maxSteps) {
    post({ type: "cancelled", step: out.globalStep, resumable: resumeInfo() });
    return;
  }
  post({ type: "status", text: `evaluating ${r.evalRows} held-out rows` });
  const after = await heldOutAccuracy(r);
  post({ type: "accuracy", which: "after", accuracy: after, rows: r.evalRows });
  await r.peft.savePretrained(ADAPTER_DIR);
  const adapter = readAdapter(ADAPTER_DIR);
  const probes = probe(r, job.probeTexts);
  run = r;
  const { tokens, seconds: stepSeconds, steps } = r.counters;
  post({
    type: "trained", adapter, probes,
    summary: {
      steps: out.globalStep, seconds, tokensPerSecond: tokens / Math.max(stepSeconds, 1e-9), stepsPerSecond: steps / Math.max(stepSeconds, 1e-9),
      trainRows: r.trainRows, evalRows: r.evalRows, backend: getBackend().name,
    },
  }, [adapter.config.buffer, adapter.weights.buffer]);
  // the run is finished: nothing left to resume
  await discardRun();
}

async function handle(m: PageToWorker): Promise<void> {
  switch (m.type) {
    case "init": return init(m.cancelFlag, m.backend);
    case "train": return train(m.job, false);
    case "resume": {
      const job = readJob();
      if (!job) throw new Error("no kept run to resume");
      return train(job, true);
    }
    case "discard": return discardRun();
    case "cancel": return; // the shared flag carries it; without one the page ends the worker
    case "predict": {
      if (!run) throw new Error("train a model first");
      post({ type: "prediction", text: m.text, labels: run.labels, probabilities: predict(run, m.text) });
      return;
    }
  }
}

// one message at a time, in order (a Train waits for init)
let queue: Promise<void> = Promise.resolve();
self.onmessage = (e: MessageEvent<PageToWorker>) => {
  queue = queue.then(() => handle(e.data)).catch((err: unknown) => {
    const msg = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    post({ type: "error", message: msg });
  });
};
