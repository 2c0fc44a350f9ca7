# peft_native: C++ kernels for the peft-ts native backend.
# Library detection happens in scripts/build-native.mjs, which passes its findings through
# PEFT_NATIVE_* environment variables (read here with node -p so the file stays static; 'yes'/'no'
# rather than 1/0 because gyp turns numeric command output into integers).
{
  "variables": {
    "peft_dnnl%": "<!(node -p \"process.env.PEFT_NATIVE_DNNL === '1' ? 'yes' : 'no'\")",
    "peft_blas%": "<!(node -p \"process.env.PEFT_NATIVE_BLAS === '1' ? 'yes' : 'no'\")",
    "peft_include_dirs%": "<!(node -p \"process.env.PEFT_NATIVE_INCLUDE_DIRS || ''\")",
    "peft_lib_dirs%": "<!(node -p \"process.env.PEFT_NATIVE_LIB_DIRS || ''\")",
    "peft_arch%": "<!(node -p \"process.env.PEFT_NATIVE_ARCH || ''\")",
  },
  "targets": [
    {
      "target_name": "peft_native",
      "sources": [
        "src/addon.cc",
        "src/gemm.cc",
        "src/elementwise.cc",
        "src/nn.cc",
        "src/attention.cc",
        "src/flash_attention.cc",
        "src/dropout.cc",
        "src/threads.cc",
        "src/quant_gemm.cc",
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<@(peft_include_dirs)",
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-fopenmp", "-fno-math-errno", "-fno-trapping-math", "<@(peft_arch)"],
      "ldflags": ["-fopenmp"],
      "libraries": ["-lgomp"],
      "conditions": [
        ["peft_dnnl=='yes'", {
          "defines": ["PEFT_HAVE_DNNL=1"],
          "libraries": ["<@(peft_lib_dirs)", "-ldnnl"],
        }],
        ["peft_blas=='yes'", {
          "defines": ["PEFT_HAVE_OPENBLAS=1"],
          "libraries": ["<@(peft_lib_dirs)", "-lopenblas"],
        }],
      ],
    },
  ],
}
