// One thread count for everything (PEFT_TS_NUM_THREADS, else OMP_NUM_THREADS, else all cores): OpenMP (our fused kernels and oneDNN, which is built on
// the same libgomp) and OpenBLAS (its own pthread pool, sized to match).
#include <cstdlib>
#include <omp.h>
#include <thread>
#include "peft.h"

#ifdef PEFT_HAVE_OPENBLAS
extern "C" void openblas_set_num_threads(int);
#endif

namespace peft {

static int g_threads = 0;

int num_threads() { return g_threads > 0 ? g_threads : 1; }

void set_num_threads(int n) {
  if (n < 1) n = 1;
  g_threads = n;
  omp_set_num_threads(n);
#ifdef PEFT_HAVE_OPENBLAS
  openblas_set_num_threads(n);
#endif
}

void init_threads() {
  int n = 0;
  if (const char* e = std::getenv("PEFT_TS_NUM_THREADS")) n = std::atoi(e);
  if (n <= 0 && std::getenv("OMP_NUM_THREADS")) n = omp_get_max_threads();  // respect the usual OpenMP knob
  if (n <= 0) n = omp_get_num_procs();
  if (n <= 0) n = (int)std::thread::hardware_concurrency();
  set_num_threads(n);
}

}  // namespace peft
