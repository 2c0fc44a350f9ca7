#!/usr/bin/env node
// peft-ts executable: runs the compiled CLI (dist/), or the TypeScript source through tsx when
// the package has not been built (a fresh checkout before `npm install`/`npm run build`).
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { spawnSync } from "node:child_process";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const built = join(root, "dist", "src", "cli", "main.js");

if (existsSync(built)) {
  const { main } = await import(pathToFileURL(built).href);
  process.exitCode = await main(process.argv.slice(2));
} else {
  const src = join(root, "src", "cli", "main.ts");
  const r = spawnSync(process.execPath, ["--import", import.meta.resolve("tsx"), src, ...process.argv.slice(2)], { stdio: "inherit", cwd: process.cwd() });
  process.exitCode = r.status ?? 1;
}
