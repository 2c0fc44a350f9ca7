import { test } from "node:test";
import assert from "node:assert/strict";
import { LocalGroup, initDistributed, getProcessGroup } from "../../src/dist/index.js";
import { mpiLaunchEnv } from "../../src/dist/mpi_addon.js";
import { DistributedError } from "../../src/tensor/errors.js";

test("LocalGroup: rank 0 of 1, collectives are the identity", () => {
  const g = new LocalGroup({ timeoutSeconds: 5 });
  assert.deepEqual([g.backend, g.rank, g.worldSize, g.localRank, g.localWorldSize, g.timeoutMs], ["local", 0, 1, 0, 1, 5000]);
  const x = Float32Array.from([1, 2, 3]);
  g.allreduceSum(x);
  const h = g.allreduceSumAsync(x);
  assert.ok(h.isDone());
  h.wait(1);
  assert.deepEqual(Array.from(x), [1, 2, 3]);
  g.broadcast(x, 0);
  assert.throws(() => g.broadcast(x, 1), DistributedError);
  const all = g.allgather(x);
  assert.deepEqual(Array.from(all), [1, 2, 3]);
  assert.notEqual(all, x);
  const bytes = g.allgatherBytes(new Uint8Array([7, 8]));
  assert.equal(bytes.length, 1);
  assert.deepEqual(Array.from(bytes[0]), [7, 8]);
  assert.deepEqual(Array.from(g.reduceScatterSum(x)), [1, 2, 3]);
  const out = new Float32Array(3);
  g.reduceScatterSumAsync(x, out).wait();
  assert.deepEqual(Array.from(out), [1, 2, 3]);
  assert.throws(() => g.allgather(x, new Float32Array(2)), /out has 2 floats/);
  g.barrier();
  g.finalize();
  assert.throws(() => g.barrier(), /after finalize/);
});

test("without mpirun: initDistributed gives one LocalGroup per process; the launch env is read from OMPI_/PMIX_ vars", () => {
  if (mpiLaunchEnv()) return; // this test process itself runs under mpirun
  const g = initDistributed({ timeoutSeconds: 3 });
  assert.ok(g instanceof LocalGroup);
  assert.equal(getProcessGroup(), g);
  assert.equal(initDistributed({ timeoutSeconds: 7 }), g);
  assert.equal(g.timeoutMs, 7000);
  assert.throws(() => initDistributed({ timeoutSeconds: 0 }), DistributedError);
  assert.equal(mpiLaunchEnv({}), null);
  assert.deepEqual(
    mpiLaunchEnv({ OMPI_COMM_WORLD_RANK: "1", OMPI_COMM_WORLD_SIZE: "4", OMPI_COMM_WORLD_LOCAL_RANK: "1", OMPI_COMM_WORLD_LOCAL_SIZE: "2" }),
    { rank: 1, size: 4, localRank: 1, localSize: 2 },
  );
  assert.deepEqual(mpiLaunchEnv({ PMIX_RANK: "3" }), { rank: 3, size: null, localRank: 0, localSize: 1 });
});
