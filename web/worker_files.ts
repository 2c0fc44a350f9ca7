// What the worker puts into the library's in-memory file system (memoryFiles of the browser entry),
// and what it keeps across a reload: the bundled model/data fetched from this origin, dropped
// files, the run folder with its checkpoint (persisted to OPFS, IndexedDB where OPFS is missing).
import { memoryFiles as fs, mountBlobs, mountUrl, persistToOpfs, restoreFromOpfs } from "peft-ts";
import type { ModelSource, TrainJob } from "./protocol.js";
import { RUN_DIR } from "./worker_train.js";

/** The job of the run in RUN_DIR (a dropped model's files are left out: they live in RUN_DIR/model). */
const JOB_FILE = `${RUN_DIR}/job.json`;
const LOCAL_MODEL_DIR = `${RUN_DIR}/model`;
const DATA_DIR = `${RUN_DIR}/data`;

interface Bundled { models: Record<string, string[]>; data: string[] }
let bundled: Bundled | null = null;
const here = (path: string) => new URL(path, self.location.href).href;

async function bundledIndex(): Promise<Bundled> {
  if (!bundled) {
    const res = await fetch(here("./bundled.json"));
    if (!res.ok) throw new Error(`bundled.json: HTTP ${res.status}`);
    bundled = (await res.json()) as Bundled;
  }
  return bundled;
}

/** Fetches the bundled SST-2 files to /data/sst2/ (once). */
export async function mountBundledData(): Promise<void> {
  const { data } = await bundledIndex();
  const missing = data.filter((p) => !fs.exists(`/${p}`));
  for (const p of missing) await mountUrl(fs, `/${p.slice(0, p.lastIndexOf("/"))}`, here(`./${p.slice(0, p.lastIndexOf("/") + 1)}`), [p.slice(p.lastIndexOf("/") + 1)]);
}

/** The model's directory in the file system, fetched or copied there first. */
export async function mountModel(model: ModelSource): Promise<string> {
  if (model.kind === "local") {
    if (model.files.length) {
      fs.rm(LOCAL_MODEL_DIR, { recursive: true, force: true });
      // by name: a folder picked with webkitdirectory would otherwise keep its own name as a subfolder
      await mountBlobs(fs, LOCAL_MODEL_DIR, model.files.map((f) => new File([f], f.name)));
    }
    if (!fs.exists(`${LOCAL_MODEL_DIR}/config.json`)) throw new Error("the dropped model folder is gone (no config.json in the kept run); drop it again");
    return LOCAL_MODEL_DIR;
  }
  const { models } = await bundledIndex();
  const files = models[model.name];
  if (!files) throw new Error(`no bundled model '${model.name}' (bundled: ${Object.keys(models).join(", ")})`);
  const dir = `/models/${model.name}`;
  const missing = files.filter((f) => !fs.exists(`${dir}/${f}`));
  if (missing.length) await mountUrl(fs, dir, here(`./models/${model.name}/`), missing);
  return dir;
}

/** Writes the job's pasted/dropped data file into the run folder; returns its path (null for SST-2). */
export function mountJobData(job: TrainJob): string | null {
  if (job.data.kind !== "file") return null;
  fs.mkdir(DATA_DIR);
  const path = `${DATA_DIR}/${job.data.name.replace(/[^\w.-]/g, "_")}`;
  fs.writeFile(path, job.data.text);
  return path;
}

/** Starts a fresh run folder holding the job (a dropped model's copy stays: the job mounts it again). */
export function writeJob(job: TrainJob): void {
  for (const name of fs.exists(RUN_DIR) ? fs.readdir(RUN_DIR) : []) if (name !== "model") fs.rm(`${RUN_DIR}/${name}`, { recursive: true, force: true });
  fs.mkdir(RUN_DIR);
  const stored: TrainJob = job.model.kind === "local" ? { ...job, model: { ...job.model, files: [] } } : job;
  fs.writeFile(JOB_FILE, JSON.stringify(stored));
}

export function readJob(): TrainJob | null {
  return fs.exists(JOB_FILE) ? (JSON.parse(fs.readText(JOB_FILE)) as TrainJob) : null;
}

/** Copies the run folder to the browser's storage (survives a reload). */
export async function persistRun(): Promise<void> {
  await persistToOpfs(fs, RUN_DIR);
}

/** Brings back a run folder kept by an earlier visit; false when there is none. */
export async function restoreRun(): Promise<boolean> {
  const paths = await restoreFromOpfs(fs, RUN_DIR);
  return paths.length > 0 && fs.exists(JOB_FILE);
}

/** Forgets the kept run (memory and storage: persisting the emptied folder empties the stored one). */
export async function discardRun(): Promise<void> {
  fs.rm(RUN_DIR, { recursive: true, force: true });
  fs.mkdir(RUN_DIR);
  await persistToOpfs(fs, RUN_DIR);
}

/** The two files savePretrained wrote, as bytes. */
export function readAdapter(dir: string): { config: Uint8Array; weights: Uint8Array } {
  // copies: the page gets these buffers (transferred), the file system keeps its own
  return { config: fs.readFile(`${dir}/adapter_config.json`).slice(), weights: fs.readFile(`${dir}/adapter_model.safetensors`).slice() };
}
