import { open } from "node:fs/promises";
import { GgufTruncatedError, InputError, type ModelSpec, modelSpecFromGguf, parseGguf } from "@strata/core";

const FIRST_READ_BYTES = 1 << 20;

/**
 * Reads the GGUF header of `path` (growing the read until the header fits)
 * and returns the model's spec.
 * @throws InputError(field) for a missing, unreadable or malformed file
 */
export async function readModelSpec(path: string, field = "model"): Promise<ModelSpec> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, "r");
  } catch (err: unknown) {
    const code = err instanceof Error && "code" in err ? String(err.code) : "unknown error";
    throw new InputError(field, `cannot read ${path}: ${code}`);
  }
  try {
    const { size } = await handle.stat();
    for (let want = FIRST_READ_BYTES; ; want *= 4) {
      const length = Math.min(want, size);
      const bytes = Buffer.alloc(length);
      await handle.read(bytes, 0, length, 0);
      try {
        return modelSpecFromGguf(parseGguf(bytes, { source: path }), { source: path });
      } catch (err: unknown) {
        if (err instanceof GgufTruncatedError && length < size) continue;
        if (err instanceof InputError) throw new InputError(field, err.message, { cause: err });
        throw err;
      }
    }
  } catch (err: unknown) {
    if (err instanceof InputError) throw err;
    const code = err instanceof Error && "code" in err ? String(err.code) : String(err);
    throw new InputError(field, `cannot read ${path}: ${code}`);
  } finally {
    await handle.close();
  }
}
