# The engine's C sources, listed once: engine_c/Makefile includes this file, and
# engine_c/build_ffi.py (the Python module) and web_demo/build_wasm.sh (WebAssembly)
# read it. One `NAME = files` per line, paths relative to engine_c/.
CORE_SRCS = model.c math.c text.c forward.c session.c memory.c stop_features.c
# Every instruction set's kernels (a file whose set the target lacks offers none), and
# kernels_select.c, which picks the fastest at run time.
KERNEL_SRCS = kernels_generic.c kernels_avx2.c kernels_avx512.c kernels_neon.c kernels_wasm.c kernels_select.c
WASM_KERNEL_SRCS = kernels_generic.c kernels_wasm.c kernels_select.c
# The freestanding WebAssembly module's allocator, mem* functions and exports.
WASM_RUNTIME_SRCS = wasm/runtime.c wasm/api.c
