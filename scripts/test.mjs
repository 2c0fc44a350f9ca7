// Runs every test file under test/ with node:test (Node 20 has no glob support in --test).
// Usage: node scripts/test.mjs [filter-substring ...]
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = join(fileURLToPath(import.meta.url), "..", "..");
function walk(dir, out) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith(".test.ts")) out.push(relative(root, p));
  }
  return out;
}
const filters = process.argv.slice(2);
const files = walk(join(root, "test"), []).filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error("no test files matched", filters);
  process.exit(1);
}
const res = spawnSync(process.execPath, ["--import", "tsx", "--import", "./src/node.ts", "--test", "--test-concurrency=1", ...files], {
  cwd: root,
  stdio: "inherit",
  env: process.env,
});
process.exit(res.status ?? 1);
