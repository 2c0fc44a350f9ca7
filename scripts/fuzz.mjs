// npm run fuzz: the reader fuzz campaign (scripts/fuzz/main.ts), run through tsx.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(fileURLToPath(import.meta.url), "..", "..");
const res = spawnSync(process.execPath, ["--import", "tsx", join(root, "scripts", "fuzz", "main.ts"), ...process.argv.slice(2)], { cwd: root, stdio: "inherit" });
process.exit(res.status ?? 1);
