import { open, rename } from "node:fs/promises";
import { type TinyLlamaOptions, tinyLlamaGgufChunks } from "./tiny-llama.js";

/**
 * Writes a generated model to `path` (via a temporary file, so a reader never
 * sees half a model). Returns the file size in bytes.
 */
export async function writeTinyLlamaGguf(
  path: string,
  options: Partial<TinyLlamaOptions> = {},
): Promise<number> {
  const partial = `${path}.partial-${process.pid}`;
  const handle = await open(partial, "w");
  let bytes = 0;
  try {
    for (const chunk of tinyLlamaGgufChunks(options)) {
      await handle.write(chunk);
      bytes += chunk.length;
    }
  } finally {
    await handle.close();
  }
  await rename(partial, path);
  return bytes;
}
