/**
 * 64-bit FNV-1a, the hash ggml-rpc keys its tensor cache with
 * (ggml/src/ggml-rpc/ggml-rpc.cpp, `fnv_hash`: offset basis
 * 0xcbf29ce484222325, prime 0x100000001b3, one byte at a time). JavaScript
 * has no fast 64-bit multiply, so the loop is a small WebAssembly function
 * (i64 arithmetic at native speed), assembled below from its opcodes; the
 * bytes are read from the file straight into its memory.
 */

export const FNV1A_OFFSET_BASIS = 0xcbf29ce484222325n;
const FNV1A_PRIME = 0x100000001b3n;

/** Chunk of a file hashed per call: the WebAssembly memory the reads land in. */
export const FNV1A_CHUNK_BYTES = 16 * 1024 * 1024;
const WASM_PAGE_BYTES = 64 * 1024;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb64(value: bigint): number[] {
  const out: number[] = [];
  let v = BigInt.asIntN(64, value);
  for (;;) {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && (byte & 0x40) === 0) || (v === -1n && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const OP = {
  block: 0x02,
  loop: 0x03,
  brIf: 0x0d,
  end: 0x0b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i64Load8U: 0x31,
  i32Const: 0x41,
  i64Const: 0x42,
  i32LtU: 0x49,
  i32GeU: 0x4f,
  i32And: 0x71,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i64Mul: 0x7e,
  i64Xor: 0x85,
  void: 0x40,
  i32: 0x7f,
  i64: 0x7e,
} as const;

/**
 * `fnv(ptr i32, len i32, hash i64) -> i64`, locals: 0 ptr, 1 len, 2 hash,
 * 3 end, 4 end of the 8-byte-unrolled part.
 */
function fnvModule(): Uint8Array {
  const [PTR, LEN, HASH, END, END8] = [0, 1, 2, 3, 4];
  const get = (i: number) => [OP.localGet, i];
  const set = (i: number) => [OP.localSet, i];
  // hash = (hash ^ byte[ptr + offset]) * prime
  const step = (offset: number) => [
    ...get(HASH),
    ...get(PTR),
    OP.i64Load8U,
    0,
    ...uleb(offset),
    OP.i64Xor,
    OP.i64Const,
    ...sleb64(FNV1A_PRIME),
    OP.i64Mul,
    ...set(HASH),
  ];
  const advance = (bytes: number) => [...get(PTR), OP.i32Const, bytes, OP.i32Add, OP.localTee, PTR];
  const body = [
    1, // one local group:
    2,
    OP.i32, // end, end8
    ...get(PTR),
    ...get(LEN),
    OP.i32Add,
    ...set(END),
    ...get(END),
    ...get(LEN),
    OP.i32Const,
    7,
    OP.i32And, // len % 8
    OP.i32Sub,
    ...set(END8),
    // while (ptr < end8) { 8 steps; ptr += 8 }
    OP.block,
    OP.void,
    ...get(PTR),
    ...get(END8),
    OP.i32GeU,
    OP.brIf,
    0,
    OP.loop,
    OP.void,
    ...[0, 1, 2, 3, 4, 5, 6, 7].flatMap(step),
    ...advance(8),
    ...get(END8),
    OP.i32LtU,
    OP.brIf,
    0,
    OP.end,
    OP.end,
    // while (ptr < end) { 1 step; ptr += 1 }
    OP.block,
    OP.void,
    ...get(PTR),
    ...get(END),
    OP.i32GeU,
    OP.brIf,
    0,
    OP.loop,
    OP.void,
    ...step(0),
    ...advance(1),
    ...get(END),
    OP.i32LtU,
    OP.brIf,
    0,
    OP.end,
    OP.end,
    ...get(HASH),
    OP.end,
  ];
  const section = (id: number, payload: number[]) => [id, ...uleb(payload.length), ...payload];
  const name = (s: string) => [s.length, ...Buffer.from(s, "ascii")];
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
    ...section(1, [1, 0x60, 3, OP.i32, OP.i32, OP.i64, 1, OP.i64]), // type: (i32 i32 i64) -> i64
    ...section(2, [1, ...name("env"), ...name("memory"), 0x02, 0x00, 1]), // import env.memory, min 1 page
    ...section(3, [1, 0]), // one function of type 0
    ...section(7, [1, ...name("fnv"), 0x00, 0]), // export it as "fnv"
    ...section(10, [1, ...uleb(body.length), ...body]),
  ]);
}

/** The part of the WebAssembly JS API used here (the project's TypeScript libs do not declare it). */
interface WasmApi {
  Memory: new (descriptor: { initial: number }) => { readonly buffer: ArrayBuffer };
  instantiate(
    bytes: Uint8Array,
    imports: object,
  ): Promise<{ instance: { exports: Record<string, unknown> } }>;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** An FNV-1a hasher with its own chunk buffer; hashes one tensor (or any byte run) at a time. */
export class Fnv1a {
  /** Where to put the next bytes to hash: up to FNV1A_CHUNK_BYTES. */
  readonly chunk: Buffer;
  private state = FNV1A_OFFSET_BASIS;

  private constructor(
    private readonly fnv: (ptr: number, len: number, hash: bigint) => bigint,
    memory: { readonly buffer: ArrayBuffer },
  ) {
    this.chunk = Buffer.from(memory.buffer, 0, FNV1A_CHUNK_BYTES);
  }

  static async create(): Promise<Fnv1a> {
    const memory = new wasm.Memory({ initial: FNV1A_CHUNK_BYTES / WASM_PAGE_BYTES });
    const { instance } = await wasm.instantiate(fnvModule(), { env: { memory } });
    const fnv = instance.exports.fnv as (ptr: number, len: number, hash: bigint) => bigint;
    return new Fnv1a(fnv, memory);
  }

  reset(): void {
    this.state = FNV1A_OFFSET_BASIS;
  }

  /** Folds the first `length` bytes of `chunk` into the hash. */
  updateFromChunk(length: number): void {
    if (length > FNV1A_CHUNK_BYTES) throw new RangeError(`${length} bytes exceed the hash chunk`);
    this.state = BigInt.asUintN(64, this.fnv(0, length, BigInt.asIntN(64, this.state)));
  }

  /** Folds `bytes` into the hash (copying them into the chunk). */
  update(bytes: Uint8Array): void {
    for (let at = 0; at < bytes.length; at += FNV1A_CHUNK_BYTES) {
      const part = bytes.subarray(at, at + FNV1A_CHUNK_BYTES);
      this.chunk.set(part);
      this.updateFromChunk(part.length);
    }
  }

  /** The hash so far, as ggml-rpc names cache files: 16 lower-case hex digits. */
  hex(): string {
    return this.state.toString(16).padStart(16, "0");
  }
}
