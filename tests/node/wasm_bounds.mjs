// The WebAssembly engine's bounds on a damaged model file: the engine must not
// read outside the buffer it is given. WebAssembly checks only the bounds of
// the whole linear memory, so the harness puts the file's last byte at the
// memory's last byte: reading one byte further traps (a RuntimeError), and
// the bytes just before the file are filled with a pattern that must not
// change the outcome. Used by engine_wasm_bounds.test.mjs and
// wasm_bounds_check.mjs.
//
// The module is used through its raw exports (engine_c/wasm/api.c) and its
// allocator's layout (engine_c/wasm/runtime.c: blocks in address order, each
// a 16-byte header and a payload rounded up to 16 bytes; malloc grows the
// memory only when no free block fits).

const PAGE = 65536;
const BLOCK_HEADER = 16;
const TEXT = 'def f(x):\n    return ';
const SUFFIX = '\n\nf(1)\n';
const MAX_CHARS = 8;
const FILLED = 4096; // bytes before the file that get the fill pattern

const roundUp = (n, multiple) => Math.ceil(n / multiple) * multiple;

// A fresh instance of the module whose load(file, fill, use) puts file at the
// end of memory, fills the FILLED bytes before it with the byte fill, loads
// it, and when it loads and use is true, completes TEXT with it (a damaged
// model that loads must be safe to use). largestFile: the longest file to
// load; spareBytes: room for everything the engine allocates meanwhile (a
// model's copy, a session), which must come from below the region: if the
// memory grew, bytes past the file would be readable.
export function boundedEngine(moduleBytes, { largestFile, spareBytes }) {
  const wasm = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes), {}).exports;
  // The heap is empty: this first block ends where the heap does.
  const spare = wasm.buffer_alloc(spareBytes);
  const regionStart = spare + roundUp(spareBytes, 16) + BLOCK_HEADER;
  const regionBytes = roundUp(regionStart + largestFile, PAGE) - regionStart;
  const region = wasm.buffer_alloc(regionBytes);
  const end = region + regionBytes;
  if (region !== regionStart || wasm.memory.buffer.byteLength !== end) {
    throw new Error('the region does not end at the end of memory: has runtime.c changed?');
  }
  wasm.buffer_free(spare); // the engine's allocations now fit below the region

  const slot = wasm.buffer_alloc(4);
  const out = wasm.buffer_alloc(MAX_CHARS + 1);
  const text = placeText(wasm, TEXT);
  const suffix = placeText(wasm, SUFFIX);
  const u32 = (pointer) => new Uint32Array(wasm.memory.buffer, pointer, 1)[0];

  function complete(model) {
    const status = wasm.session_create(model, 0, slot); // 0: the default options
    if (status !== 0) return { sessionStatus: status };
    const session = u32(slot);
    const completed = wasm.session_complete(session, text, TEXT.length, suffix, SUFFIX.length,
      0, MAX_CHARS, 0, 1, 0, 0, out, MAX_CHARS + 1, slot);
    const length = u32(slot);
    wasm.session_free(session);
    const suggestion = new TextDecoder().decode(new Uint8Array(wasm.memory.buffer, out, length));
    return { completed, suggestion };
  }

  function load(file, fill, use) {
    const memory = new Uint8Array(wasm.memory.buffer);
    const start = end - file.length;
    memory.fill(fill, Math.max(region, start - FILLED), start);
    memory.set(file, start);
    const status = wasm.model_load(start, file.length, slot);
    let result = { status };
    if (status === 0) {
      const model = u32(slot);
      if (use) result = { status, ...complete(model) };
      wasm.model_free(model);
    }
    if (wasm.memory.buffer.byteLength !== end) {
      throw new Error(`the engine grew the memory: spareBytes (${spareBytes}) is too small`);
    }
    return result;
  }

  // Calls the exported retyped_length on n bytes that end k bytes past the memory.
  const readPastTheEnd = (n, k) => wasm.retyped_length(end - n + k, n, text, TEXT.length);

  const message = (status) => {
    const memory = new Uint8Array(wasm.memory.buffer);
    const pointer = wasm.strerror(status);
    return new TextDecoder().decode(memory.subarray(pointer, memory.indexOf(0, pointer)));
  };

  return { load, readPastTheEnd, message };
}

function placeText(wasm, text) {
  const bytes = new TextEncoder().encode(text);
  const pointer = wasm.buffer_alloc(bytes.length);
  new Uint8Array(wasm.memory.buffer).set(bytes, pointer);
  return pointer;
}

// CRC-32 (zlib's) with the checksum field, bytes 96..99, read as 0 (engine_c/FORMAT.md).
const CRC_TABLE = Array.from({ length: 256 }, (_, i) => {
  let c = i;
  for (let bit = 0; bit < 8; bit++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

export function withChecksum(file) {
  const repaired = file.slice();
  repaired.fill(0, 96, 100);
  let crc = 0xffffffff;
  for (const byte of repaired) crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  new DataView(repaired.buffer, repaired.byteOffset).setUint32(96, (crc ^ 0xffffffff) >>> 0, true);
  return repaired;
}

// Damaged copies of a valid file, as {damage, file}: damage says how to
// rebuild it ({truncate: n} or {flip: byte, bit, repaired}; repaired: with its
// checksum made right again, so that the checks behind the checksum see it).
// Every truncation and every byte of the file with one bit flipped, or, with
// step > 1, truncations and flips at every step-th byte (and every byte of
// the 128-byte header).
export function* damagedCopies(good, step = 1) {
  const positions = [];
  for (let i = 0; i < good.length; i += i < 128 ? 1 : step) positions.push(i);
  for (const n of positions) yield { damage: { truncate: n }, file: good.subarray(0, n) };
  for (const i of positions) {
    const flipped = good.slice();
    flipped[i] ^= 1 << (i % 8);
    yield { damage: { flip: i, bit: i % 8, repaired: false }, file: flipped };
    yield { damage: { flip: i, bit: i % 8, repaired: true }, file: withChecksum(flipped) };
  }
}
