import { InputError, type ModelSpec, modelSpecFromGguf } from "@strata/core";
import { GgufFile } from "./gguf-file.js";

/**
 * Reads the GGUF header of `path` and returns the model's spec.
 * @throws InputError(field) for a missing, unreadable or malformed file
 */
export async function readModelSpec(path: string, field = "model"): Promise<ModelSpec> {
  let file: GgufFile;
  try {
    file = await GgufFile.open(path);
  } catch (err: unknown) {
    if (err instanceof InputError) throw new InputError(field, err.message, { cause: err });
    const code = err instanceof Error && "code" in err ? String(err.code) : String(err);
    throw new InputError(field, `cannot read ${path}: ${code}`, { cause: err });
  }
  try {
    return modelSpecFromGguf(file.header, { source: path });
  } catch (err: unknown) {
    if (err instanceof InputError) throw new InputError(field, err.message, { cause: err });
    throw err;
  } finally {
    await file.close();
  }
}
