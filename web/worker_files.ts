// What the worker puts into the library's in-memory file system, and what it keeps across a reload:
// the bundled model/data fetched from this origin, dropped files, the run's checkpoint (OPFS).
import { getFiles, mountBlobs, mountUrl, persistToOpfs, restoreFromOpfs } from "peft-ts";
import type { ModelSource, TrainJob } from "./protocol.js";
import { RUN_DIR } from "./worker_train.js";

/** The job of the run in RUN_DIR (with a dropped model's files left out: they live in RUN_DIR/model). */
const JOB_FILE = `${RUN_DIR}/job.json`;
const LOCAL_MODEL_DIR = `${RUN_DIR}/model`;
const DATA_DIR = `${RUN_DIR}/data`;
/** The name of the run's folder in the origin-private file system. */
const STORE = "peft-ts-run";

interface Bundled { models: Record<string, string[]>; data: string[] }
let bundled: Bundled | null = null;

async function bundledIndex(): Promise<Bundled> {
  if (!bundled) {
    const res = await fetch(new URL("./bundled.json", self.location.href));
    if (!res.ok) throw new Error(`bundled.json: HTTP ${res.status}`);
    bundled = (await res.json()) as Bundled;
  }
  return bundled;
}

/** Fetches the bundled SST-2 files to /data/sst2/. */
export async function mountBundledData(): Promise<void> {
  const { data } = await bundledIndex();
  for (const path of data) if (!getFiles().exists(`/${path}`)) await mountUrl(new URL(`./${path}`, self.location.href).href, `/${path}`);
}

/** The model's directory in the file system, fetched or copied there first. */
export async function mountModel(model: ModelSource): Promise<string> {
  if (model.kind === "local") {
    if (model.files.length) {
      getFiles().rm(LOCAL_MODEL_DIR, { recursive: true, force: true });
      await mountBlobs(model.files, LOCAL_MODEL_DIR);
    }
    if (!getFiles().exists(`${LOCAL_MODEL_DIR}/config.json`)) throw new Error("the dropped model folder is gone (no config.json); drop it again");
    return LOCAL_MODEL_DIR;
  }
  const { models } = await bundledIndex();
  const files = models[model.name];
  if (!files) throw new Error(`no bundled model '${model.name}' (bundled: ${Object.keys(models).join(", ")})`);
  const dir = `/models/${model.name}`;
  for (const f of files) if (!getFiles().exists(`${dir}/${f}`)) await mountUrl(new URL(`./models/${model.name}/${f}`, self.location.href).href, `${dir}/${f}`);
  return dir;
}

/** Writes the job's pasted/dropped data file into the run folder; returns its path (null for SST-2). */
export function mountJobData(job: TrainJob): string | null {
  if (job.data.kind !== "file") return null;
  const fs = getFiles();
  fs.mkdir(DATA_DIR);
  const path = `${DATA_DIR}/${job.data.name.replace(/[^\w.-]/g, "_")}`;
  fs.writeFile(path, job.data.text);
  return path;
}

/** Starts a fresh run folder holding the job (its data and dropped model come with it into OPFS). */
export function writeJob(job: TrainJob): void {
  const fs = getFiles();
  for (const name of fs.exists(RUN_DIR) ? fs.readdir(RUN_DIR) : []) if (name !== "model") fs.rm(`${RUN_DIR}/${name}`, { recursive: true, force: true });
  fs.mkdir(RUN_DIR);
  const stored: TrainJob = job.model.kind === "local" ? { ...job, model: { ...job.model, files: [] } } : job;
  fs.writeFile(JOB_FILE, JSON.stringify(stored));
}

export function readJob(): TrainJob | null {
  const fs = getFiles();
  return fs.exists(JOB_FILE) ? (JSON.parse(fs.readText(JOB_FILE)) as TrainJob) : null;
}

/** Copies the run folder to the origin-private file system (survives a reload). */
export async function persistRun(): Promise<void> {
  await persistToOpfs(RUN_DIR, STORE);
}

/** Brings a run folder kept by an earlier visit back into memory; false when there is none. */
export async function restoreRun(): Promise<boolean> {
  try {
    await restoreFromOpfs(STORE, RUN_DIR);
  } catch {
    return false;
  }
  return getFiles().exists(JOB_FILE);
}

/** Forgets the kept run (memory and OPFS). */
export async function discardRun(): Promise<void> {
  getFiles().rm(RUN_DIR, { recursive: true, force: true });
  const root = await navigator.storage.getDirectory();
  await root.removeEntry(STORE, { recursive: true }).catch(() => {});
}

/** The two files savePretrained wrote, as bytes. */
export function readAdapter(dir: string): { config: Uint8Array; weights: Uint8Array } {
  const fs = getFiles();
  // copies: the page gets the buffers (transferred), the file system keeps its own
  return { config: fs.readFile(`${dir}/adapter_config.json`).slice(), weights: fs.readFile(`${dir}/adapter_model.safetensors`).slice() };
}
