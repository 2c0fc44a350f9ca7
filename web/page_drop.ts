// Drag-and-drop zones: a dropped folder is walked (webkitGetAsEntry) into its files, so a Hugging
// Face model directory can be dropped as a whole; a picked <input type=file> gives the same list.

type Entry = FileSystemEntry;

function readAll(dir: FileSystemDirectoryEntry): Promise<Entry[]> {
  const reader = dir.createReader();
  const out: Entry[] = [];
  return new Promise((ok, fail) => {
    // readEntries hands back batches until an empty one
    const next = () => reader.readEntries((batch) => {
      if (!batch.length) ok(out);
      else { out.push(...batch); next(); }
    }, fail);
    next();
  });
}

async function filesOf(entry: Entry): Promise<File[]> {
  if (entry.isFile) return [await new Promise<File>((ok, fail) => (entry as FileSystemFileEntry).file(ok, fail))];
  // only the folder's own files: a model directory is flat
  const children = await readAll(entry as FileSystemDirectoryEntry);
  const files = await Promise.all(children.filter((c) => c.isFile).map(filesOf));
  return files.flat();
}

/** Calls `take` with the files dropped on `zone` (a folder's files, or the files themselves). */
export function dropZone(zone: HTMLElement, take: (files: File[]) => Promise<void> | void): void {
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", async (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    const items = Array.from(e.dataTransfer?.items ?? []);
    const entries = items.map((i) => i.webkitGetAsEntry()).filter((x): x is Entry => x !== null);
    const files = entries.length ? (await Promise.all(entries.map(filesOf))).flat() : Array.from(e.dataTransfer?.files ?? []);
    await take(files);
  });
}
