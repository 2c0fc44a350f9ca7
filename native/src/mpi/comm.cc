// The communication thread: MPI_Init_thread, then one queue of collectives served in order.
#include "comm.h"

#include <dlfcn.h>
#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <stdexcept>

namespace peft_mpi {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

uint64_t op_bytes(const Op& op, int size) {
  switch (op.kind) {
    case OpKind::Allreduce:
    case OpKind::Allgather:
      return uint64_t(op.count) * 4;
    case OpKind::ReduceScatter: {
      if (op.counts.empty()) return uint64_t(op.count) * 4 * uint64_t(size > 0 ? size : 1);
      uint64_t n = 0;
      for (int c : op.counts) n += uint64_t(c);
      return n * 4;
    }
    case OpKind::Bcast:
    case OpKind::AllgatherBytes:
      return uint64_t(op.count);
    default:
      return 0;
  }
}

Comm& comm() {
  static Comm* c = new Comm();  // never destroyed: the thread may outlive static destruction
  return *c;
}

namespace {

// MPI counts are int: big buffers go in pieces of at most this many elements.
constexpr size_t kChunk = size_t(1) << 30;

// OpenMPI loads its components (plugins) with dlopen, and they resolve symbols of libmpi itself.
// When libmpi was pulled in by an addon that node dlopen'ed with RTLD_LOCAL, those symbols are not
// visible and MPI_Init fails ("undefined symbol: ompi_..."). Re-opening the already loaded library
// with RTLD_GLOBAL|RTLD_NOLOAD promotes it to global visibility without loading a second copy.
std::string promote_libmpi() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&MPI_Init), &info) && info.dli_fname) {
    if (dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD)) return info.dli_fname;
  }
  for (const char* name : {"libmpi.so.40", "libmpi.so.12", "libmpi.so"}) {
    if (dlopen(name, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD)) return name;
  }
  return "";
}

std::string mpi_error(int rc) {
  char buf[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, buf, &len) != MPI_SUCCESS) return "MPI error " + std::to_string(rc);
  return std::string(buf, size_t(len));
}

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw std::runtime_error(std::string(what) + ": " + mpi_error(rc));
}

// The communicators by id: 0 is MPI_COMM_WORLD, the others come from split ops. Only the comm
// thread touches this vector (every MPI call is made there).
std::vector<MPI_Comm>& comms() {
  static std::vector<MPI_Comm>* v = new std::vector<MPI_Comm>{MPI_COMM_WORLD};
  return *v;
}

void run_op(Op& op) {
  if (op.comm < 0 || size_t(op.comm) >= comms().size()) throw std::runtime_error("unknown communicator " + std::to_string(op.comm));
  MPI_Comm cm = comms()[size_t(op.comm)];
  int size = 0;
  check(MPI_Comm_size(cm, &size), "MPI_Comm_size");
  switch (op.kind) {
    case OpKind::Allreduce: {
      float* p = static_cast<float*>(op.send);
      for (size_t off = 0; off < op.count; off += kChunk) {
        int n = int(std::min(kChunk, op.count - off));
        check(MPI_Allreduce(MPI_IN_PLACE, p + off, n, MPI_FLOAT, MPI_SUM, cm), "MPI_Allreduce");
      }
      break;
    }
    case OpKind::Bcast: {
      uint8_t* p = static_cast<uint8_t*>(op.send);
      for (size_t off = 0; off < op.count; off += kChunk) {
        int n = int(std::min(kChunk, op.count - off));
        check(MPI_Bcast(p + off, n, MPI_BYTE, op.root, cm), "MPI_Bcast");
      }
      break;
    }
    case OpKind::Allgather: {
      if (op.count > size_t(INT_MAX)) throw std::runtime_error("allgather: more than 2^31-1 floats per rank");
      check(MPI_Allgather(op.send, int(op.count), MPI_FLOAT, op.recv, int(op.count), MPI_FLOAT, cm),
            "MPI_Allgather");
      break;
    }
    case OpKind::AllgatherBytes: {
      if (op.count > size_t(INT_MAX)) throw std::runtime_error("allgatherBytes: more than 2^31-1 bytes per rank");
      // counts first, then the bytes at their displacements
      int mine = int(op.count);
      op.counts.assign(size_t(size), 0);
      check(MPI_Allgather(&mine, 1, MPI_INT, op.counts.data(), 1, MPI_INT, cm), "MPI_Allgather(counts)");
      std::vector<int> displs(size_t(size), 0);
      size_t total = 0;
      for (int r = 0; r < size; r++) {
        if (total > size_t(INT_MAX)) throw std::runtime_error("allgatherBytes: more than 2^31-1 bytes in all");
        displs[size_t(r)] = int(total);
        total += size_t(op.counts[size_t(r)]);
      }
      op.gathered.resize(std::max<size_t>(total, 1));
      check(MPI_Allgatherv(op.send, mine, MPI_BYTE, op.gathered.data(), op.counts.data(), displs.data(), MPI_BYTE,
                           cm),
            "MPI_Allgatherv");
      op.gathered.resize(total);
      break;
    }
    case OpKind::ReduceScatter: {
      // equal blocks: op.count = floats per rank of the result, send holds count * size; with
      // op.counts (one per rank): send holds their sum, rank r receives counts[r] floats
      if (op.counts.empty()) {
        if (op.count > size_t(INT_MAX)) throw std::runtime_error("reduceScatter: more than 2^31-1 floats per rank");
        check(MPI_Reduce_scatter_block(op.send, op.recv, int(op.count), MPI_FLOAT, MPI_SUM, cm),
              "MPI_Reduce_scatter_block");
      } else {
        if (op.counts.size() != size_t(size)) throw std::runtime_error("reduceScatterV: one count per rank expected");
        check(MPI_Reduce_scatter(op.send, op.recv, op.counts.data(), MPI_FLOAT, MPI_SUM, cm), "MPI_Reduce_scatter");
      }
      break;
    }
    case OpKind::Barrier:
      check(MPI_Barrier(cm), "MPI_Barrier");
      break;
    case OpKind::Split: {
      MPI_Comm out = MPI_COMM_NULL;
      check(MPI_Comm_split(cm, op.root, op.key, &out), "MPI_Comm_split");
      MPI_Comm_set_errhandler(out, MPI_ERRORS_RETURN);
      check(MPI_Comm_rank(out, &op.out_rank), "MPI_Comm_rank");
      check(MPI_Comm_size(out, &op.out_size), "MPI_Comm_size");
      comms().push_back(out);
      op.out_comm = int(comms().size() - 1);
      Comm& c = comm();
      std::lock_guard<std::mutex> lk(c.mu);
      c.comm_sizes.push_back(op.out_size);
      break;
    }
    case OpKind::Abort:
      abort_job(op.message, op.root);
    case OpKind::Finalize:
      check(MPI_Finalize(), "MPI_Finalize");
      break;
  }
}

void thread_main() {
  Comm& c = comm();
  std::string promoted = promote_libmpi();
  int provided = -1;
  int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  {
    std::lock_guard<std::mutex> lk(c.mu);
    c.promoted = promoted;
    c.provided = provided;
    if (rc != MPI_SUCCESS) {
      c.init_error = "MPI_Init_thread failed (code " + std::to_string(rc) + ")";
    } else {
      // errors come back as codes (reported to JS) instead of killing the job from inside a call
      MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
      MPI_Comm_rank(MPI_COMM_WORLD, &c.rank);
      MPI_Comm_size(MPI_COMM_WORLD, &c.size);
      c.comm_sizes.assign(1, c.size);
      char ver[MPI_MAX_LIBRARY_VERSION_STRING];
      int len = 0;
      MPI_Get_library_version(ver, &len);
      c.version.assign(ver, size_t(len));
      while (!c.version.empty() && (c.version.back() == '\n' || c.version.back() == '\0')) c.version.pop_back();
    }
    c.ready = true;
  }
  c.done_cv.notify_all();
  if (rc != MPI_SUCCESS) return;
  for (;;) {
    std::shared_ptr<Op> op;
    {
      std::unique_lock<std::mutex> lk(c.mu);
      c.queue_cv.wait(lk, [&] { return !c.queue.empty(); });
      op = c.queue.front();
      c.queue.pop_front();
      op->state = OpState::Running;
      c.running = op;
    }
    std::string err;
    int64_t t0 = now_ns();
    try {
      run_op(*op);
    } catch (const std::exception& e) {
      err = e.what();
    }
    int64_t t1 = now_ns();
    bool fin = op->kind == OpKind::Finalize;
    {
      std::lock_guard<std::mutex> lk(c.mu);
      op->t_start_ns = t0;
      op->t_end_ns = t1;
      KindCounters& k = c.counters[int(op->kind)];
      k.ops++;
      k.bytes += op_bytes(*op, c.size);
      k.busy_ns += t1 - t0;
      op->error = err;
      op->state = err.empty() ? OpState::Done : OpState::Failed;
      c.running.reset();
      if (fin) c.finalized = true;
    }
    c.done_cv.notify_all();
    if (fin) return;
  }
}

}  // namespace

void start(int64_t init_timeout_ms) {
  Comm& c = comm();
  std::unique_lock<std::mutex> lk(c.mu);
  if (!c.started) {
    c.started = true;
    c.thread = std::thread(thread_main);
    c.thread_id = c.thread.get_id();
    c.thread.detach();  // ends after MPI_Finalize; never joined so process exit cannot hang on it
  }
  auto ok = [&] { return c.ready; };
  if (init_timeout_ms < 0) c.done_cv.wait(lk, ok);
  else if (!c.done_cv.wait_for(lk, std::chrono::milliseconds(init_timeout_ms), ok))
    throw std::runtime_error("MPI_Init_thread did not return within " + std::to_string(init_timeout_ms / 1000) + " s");
  if (!c.init_error.empty()) throw std::runtime_error(c.init_error);
}

int comm_size(int id) {
  Comm& c = comm();
  std::lock_guard<std::mutex> lk(c.mu);
  return id >= 0 && size_t(id) < c.comm_sizes.size() ? c.comm_sizes[size_t(id)] : -1;
}

void enqueue(const std::shared_ptr<Op>& op) {
  Comm& c = comm();
  {
    std::lock_guard<std::mutex> lk(c.mu);
    if (!c.ready || !c.init_error.empty()) throw std::runtime_error("MPI is not initialised");
    if (c.finalized) throw std::runtime_error("MPI was finalized");
    if (op->kind == OpKind::Abort) c.queue.push_front(op);
    else c.queue.push_back(op);
  }
  c.queue_cv.notify_one();
}

bool wait_for(const std::shared_ptr<Op>& op, int64_t timeout_ms) {
  Comm& c = comm();
  std::unique_lock<std::mutex> lk(c.mu);
  auto finished = [&] { return op->state == OpState::Done || op->state == OpState::Failed; };
  if (timeout_ms < 0) {
    c.done_cv.wait(lk, finished);
    return true;
  }
  return c.done_cv.wait_for(lk, std::chrono::milliseconds(timeout_ms), finished);
}

// Abort rules: MPI_Abort should come from the comm thread (FUNNELED). When that thread is idle,
// the abort op is queued in front and it calls MPI_Abort. When it is blocked inside a collective
// that cannot complete (the usual reason to abort: a lost or stuck peer), it will never pick up the
// op, so after a short grace period the calling thread calls MPI_Abort itself: OpenMPI's abort goes
// through its runtime (the local daemon kills every rank) and does not need the blocked thread.
// A watchdog _exit()s if MPI_Abort itself has not ended the process after 10 s.
[[noreturn]] void abort_job(const std::string& message, int code) {
  if (code == 0) code = 1;
  Comm& c = comm();
  bool on_comm_thread = c.thread_id == std::this_thread::get_id();
  bool live;
  {
    std::lock_guard<std::mutex> lk(c.mu);
    live = c.ready && c.init_error.empty() && !c.finalized;
  }
  if (!on_comm_thread && live) {
    auto op = std::make_shared<Op>();
    op->kind = OpKind::Abort;
    op->message = message;
    op->root = code;
    enqueue(op);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the comm thread aborts if it can
  }
  std::fprintf(stderr, "peft-ts: aborting the MPI job (exit code %d): %s\n", code, message.c_str());
  std::fflush(stderr);
  std::thread([code] {
    std::this_thread::sleep_for(std::chrono::seconds(10));
    _exit(code);
  }).detach();
  if (live) MPI_Abort(MPI_COMM_WORLD, code);
  _exit(code);
}

}  // namespace peft_mpi
