import { type FileHandle, open } from "node:fs/promises";
import { type GgufHeader, type GgufTensorInfo, GgufTruncatedError, parseGguf } from "@strata/core";

const FIRST_READ_BYTES = 1 << 20;

/**
 * An open GGUF file: its parsed header, and each tensor's raw bytes on demand
 * (the data section is never read whole).
 */
export class GgufFile {
  private constructor(
    private readonly handle: FileHandle,
    readonly path: string,
    readonly header: GgufHeader,
    readonly size: number,
  ) {}

  /**
   * Opens `path` and parses its header, reading more of the file until the header fits.
   * @throws InputError (from the parser) for a malformed header; the fs error when unreadable
   */
  static async open(path: string): Promise<GgufFile> {
    const handle = await open(path, "r");
    try {
      const { size } = await handle.stat();
      for (let want = FIRST_READ_BYTES; ; want *= 4) {
        const length = Math.min(want, size);
        const bytes = Buffer.alloc(length);
        await handle.read(bytes, 0, length, 0);
        try {
          return new GgufFile(handle, path, parseGguf(bytes, { source: path }), size);
        } catch (err: unknown) {
          if (err instanceof GgufTruncatedError && length < size) continue;
          throw err;
        }
      }
    } catch (err: unknown) {
      await handle.close();
      throw err;
    }
  }

  /**
   * The tensor's raw bytes.
   * @throws RangeError when the file ends before the tensor does
   */
  async tensorBytes(tensor: GgufTensorInfo): Promise<Buffer> {
    const start = this.header.dataOffset + tensor.offset;
    if (start + tensor.bytes > this.size) {
      throw new RangeError(`${this.path}: tensor ${tensor.name} runs past the end of the file`);
    }
    const bytes = Buffer.alloc(tensor.bytes);
    await this.handle.read(bytes, 0, tensor.bytes, start);
    return bytes;
  }

  /**
   * Reads `length` bytes at file offset `position` into the start of `target`; returns `length`.
   * @throws RangeError when the file ends before `length` bytes
   */
  async readInto(target: Buffer, length: number, position: number): Promise<number> {
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(target, done, length - done, position + done);
      if (bytesRead === 0) throw new RangeError(`${this.path}: file ends at ${position + done}`);
      done += bytesRead;
    }
    return done;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}
