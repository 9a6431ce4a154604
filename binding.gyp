{
  "variables": { "with_mpi%": "<!(node scripts/mpi-config.mjs enabled)" },
  "target_defaults": {
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++1y", "-std=gnu++17"],
    "cflags": ["-O3", "-fno-math-errno", "-fPIC"],
    "cflags_cc": ["-std=c++17", "-fexceptions"]
  },
  "targets": [
    {
      "target_name": "mosaicbert_avx2",
      "type": "static_library",
      "sources": ["<!@(node scripts/list-sources.mjs avx2)"],
      "cflags": ["-mavx2", "-mfma", "-mf16c"]
    },
    {
      "target_name": "mosaicbert",
      "dependencies": ["mosaicbert_avx2"],
      "sources": ["<!@(node scripts/list-sources.mjs portable)"],
      "libraries": ["-lpthread"]
    }
  ],
  "conditions": [
    ["with_mpi==1", {
      "targets": [
        {
          "target_name": "mosaicbert_mpi",
          "sources": ["native/mpi/mpi.cc", "native/common/args.cc"],
          "cflags_cc": ["<!@(node scripts/mpi-config.mjs cflags)"],
          "libraries": ["<!@(node scripts/mpi-config.mjs libs)"]
        }
      ]
    }]
  ]
}
