{
  "targets": [
    {
      "target_name": "okc_fs",
      "sources": ["okc_fs.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
