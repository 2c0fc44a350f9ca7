// Host facts from node:os for env.ts (registered by src/node.ts): total memory, the home directory.
import { homedir, totalmem } from "node:os";
import type { HostInfo } from "./env.js";

export const nodeHost: HostInfo = { totalMemoryBytes: () => totalmem(), homeDir: () => homedir() };
