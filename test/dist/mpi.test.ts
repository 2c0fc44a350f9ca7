// MPI collectives with 2 ranks (each case is one mpirun of a script under fixtures/, bounded by a
// timeout). Skipped, with the reason, when mpirun or the MPI addon is missing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { addonSkip, MPI_ENV_NO_CMA } from "../helpers/mpi.js";

const root = join(fileURLToPath(import.meta.url), "..", "..", "..");
const skip = addonSkip();
if (skip) console.log(`# mpi.test.ts skipped: ${skip}`);

interface Run {
  status: number | null;
  signal: string | null;
  out: string;
  ms: number;
}

/** mpirun -np 2 of a fixture, killed (SIGTERM, which mpirun forwards) after limitMs. */
function mpirun(fixture: string, limitMs: number): Run {
  const t0 = Date.now();
  const r = spawnSync(
    "mpirun",
    ["-np", "2", "--oversubscribe", process.execPath, "--import", "tsx", join("test", "dist", "fixtures", `${fixture}.ts`)],
    {
      cwd: root,
      encoding: "utf8",
      timeout: limitMs,
      killSignal: "SIGTERM",
      env: MPI_ENV_NO_CMA,
      maxBuffer: 16 << 20,
    },
  );
  return { status: r.status, signal: r.signal, out: `${r.stdout ?? ""}${r.stderr ?? ""}`, ms: Date.now() - t0 };
}

test("every collective with 2 ranks matches known values (async overlap, 8M floats, ragged allgatherBytes)", { skip }, () => {
  const r = mpirun("collectives", 120_000);
  assert.equal(r.status, 0, r.out);
  for (const name of ["allreduce", "allreduce-shared", "allreduce-async", "allreduce-two-in-flight", "allreduce-8M", "broadcast", "allgather", "allgatherBytes", "reduceScatter", "barrier", "counters", "reduceScatterV", "finalize"])
    for (const rank of [0, 1]) assert.ok(r.out.includes(`PASS ${name} rank ${rank}\n`), `${name} on rank ${rank}:\n${r.out}`);
});

test("a rank that skips a collective: the peer's wait throws a DistributedError after the timeout and the job ends", { skip }, () => {
  const r = mpirun("timeout", 60_000);
  assert.equal(r.signal, null, `mpirun had to be killed (the job hung):\n${r.out}`);
  assert.notEqual(r.status, 0, r.out);
  const m = /CAUGHT after (\d+) ms \(DistributedError: true\): allreduce #2 \(524288 floats\) did not complete within 2 s on rank 0 of 2: a peer rank was lost or is stuck \(ddp_timeout\)/.exec(r.out);
  assert.ok(m, r.out);
  const waited = Number(m[1]);
  assert.ok(waited >= 1900 && waited < 6000, `waited ${waited} ms for a 2 s timeout`);
  assert.match(r.out, /NEXT: barrier on rank 0 of 2: the group is unusable after an earlier timeout/);
  assert.match(r.out, /aborting the MPI job \(exit code 1\): rank 0 of 2: uncaught DistributedError: allreduce #2/);
  // mpirun's banner for the abort; OpenMPI sometimes fails to unpack that help text ("Data unpack had
  // inadequate space" / "would read past end of buffer" in show_help.c), after the abort all the same
  assert.match(r.out, /MPI_ABORT was invoked on rank 0|ORTE_ERROR_LOG: Data unpack[^\n]*show_help\.c/);
  assert.ok(!r.out.includes("rank 1 woke up"), r.out);
  assert.ok(r.ms < 40_000, `the job took ${r.ms} ms to end`);
});

test("a rank killed with SIGKILL mid-loop: the job ends within a bound and names the lost rank", { skip }, () => {
  const r = mpirun("kill", 60_000);
  assert.equal(r.signal, null, `mpirun had to be killed (the job hung):\n${r.out}`);
  assert.notEqual(r.status, 0, r.out);
  assert.match(r.out, /rank 1 kills itself at step 20/);
  // mpirun's report, or (if rank 0 noticed first) our timeout/abort message
  assert.match(r.out, /process rank 1 with PID \d+ on node \S+ exited on signal 9|did not complete within 10 s on rank 0 of 2/, r.out);
  assert.ok(!r.out.includes("loop finished"), r.out);
  assert.ok(r.ms < 40_000, `the job took ${r.ms} ms to end`);
});

test("started by mpirun (per the env) without the MPI addon: a DistributedError says what is missing and how to fix it", () => {
  const code = `import("./src/node.ts").then(() => import("./src/dist/index.ts")).then((d) => { try { d.initDistributed(); console.log("NO ERROR"); } catch (e) { console.log(e.name + ": " + e.message); } })`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "-e", code], {
    cwd: root,
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, OMPI_COMM_WORLD_RANK: "1", OMPI_COMM_WORLD_SIZE: "2", PEFT_TS_MPI_ADDON: join(root, "no-such-peft_mpi.node") },
  });
  assert.match(
    r.stdout,
    /DistributedError: this process was started by mpirun \(rank 1 of 2\) but the MPI addon is missing \(PEFT_TS_MPI_ADDON=.*no-such-peft_mpi.node does not exist\); to run on MPI: apt-get install openmpi-bin libopenmpi-dev, then npm run build:native/,
    r.stdout + r.stderr,
  );
});

test("mpiAvailable() says why when the addon is missing", () => {
  const r = spawnSync(process.execPath, ["--import", "tsx", "-e", `import("./src/node.ts").then(() => import("./src/dist/index.ts")).then((d) => console.log(JSON.stringify(d.mpiAvailable())))`], {
    cwd: root,
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, PEFT_TS_MPI_ADDON: "/nonexistent/peft_mpi.node" },
  });
  const got = JSON.parse(r.stdout.trim()) as { ok: boolean; why?: string };
  assert.equal(got.ok, false);
  assert.match(got.why ?? "", /PEFT_TS_MPI_ADDON=\/nonexistent\/peft_mpi.node does not exist|not on PATH/);
});
