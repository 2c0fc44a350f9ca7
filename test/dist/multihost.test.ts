// Multi-host data parallelism, tested on one machine: two network namespaces joined by a veth pair
// stand in for two hosts. `peft-ts train --nproc_per_node 1 --hostfile FILE` (one rank on each host) runs inside namespace A
// with a hostfile listing A's and B's addresses (one slot each), so rank 0 runs in A and rank 1 in B;
// mpirun reaches "host" B through an rsh agent that enters namespace B (fixtures/netns_rsh.sh)
// instead of ssh, and OpenMPI is held to TCP over the veth's /24 (bootstrap and MPI traffic). The run
// must match one process with the same global batch outside the namespaces: the same loss at every
// step and the same adapter. Namespaces and everything left in them are removed at the end, also on
// failure. Needs root, iproute2, OpenMPI and the MPI addon: where the machine refuses `ip netns add`
// (or the veth) or one is missing, the test says why and is skipped (never counted as passed).

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bertTinyNoDropout, adapterMaxDiff, loggedLosses as losses, loraTrainArgv as trainArgs, ROOT, writeSst2Split } from "../cli/helpers.js";
import { mpiEnv, whyNoMpi } from "../helpers/mpi.js";
import { create, plan, remove, vethBytes, type NetnsPair } from "./fixtures/netns.js";

const AGENT = join(import.meta.dirname, "fixtures", "netns_rsh.sh");
/** Every spawn is bounded; the whole test stays under 3 minutes. */
const RUN_TIMEOUT_MS = 75_000;

function whyNot(): string | null {
  if (process.platform !== "linux") return `network namespaces are Linux-only (platform ${process.platform})`;
  if (process.getuid?.() !== 0) return "creating network namespaces needs root (the CI machine runs as root)";
  const v = spawnSync("ip", ["-V"], { encoding: "utf8", timeout: 10_000 });
  if (v.error || v.status !== 0) return "iproute2's `ip` was not found (Debian/Ubuntu: apt-get install iproute2)";
  return whyNoMpi();
}

let ns: NetnsPair | null = null;
let cleaned = false;
function cleanup(): void {
  if (!ns || cleaned) return;
  cleaned = true;
  const problems = remove(ns);
  if (problems.length) console.log(`# multihost: cleanup problems: ${problems.join("; ")}`);
}
after(cleanup);
// the runner being stopped must not leave namespaces behind either
process.on("exit", cleanup);

let tmp = "";
after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test("2 hosts (network namespaces over a veth, mpirun over TCP) × batch 4 = one process × batch 8: same losses and adapter", (t) => {
  const why = whyNot();
  if (why) {
    console.log(`# multihost: SKIPPED, not passed: ${why}`);
    t.skip(why);
    return;
  }
  const t0 = Date.now();
  ns = plan();
  const failed = create(ns);
  if (failed) {
    console.log(`# multihost: SKIPPED, not passed: this machine cannot create the two network namespaces: ${failed}`);
    t.skip(`cannot create network namespaces: ${failed}`);
    return;
  }
  try {
    tmp = mkdtempSync(join(tmpdir(), "peft-ts-multihost-"));
    const model = bertTinyNoDropout(tmp);
    const { trainTsv } = writeSst2Split(tmp, 32, 0);

    // one process, outside the namespaces
    const one = join(tmp, "one");
    const a = spawnSync(process.execPath, trainArgs(model, trainTsv, one, ["--per_device_train_batch_size", "8"]), { cwd: ROOT, encoding: "utf8", timeout: RUN_TIMEOUT_MS });
    assert.equal(a.status, 0, `single-process run: ${a.error?.message ?? ""}\n${a.stderr}`);

    // two ranks on the two "hosts": the CLI inside A starts mpirun with the hostfile
    const hostfile = join(tmp, "hostfile");
    writeFileSync(hostfile, `${ns.addrA} slots=1\n${ns.addrB} slots=1\n`);
    const agentLog = join(tmp, "agent.log");
    const env = mpiEnv({
      // reach B through the namespace agent, not ssh; the one remote daemon is started directly
      OMPI_MCA_plm_rsh_agent: AGENT,
      OMPI_MCA_plm_rsh_no_tree_spawn: "1",
      PEFT_TS_NETNS_HOSTS: `${ns.addrB}=${ns.b}`,
      PEFT_TS_NETNS_LOG: agentLog,
      // MPI messages over TCP only (no shared memory between the "hosts"), bootstrap and MPI
      // traffic only on the veth's /24, in fixed port ranges (as a firewall between real hosts needs)
      OMPI_MCA_btl: "tcp,self",
      OMPI_MCA_btl_tcp_if_include: ns.subnet,
      OMPI_MCA_oob_tcp_if_include: ns.subnet,
      OMPI_MCA_btl_tcp_port_min_v4: "46100",
      OMPI_MCA_btl_tcp_port_range_v4: "100",
      OMPI_MCA_oob_tcp_dynamic_ipv4_ports: "46000-46099",
    });
    const before = vethBytes(ns);
    const two = join(tmp, "two");
    const b = spawnSync("ip", ["netns", "exec", ns.a, process.execPath,
      ...trainArgs(model, trainTsv, two, ["--per_device_train_batch_size", "4", "--nproc_per_node", "1", "--hostfile", hostfile])],
    { cwd: ROOT, encoding: "utf8", env, timeout: RUN_TIMEOUT_MS, killSignal: "SIGKILL" });
    const agentCalls = existsSync(agentLog) ? readFileSync(agentLog, "utf8").split("\n").filter(Boolean) : [];
    const diag = `${b.error?.message ?? ""}\n${b.stderr}\n${b.stdout.slice(-2000)}\nagent calls:\n${agentCalls.join("\n")}`;
    assert.equal(b.status, 0, `2-host run exited ${b.status}: ${diag}`);
    const after = vethBytes(ns);

    // rank 1 ran in B: mpirun started exactly one daemon there, through the agent
    assert.equal(agentCalls.length, 1, `one remote daemon, on ${ns.addrB}:\n${agentCalls.join("\n")}`);
    assert.ok(agentCalls[0].startsWith(`${ns.addrB} ${ns.b} `), agentCalls[0]);
    // and the ranks talked over the veth (bootstrap + 3 steps of gradient allreduce and the rest)
    if (before && after) assert.ok(after.tx - before.tx > 10_000 && after.rx - before.rx > 10_000, `veth traffic tx ${after.tx - before.tx} rx ${after.rx - before.rx} bytes`);
    // rank 0 alone reports
    assert.equal(b.stdout.split("\n").filter((l) => l.startsWith("==> training")).length, 1, b.stdout);

    const la = losses(one), lb = losses(two);
    assert.equal(la.length, 3);
    assert.equal(lb.length, 3, "one log entry per step (rank 0 only)");
    la.forEach((v, i) => assert.ok(Math.abs(v - lb[i]) < 1e-5, `step ${i + 1}: loss ${lb[i]} on 2 hosts vs ${v}`));
    const worst = adapterMaxDiff(one, two);
    assert.ok(worst < 1e-5, `adapter tensors differ by up to ${worst}`);
    const bytes = before && after ? `, veth A tx ${after.tx - before.tx} / rx ${after.rx - before.rx} bytes` : "";
    console.log(`# multihost: ${ns.a} (${ns.addrA}, rank 0) + ${ns.b} (${ns.addrB}, rank 1): max |Δloss| ${Math.max(...la.map((v, i) => Math.abs(v - lb[i]))).toExponential(2)}, max |Δadapter| ${worst.toExponential(2)}${bytes}, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } finally {
    cleanup();
  }
  const listed = spawnSync("ip", ["netns", "list"], { encoding: "utf8", timeout: 10_000 }).stdout.split("\n").map((l) => l.split(" ")[0]);
  assert.deepEqual([ns.a, ns.b].filter((n) => listed.includes(n)), [], "the namespaces are removed");
});
