// peft_mpi: the MPI transport of peft-ts (src/dist/mpi_group.ts).
// Every MPI call happens on one communication thread owned by this addon (MPI_THREAD_FUNNELED:
// that thread calls MPI_Init_thread itself). The JS thread enqueues operations and waits on a
// condition variable with a deadline, so it can compute while a collective is in flight.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace peft_mpi {

enum class OpKind { Allreduce, Bcast, Allgather, AllgatherBytes, ReduceScatter, Barrier, Split, Abort, Finalize };
enum class OpState { Queued, Running, Done, Failed };

struct Op {
  uint64_t id = 0;
  OpKind kind = OpKind::Barrier;
  void* send = nullptr;  // allreduce/bcast: the in-place buffer; allgather/reduce-scatter: the input
  void* recv = nullptr;  // allgather/reduce-scatter: the output
  size_t count = 0;      // elements of `send` (floats, or bytes for bcast/allgatherBytes)
  int root = 0;          // bcast root; abort: exit code; split: color
  int key = 0;           // split: the key that orders the new ranks
  int comm = 0;          // which communicator (0: MPI_COMM_WORLD, others from split)
  std::string message;   // abort: printed before MPI_Abort
  OpState state = OpState::Queued;
  std::string error;
  // allgatherBytes results (owned here until JS copies them out)
  std::vector<uint8_t> gathered;
  std::vector<int> counts;  // allgatherBytes: every rank's byte count; reduce-scatter: the floats each rank receives (empty: equal blocks)
  // comm-thread timestamps (steady clock, ns): when run_op began and ended
  int64_t t_start_ns = 0, t_end_ns = 0;
  // split results: the new communicator's id, this process's rank in it and its size
  int out_comm = -1, out_rank = -1, out_size = 0;
};

// one counter per OpKind (Finalize is the last)
constexpr int kOpKinds = int(OpKind::Finalize) + 1;
/** Per-kind counters kept by the comm thread (under Comm::mu): ops finished, payload bytes, time inside the MPI call. */
struct KindCounters {
  uint64_t ops = 0;
  uint64_t bytes = 0;
  int64_t busy_ns = 0;
};
/** Payload bytes of an op as the counters count them (this rank's contribution). */
uint64_t op_bytes(const Op& op, int size);
/** The steady clock the counters use, in ns. */
int64_t now_ns();

/** The process-wide communicator state (one per process; MPI can be initialised once). */
struct Comm {
  std::mutex mu;
  std::condition_variable queue_cv;  // comm thread waits for work
  std::condition_variable done_cv;   // JS thread waits for completions
  std::deque<std::shared_ptr<Op>> queue;
  std::thread thread;
  std::thread::id thread_id;  // the comm thread (the thread itself is detached)
  bool started = false, ready = false, finalized = false;
  std::string init_error;
  int rank = -1, size = 0, provided = -1;
  std::string promoted;  // which libmpi was promoted to RTLD_GLOBAL ("" when none)
  std::string version;
  std::shared_ptr<Op> running;  // the op the comm thread is in, if any
  KindCounters counters[kOpKinds];  // indexed by OpKind
  // sizes of the communicators by id (0: world); the MPI_Comm handles live on the comm thread only
  std::vector<int> comm_sizes;
};

Comm& comm();
/** Starts the comm thread (MPI_Init_thread) and waits until it reports; throws on failure. */
void start(int64_t init_timeout_ms);
/** The size of communicator `id` (0: world), or -1 when there is no such communicator. */
int comm_size(int id);
/** Queues an op (the comm thread runs ops in order). Abort ops go to the front. */
void enqueue(const std::shared_ptr<Op>& op);
/** Blocks until op is done/failed or the deadline passes (timeout_ms < 0: no deadline). Returns true when finished. */
bool wait_for(const std::shared_ptr<Op>& op, int64_t timeout_ms);
/** Prints message, then MPI_Abort(MPI_COMM_WORLD, code) (see comm.cc for the thread rules). Never returns. */
[[noreturn]] void abort_job(const std::string& message, int code);

}  // namespace peft_mpi
