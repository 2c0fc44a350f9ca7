// The --nproc_per_node launcher: which argv the ranks get, the mpirun command line, rank detection
// from mpirun's environment, and the one-line errors.

import { test } from "node:test";
import assert from "node:assert/strict";
import { isMainProcess, mpiRankFromEnv, mpirunArgs, stripLaunchFlags } from "../../src/cli/launch.js";
import { cliInProcess } from "./helpers.js";

test("the ranks get the command line without the launcher's flags, in every spelling", () => {
  assert.deepEqual(
    stripLaunchFlags(["train", "--nproc_per_node", "2", "-m", "x", "--hostfile=h.txt", "--nproc-per-node=4", "--max_steps", "3", "--hostfile", "f"]),
    ["train", "-m", "x", "--max_steps", "3"],
  );
});

test("mpirun runs this package's bin with the same node, N ranks here or N on every host of the hostfile", () => {
  assert.deepEqual(mpirunArgs(["train"], 2, null).slice(0, 2), ["-np", "2"]);
  const a = mpirunArgs(["train", "--nproc_per_node", "2", "-m", "m"], 2, "hosts");
  assert.deepEqual(a.slice(0, 4), ["--hostfile", "hosts", "--npernode", "2"]);
  assert.equal(a[a.indexOf("--bind-to") + 1], "none");
  const node = a.indexOf(process.execPath);
  assert.ok(node > 0 && a[node + 1].endsWith("bin/peft-ts.js"));
  assert.deepEqual(a.slice(node + 2), ["train", "-m", "m"]);
  assert.ok(mpirunArgs(["train"], 64, null).includes("--oversubscribe"), "more ranks than cores need --oversubscribe");
});

test("a process started by mpirun knows its rank; only rank 0 is the main process", () => {
  assert.equal(mpiRankFromEnv({}), null);
  assert.deepEqual(mpiRankFromEnv({ OMPI_COMM_WORLD_SIZE: "2", OMPI_COMM_WORLD_RANK: "1" }), { rank: 1, worldSize: 2 });
  assert.equal(isMainProcess({ OMPI_COMM_WORLD_SIZE: "2", OMPI_COMM_WORLD_RANK: "1" }), false);
  assert.equal(isMainProcess({ OMPI_COMM_WORLD_SIZE: "2", OMPI_COMM_WORLD_RANK: "0" }), true);
  assert.equal(isMainProcess({}), true);
});

test("bad launcher values are one-line errors", async () => {
  const r = await cliInProcess(["train", "--nproc_per_node", "0", "--output_dir", "/tmp/x"]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /^peft-ts: error: --nproc_per_node must be a positive integer, got 0$/m);
  const h = await cliInProcess(["train", "--nproc_per_node", "2", "--hostfile", "/no/such/hostfile"]);
  assert.notEqual(h.code, 0);
  assert.match(h.stderr, /--hostfile: file not found: \/no\/such\/hostfile/);
});
