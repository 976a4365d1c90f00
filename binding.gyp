{
  "targets": [
    {
      "target_name": "s3mmap_native",
      "sources": [
        "native/addon.cc", "native/cache_counter.cc", "native/cache_entry.cc", "native/cache_scan.cc", "native/disk_cache.cc",
        "native/exit_guard.cc", "native/fault_ops.cc", "native/io_pool.cc",
        "native/napi_util.cc", "native/poll.cc", "native/regions.cc", "native/uffd.cc", "native/views.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
