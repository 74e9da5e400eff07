{
  "targets": [
    {
      "target_name": "mmap_aof",
      "sources": ["native/addon.cc", "native/region.cc", "native/syscalls.cc", "native/crc32c.cc", "native/futex.cc", "native/guard.cc", "native/frames.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
