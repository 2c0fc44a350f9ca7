#!/usr/bin/env node
// peft-ts executable: runs the compiled CLI (dist/), or the TypeScript source through tsx (in this process) when
// the package has not been built (a fresh checkout before `npm install`/`npm run build`).
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const built = join(root, "dist", "src", "cli", "main.js");

if (existsSync(built)) {
  const { main } = await import(pathToFileURL(built).href);
  process.exitCode = await main(process.argv.slice(2));
} else {
  // in this process (tsx's loader registered here), not a child: signals sent to this pid (a
  // stop request, mpirun's forwarding to the ranks) reach the CLI's own handlers
  const { register } = await import("tsx/esm/api");
  register();
  const { main } = await import(pathToFileURL(join(root, "src", "cli", "main.ts")).href);
  process.exitCode = await main(process.argv.slice(2));
}
