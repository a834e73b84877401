// Runs a WebAssembly command module built for wasm32-wasi (a C program with main,
// such as engine_c/tests/test_kernels.c) with just enough of WASI preview 1 for
// it: arguments, writes to stdout and stderr, exit. Imports nothing, so node
// (tests/node/wasm_kernels.test.mjs) and Chromium (tests/web/test_wasm_relaxed_kernels.py)
// run the same C test the same way.
//
// runWasi(bytes, args) -> { exitCode, output }: output is stdout and stderr as
// written, in order.

const ERRNO_SUCCESS = 0;
const ERRNO_BADF = 8;
const ERRNO_NOSYS = 52;
const FILETYPE_CHARACTER_DEVICE = 2;

class Exit {
  constructor(code) {
    this.code = code;
  }
}

export async function runWasi(bytes, args = []) {
  const module = await WebAssembly.compile(bytes);
  const argv = ['program', ...args].map((arg) => new TextEncoder().encode(`${arg}\0`));
  const decoder = new TextDecoder();
  let output = '';
  let memory;
  const view = () => new DataView(memory.buffer);

  const wasi = {
    args_sizes_get(countPointer, sizePointer) {
      view().setUint32(countPointer, argv.length, true);
      view().setUint32(sizePointer, argv.reduce((sum, arg) => sum + arg.length, 0), true);
      return ERRNO_SUCCESS;
    },
    args_get(pointersPointer, bufferPointer) {
      let at = bufferPointer;
      argv.forEach((arg, i) => {
        view().setUint32(pointersPointer + 4 * i, at, true);
        new Uint8Array(memory.buffer, at, arg.length).set(arg);
        at += arg.length;
      });
      return ERRNO_SUCCESS;
    },
    environ_sizes_get(countPointer, sizePointer) {
      view().setUint32(countPointer, 0, true);
      view().setUint32(sizePointer, 0, true);
      return ERRNO_SUCCESS;
    },
    environ_get() {
      return ERRNO_SUCCESS;
    },
    fd_fdstat_get(fd, statPointer) {
      if (fd !== 1 && fd !== 2) return ERRNO_BADF;
      new Uint8Array(memory.buffer, statPointer, 24).fill(0);
      view().setUint8(statPointer, FILETYPE_CHARACTER_DEVICE);
      return ERRNO_SUCCESS;
    },
    fd_write(fd, iovecs, count, writtenPointer) {
      if (fd !== 1 && fd !== 2) return ERRNO_BADF;
      let written = 0;
      for (let i = 0; i < count; i++) {
        const base = view().getUint32(iovecs + 8 * i, true);
        const length = view().getUint32(iovecs + 8 * i + 4, true);
        output += decoder.decode(new Uint8Array(memory.buffer, base, length), { stream: true });
        written += length;
      }
      view().setUint32(writtenPointer, written, true);
      return ERRNO_SUCCESS;
    },
    proc_exit(code) {
      throw new Exit(code);
    },
  };
  // Anything else the program imports (fd_close, fd_seek for stdio) is not needed here.
  const imports = {};
  for (const { module: name, name: field } of WebAssembly.Module.imports(module)) {
    imports[name] ??= {};
    imports[name][field] = wasi[field] ?? (() => ERRNO_NOSYS);
  }
  const instance = await WebAssembly.instantiate(module, imports);
  memory = instance.exports.memory;
  try {
    instance.exports._start();
    return { exitCode: 0, output };
  } catch (error) {
    if (error instanceof Exit) return { exitCode: error.code, output };
    throw error;
  }
}
