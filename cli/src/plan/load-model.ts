import { open, readFile, stat } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import {
  findModel,
  GgufTruncatedError,
  InputError,
  type ModelSpec,
  modelSpecFromGguf,
  modelSpecFromHfConfig,
  parseGguf,
} from "@strata/core";

/** GGUF headers of real models (tokenizer included) are a few MiB; start there and grow. */
const GGUF_FIRST_READ_BYTES = 8 * 1024 * 1024;

/**
 * `--model`: a catalog name, a path to a config.json (or a directory holding one),
 * or a path to a .gguf file.
 * @throws InputError("--model" or the file path) for unknown names, unreadable or malformed files
 */
export async function loadModel(value: string): Promise<ModelSpec> {
  const looksLikePath = /[/\\]/.test(value) || /\.(gguf|json)$/i.test(value);
  if (!looksLikePath) return findModel(value);
  const info = await stat(value).catch((err: unknown) => {
    throw new InputError("--model", `cannot read ${value}: ${errorCode(err)}`, { cause: err });
  });
  const path = info.isDirectory() ? join(value, "config.json") : value;
  if (extname(path).toLowerCase() === ".gguf") return loadGguf(path);
  return loadHfConfig(path);
}

async function loadHfConfig(path: string): Promise<ModelSpec> {
  const text = await readFile(path, "utf8").catch((err: unknown) => {
    throw new InputError("--model", `cannot read ${path}: ${errorCode(err)}`, { cause: err });
  });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err: unknown) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new InputError(path, `is not valid JSON (${detail})`, { cause: err });
  }
  // A config.json is named after its model directory, e.g. Llama-3.1-8B/config.json.
  const file = basename(path, extname(path));
  const name = file === "config" ? basename(dirname(path)) || "model" : file;
  return modelSpecFromHfConfig(json, { name, source: path });
}

async function loadGguf(path: string): Promise<ModelSpec> {
  const handle = await open(path, "r").catch((err: unknown) => {
    throw new InputError("--model", `cannot read ${path}: ${errorCode(err)}`, { cause: err });
  });
  try {
    const size = (await handle.stat()).size;
    let want = Math.min(size, GGUF_FIRST_READ_BYTES);
    for (;;) {
      const buffer = new Uint8Array(want);
      const { bytesRead } = await handle.read(buffer, 0, want, 0);
      try {
        const header = parseGguf(buffer.subarray(0, bytesRead), { source: path });
        return modelSpecFromGguf(header, { name: basename(path, extname(path)), source: path });
      } catch (err: unknown) {
        // A header longer than the prefix: read more, up to the whole file.
        if (!(err instanceof GgufTruncatedError) || want >= size) throw err;
        want = Math.min(size, want * 4);
      }
    }
  } finally {
    await handle.close();
  }
}

function errorCode(err: unknown): string {
  if (err instanceof Error && "code" in err && typeof err.code === "string") {
    return err.code === "ENOENT" ? "no such file" : err.code;
  }
  return String(err);
}
