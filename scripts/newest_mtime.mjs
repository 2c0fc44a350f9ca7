// The newest modification time (ms) of any file under a folder, recursively: how the build scripts
// (scripts/build-web.mjs, scripts/web.ts) tell whether an output is older than its sources.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/** @param {string} dir @returns {number} */
export function newestMtime(dir) {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newestMtime(p) : s.mtimeMs);
  }
  return t;
}
