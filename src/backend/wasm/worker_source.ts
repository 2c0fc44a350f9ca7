// The body of a kernels worker, as JavaScript source (a worker runs it from a string: a Node eval worker
// or a browser Blob URL, so no separate file has to be bundled or served). runKernelWorker(init)
// instantiates the kernels module on the shared memory, moves its stack to its own region, says it is
// ready, then sleeps on the control block (Atomics.wait) and runs its part of every call the pool posts
// until told to quit. The control block layout is CONTROL in pool.ts; the spawners (pool_node.ts,
// pool_browser.ts) append the line that hands init over.

/** Int32 slots of the control block (pool.ts uses the same). */
export const CONTROL = { seq: 0, done: 1, fn: 2, nargs: 3, ready: 4, error: 5, quit: 6 } as const;
/** Byte offset of the Float64 call arguments in the control block, and how many fit. */
export const ARGS_OFFSET = 64;
export const MAX_ARGS = 24;

export const WORKER_SOURCE = `
function runKernelWorker(init) {
  const C = ${JSON.stringify(CONTROL)};
  const ctrl = new Int32Array(init.control), args = new Float64Array(init.control, ${ARGS_OFFSET}, ${MAX_ARGS});
  let fns;
  try {
    const inst = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
    inst.exports.__stack_pointer.value = init.stackTop;
    fns = init.names.map((n) => inst.exports[n]);
  } catch (e) {
    Atomics.store(ctrl, C.error, 2);
    Atomics.add(ctrl, C.ready, 1);
    Atomics.notify(ctrl, C.ready);
    return;
  }
  Atomics.add(ctrl, C.ready, 1);
  Atomics.notify(ctrl, C.ready);
  let seen = 0;
  for (;;) {
    Atomics.wait(ctrl, C.seq, seen);
    seen = Atomics.load(ctrl, C.seq);
    if (Atomics.load(ctrl, C.quit)) return;
    const a = Array.from(args.subarray(0, ctrl[C.nargs]));
    a.push(init.index, init.parts);
    try {
      fns[ctrl[C.fn]](...a);
    } catch (e) {
      Atomics.store(ctrl, C.error, 1);
    }
    Atomics.add(ctrl, C.done, 1);
    Atomics.notify(ctrl, C.done);
  }
}
`;
