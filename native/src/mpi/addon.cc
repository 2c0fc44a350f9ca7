// N-API glue of peft_mpi: JS enqueues collectives and gets an op id; wait(id, ms) blocks the JS
// thread on a condition variable until the comm thread finishes the op or the deadline passes.
// Typed arrays handed to an op are kept alive by references until the op is observed finished.
#include <mpi.h>
#include <napi.h>

#include <cstring>
#include <unordered_map>

#include "comm.h"

namespace {
using peft_mpi::Op;
using peft_mpi::OpKind;
using peft_mpi::OpState;

struct Entry {
  std::shared_ptr<Op> op;
  std::vector<Napi::ObjectReference> refs;  // JS thread only
};
// Only touched on the JS thread (the comm thread sees the Op objects alone).
std::unordered_map<uint64_t, Entry> g_ops;
uint64_t g_next_id = 1;

bool finished(const Op& op) { return op.state == OpState::Done || op.state == OpState::Failed; }

// Releases the buffers of ops that finished without being waited for yet (keeps the entry).
void sweep() {
  std::lock_guard<std::mutex> lk(peft_mpi::comm().mu);
  for (auto& kv : g_ops)
    if (!kv.second.refs.empty() && finished(*kv.second.op)) kv.second.refs.clear();
}

struct View {
  uint8_t* data;
  size_t bytes;
  size_t length;
};

// The bytes of a typed array (works for ArrayBuffer and SharedArrayBuffer backing; data includes the offset).
View view_of(const Napi::Value& v, napi_typedarray_type want, const char* what) {
  if (!v.IsTypedArray()) throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected a typed array");
  napi_typedarray_type type;
  size_t length = 0, offset = 0;
  void* data = nullptr;
  napi_value ab;
  if (napi_get_typedarray_info(v.Env(), v, &type, &length, &data, &ab, &offset) != napi_ok)
    throw Napi::TypeError::New(v.Env(), std::string(what) + ": cannot read the typed array");
  if (want != napi_uint8_array && type != want)
    throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected a Float32Array");
  size_t bytes = v.As<Napi::TypedArray>().ByteLength();
  return {static_cast<uint8_t*>(data), bytes, length};
}

Napi::Value submit(Napi::Env env, std::shared_ptr<Op> op, std::vector<Napi::Value> keep) {
  sweep();
  uint64_t id = g_next_id++;
  op->id = id;
  Entry e{op, {}};
  for (auto& v : keep) e.refs.push_back(Napi::Persistent(v.As<Napi::Object>()));
  try {
    peft_mpi::enqueue(op);
  } catch (const std::exception& ex) {
    throw Napi::Error::New(env, ex.what());
  }
  g_ops.emplace(id, std::move(e));
  return Napi::Number::New(env, double(id));
}

// The communicator an op runs on: the optional argument at `index` (0, MPI_COMM_WORLD, when absent).
int comm_arg(const Napi::CallbackInfo& info, size_t index) {
  int id = info.Length() > index && info[index].IsNumber() ? info[index].As<Napi::Number>().Int32Value() : 0;
  if (peft_mpi::comm_size(id) < 0) throw Napi::RangeError::New(info.Env(), "unknown communicator " + std::to_string(id));
  return id;
}

Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t ms = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int64Value() : 120000;
  try {
    peft_mpi::start(ms);
  } catch (const std::exception& ex) {
    throw Napi::Error::New(env, ex.what());
  }
  auto& c = peft_mpi::comm();
  std::lock_guard<std::mutex> lk(c.mu);
  auto o = Napi::Object::New(env);
  o.Set("rank", c.rank);
  o.Set("size", c.size);
  o.Set("threadLevel", c.provided);
  o.Set("funneled", c.provided >= MPI_THREAD_FUNNELED);
  o.Set("version", c.version);
  o.Set("promoted", c.promoted);
  return o;
}

Napi::Value Allreduce(const Napi::CallbackInfo& info) {
  auto v = view_of(info[0], napi_float32_array, "allreduce");
  auto op = std::make_shared<Op>();
  op->kind = OpKind::Allreduce;
  op->send = v.data;
  op->count = v.length;
  op->comm = comm_arg(info, 1);
  return submit(info.Env(), op, {info[0]});
}

Napi::Value Bcast(const Napi::CallbackInfo& info) {
  auto v = view_of(info[0], napi_uint8_array, "broadcast");
  auto op = std::make_shared<Op>();
  op->kind = OpKind::Bcast;
  op->send = v.data;
  op->count = v.bytes;
  op->root = info[1].As<Napi::Number>().Int32Value();
  op->comm = comm_arg(info, 2);
  if (op->root < 0 || op->root >= peft_mpi::comm_size(op->comm)) throw Napi::RangeError::New(info.Env(), "broadcast: root out of range");
  return submit(info.Env(), op, {info[0]});
}

Napi::Value Allgather(const Napi::CallbackInfo& info) {
  auto s = view_of(info[0], napi_float32_array, "allgather send");
  auto r = view_of(info[1], napi_float32_array, "allgather recv");
  int cid = comm_arg(info, 2);
  if (r.length != s.length * size_t(peft_mpi::comm_size(cid)))
    throw Napi::RangeError::New(info.Env(), "allgather: recv must hold send.length * worldSize floats");
  auto op = std::make_shared<Op>();
  op->kind = OpKind::Allgather;
  op->comm = cid;
  op->send = s.data;
  op->recv = r.data;
  op->count = s.length;
  return submit(info.Env(), op, {info[0], info[1]});
}

Napi::Value AllgatherBytes(const Napi::CallbackInfo& info) {
  auto s = view_of(info[0], napi_uint8_array, "allgatherBytes");
  auto op = std::make_shared<Op>();
  op->kind = OpKind::AllgatherBytes;
  op->comm = comm_arg(info, 1);
  op->send = s.data;
  op->count = s.bytes;
  return submit(info.Env(), op, {info[0]});
}

Napi::Value ReduceScatter(const Napi::CallbackInfo& info) {
  auto s = view_of(info[0], napi_float32_array, "reduceScatter send");
  auto r = view_of(info[1], napi_float32_array, "reduceScatter recv");
  int cid = comm_arg(info, 2);
  if (s.length != r.length * size_t(peft_mpi::comm_size(cid)))
    throw Napi::RangeError::New(info.Env(), "reduceScatter: send must hold recv.length * worldSize floats");
  auto op = std::make_shared<Op>();
  op->kind = OpKind::ReduceScatter;
  op->comm = cid;
  op->send = s.data;
  op->recv = r.data;
  op->count = r.length;
  return submit(info.Env(), op, {info[0], info[1]});
}

// reduceScatterV(send, recv, counts: Int32Array (one per rank), comm): send holds sum(counts)
// floats; this rank receives the sum over ranks of its counts[rank] floats (MPI_Reduce_scatter).
Napi::Value ReduceScatterV(const Napi::CallbackInfo& info) {
  auto s = view_of(info[0], napi_float32_array, "reduceScatterV send");
  auto r = view_of(info[1], napi_float32_array, "reduceScatterV recv");
  if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(info.Env(), "reduceScatterV: counts must be an Int32Array");
  auto counts = info[2].As<Napi::Int32Array>();
  int cid = comm_arg(info, 3);
  int size = peft_mpi::comm_size(cid);
  if (counts.ElementLength() != size_t(size)) throw Napi::RangeError::New(info.Env(), "reduceScatterV: one count per rank expected");
  auto op = std::make_shared<Op>();
  size_t total = 0;
  for (size_t i = 0; i < counts.ElementLength(); i++) {
    if (counts[i] < 0) throw Napi::RangeError::New(info.Env(), "reduceScatterV: negative count");
    total += size_t(counts[i]);
    op->counts.push_back(counts[i]);
  }
  if (s.length != total) throw Napi::RangeError::New(info.Env(), "reduceScatterV: send must hold the sum of the counts");
  // recv.length == counts[this rank] is checked by the caller (mpi_group.ts knows its rank in the communicator)
  op->kind = OpKind::ReduceScatter;
  op->comm = cid;
  op->send = s.data;
  op->recv = r.data;
  op->count = r.length;
  return submit(info.Env(), op, {info[0], info[1]});
}

Napi::Value Barrier(const Napi::CallbackInfo& info) {
  auto op = std::make_shared<Op>();
  op->kind = OpKind::Barrier;
  op->comm = comm_arg(info, 0);
  return submit(info.Env(), op, {});
}

// split(color, key, comm) → op id; after wait, takeSplit(id) → { comm, rank, size }
Napi::Value Split(const Napi::CallbackInfo& info) {
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber())
    throw Napi::TypeError::New(info.Env(), "split(color, key[, comm]): color and key must be numbers");
  auto op = std::make_shared<Op>();
  op->kind = OpKind::Split;
  op->root = info[0].As<Napi::Number>().Int32Value();
  op->key = info[1].As<Napi::Number>().Int32Value();
  if (op->root < 0) throw Napi::RangeError::New(info.Env(), "split: color must be >= 0");
  op->comm = comm_arg(info, 2);
  return submit(info.Env(), op, {});
}

Napi::Value Finalize(const Napi::CallbackInfo& info) {
  auto op = std::make_shared<Op>();
  op->kind = OpKind::Finalize;
  return submit(info.Env(), op, {});
}

Entry& entry(const Napi::CallbackInfo& info) {
  uint64_t id = uint64_t(info[0].As<Napi::Number>().Int64Value());
  auto it = g_ops.find(id);
  if (it == g_ops.end()) throw Napi::Error::New(info.Env(), "unknown or already completed op id " + std::to_string(id));
  return it->second;
}

// wait(id, timeoutMs) → true when finished (throws the MPI error if it failed), false at the deadline.
Napi::Value Wait(const Napi::CallbackInfo& info) {
  uint64_t id = uint64_t(info[0].As<Napi::Number>().Int64Value());
  Entry& e = entry(info);
  double t = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : -1;
  int64_t ms = t < 0 || t > 9.0e15 ? -1 : int64_t(t);
  if (!peft_mpi::wait_for(e.op, ms)) return Napi::Boolean::New(info.Env(), false);
  std::string err = e.op->state == OpState::Failed ? e.op->error : "";
  auto op = e.op;
  // keep allgatherBytes / split entries until takeBytes / takeSplit; others are done
  bool keep = op->kind == OpKind::AllgatherBytes || op->kind == OpKind::Split;
  if (!keep || !err.empty()) g_ops.erase(id);
  else e.refs.clear();
  if (!err.empty()) throw Napi::Error::New(info.Env(), err);
  return Napi::Boolean::New(info.Env(), true);
}

Napi::Value Test(const Napi::CallbackInfo& info) {
  Entry& e = entry(info);
  std::lock_guard<std::mutex> lk(peft_mpi::comm().mu);
  return Napi::Boolean::New(info.Env(), finished(*e.op));
}

// takeBytes(id) after a finished allgatherBytes: { data: Uint8Array (all ranks, rank order), counts }
Napi::Value TakeBytes(const Napi::CallbackInfo& info) {
  uint64_t id = uint64_t(info[0].As<Napi::Number>().Int64Value());
  Entry& e = entry(info);
  if (e.op->kind != OpKind::AllgatherBytes || e.op->state != OpState::Done)
    throw Napi::Error::New(info.Env(), "takeBytes: not a finished allgatherBytes");
  Napi::Env env = info.Env();
  auto& g = e.op->gathered;
  auto data = Napi::Uint8Array::New(env, g.size());
  if (!g.empty()) std::memcpy(data.Data(), g.data(), g.size());
  auto counts = Napi::Array::New(env, e.op->counts.size());
  for (size_t i = 0; i < e.op->counts.size(); i++) counts.Set(uint32_t(i), e.op->counts[i]);
  g_ops.erase(id);
  auto o = Napi::Object::New(env);
  o.Set("data", data);
  o.Set("counts", counts);
  return o;
}

Napi::Value TakeSplit(const Napi::CallbackInfo& info) {
  uint64_t id = uint64_t(info[0].As<Napi::Number>().Int64Value());
  Entry& e = entry(info);
  if (e.op->kind != OpKind::Split || e.op->state != OpState::Done)
    throw Napi::Error::New(info.Env(), "takeSplit: not a finished split");
  auto o = Napi::Object::New(info.Env());
  o.Set("comm", e.op->out_comm);
  o.Set("rank", e.op->out_rank);
  o.Set("size", e.op->out_size);
  g_ops.erase(id);
  return o;
}

Napi::Value Abort(const Napi::CallbackInfo& info) {
  std::string msg = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "abort";
  int code = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 1;
  peft_mpi::abort_job(msg, code);
}

// state() → { ready, finalized, running (op id or 0), queued }
Napi::Value State(const Napi::CallbackInfo& info) {
  auto& c = peft_mpi::comm();
  std::lock_guard<std::mutex> lk(c.mu);
  auto o = Napi::Object::New(info.Env());
  o.Set("ready", c.ready && c.init_error.empty());
  o.Set("finalized", c.finalized);
  o.Set("running", double(c.running ? c.running->id : 0));
  o.Set("queued", double(c.queue.size()));
  return o;
}

// counters() → { allreduce: { ops, bytes, busyMs }, bcast, allgather, allgatherBytes, reduceScatter, barrier, nowMs }:
// cumulative per-kind figures of the comm thread since init (busyMs = time inside the MPI call,
// including waiting there for the peers); nowMs = the same steady clock, for deltas.
Napi::Value Counters(const Napi::CallbackInfo& info) {
  auto& c = peft_mpi::comm();
  Napi::Env env = info.Env();
  auto o = Napi::Object::New(env);
  const char* names[] = {"allreduce", "bcast", "allgather", "allgatherBytes", "reduceScatter", "barrier"};
  std::lock_guard<std::mutex> lk(c.mu);
  for (int k = 0; k < 6; k++) {
    auto e = Napi::Object::New(env);
    e.Set("ops", double(c.counters[k].ops));
    e.Set("bytes", double(c.counters[k].bytes));
    e.Set("busyMs", double(c.counters[k].busy_ns) / 1e6);
    o.Set(names[k], e);
  }
  o.Set("nowMs", double(peft_mpi::now_ns()) / 1e6);
  return o;
}

Napi::Object Module(Napi::Env env, Napi::Object exports) {
  exports.Set("init", Napi::Function::New(env, Init));
  exports.Set("allreduce", Napi::Function::New(env, Allreduce));
  exports.Set("bcast", Napi::Function::New(env, Bcast));
  exports.Set("allgather", Napi::Function::New(env, Allgather));
  exports.Set("allgatherBytes", Napi::Function::New(env, AllgatherBytes));
  exports.Set("reduceScatter", Napi::Function::New(env, ReduceScatter));
  exports.Set("reduceScatterV", Napi::Function::New(env, ReduceScatterV));
  exports.Set("barrier", Napi::Function::New(env, Barrier));
  exports.Set("split", Napi::Function::New(env, Split));
  exports.Set("takeSplit", Napi::Function::New(env, TakeSplit));
  exports.Set("finalize", Napi::Function::New(env, Finalize));
  exports.Set("wait", Napi::Function::New(env, Wait));
  exports.Set("test", Napi::Function::New(env, Test));
  exports.Set("takeBytes", Napi::Function::New(env, TakeBytes));
  exports.Set("abort", Napi::Function::New(env, Abort));
  exports.Set("state", Napi::Function::New(env, State));
  exports.Set("counters", Napi::Function::New(env, Counters));
  return exports;
}
}  // namespace

NODE_API_MODULE(peft_mpi, Module)
