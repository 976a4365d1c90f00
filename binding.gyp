{
  "targets": [
    {
      "target_name": "s3mmap_native",
      "sources": [
        "native/addon.cc", "native/cache_counter.cc", "native/cache_entry.cc", "native/cache_scan.cc", "native/disk_cache.cc",
        "native/exit_guard.cc", "native/fault_ops.cc", "native/io_pool.cc",
        "native/napi_util.cc", "native/poll.cc", "native/regions.cc", "native/shm_pages.cc", "native/uffd.cc", "native/views.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      # NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: an error that cannot be thrown
      # because its thread is being torn down (the fault worker at process
      # exit) is dropped, instead of node-addon-api aborting the process.
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
