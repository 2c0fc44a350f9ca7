# peft_mpi: the optional MPI transport addon (src/dist/mpi_group.ts). A separate gyp project so that
# a machine without MPI (or a failed MPI build) never affects the kernel addon in ../binding.gyp.
# scripts/build-native.mjs finds MPI (mpicc --showme, else pkg-config ompi) and passes the flags in
# PEFT_MPI_CFLAGS / PEFT_MPI_LIBS; it copies the result to ../build/Release/peft_mpi.node.
{
  "targets": [
    {
      "target_name": "peft_mpi",
      "sources": ["../src/mpi/addon.cc", "../src/mpi/comm.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "OMPI_SKIP_MPICXX=1", "MPICH_SKIP_MPICXX=1"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O2", "-pthread", "<!@(node -p \"process.env.PEFT_MPI_CFLAGS || ''\")"],
      "ldflags": ["-pthread"],
      "libraries": ["<!@(node -p \"process.env.PEFT_MPI_LIBS || '-lmpi'\")", "-ldl"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "OTHER_CPLUSPLUSFLAGS": ["-std=c++17", "<!@(node -p \"process.env.PEFT_MPI_CFLAGS || ''\")"],
      },
    },
  ],
}
