import type { GgufHeader, GgufValue } from "@strata/core";

/** A GGUF metadata key is missing or has the wrong type; `key` names it. */
export class GgufMetadataError extends Error {
  override readonly name = "GgufMetadataError";
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`${key}: ${message}`);
  }
}

/** Typed reads of a GGUF header's metadata, failing with the key's name. */
export class GgufMeta {
  constructor(private readonly header: GgufHeader) {}

  get(key: string): GgufValue | undefined {
    return this.header.metadata.get(key);
  }

  has(key: string): boolean {
    return this.header.metadata.has(key);
  }

  string(key: string): string;
  string(key: string, fallback: string): string;
  string(key: string, fallback?: string): string {
    const v = this.get(key);
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== "string")
      throw new GgufMetadataError(key, v === undefined ? "is missing" : "must be a string");
    return v;
  }

  optionalString(key: string): string | undefined {
    return this.has(key) ? this.string(key) : undefined;
  }

  /** A non-negative integer. */
  int(key: string, fallback?: number): number {
    const v = this.get(key);
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
      throw new GgufMetadataError(key, v === undefined ? "is missing" : "must be a non-negative integer");
    }
    return v;
  }

  optionalInt(key: string): number | undefined {
    return this.has(key) ? this.int(key) : undefined;
  }

  float(key: string, fallback?: number): number {
    const v = this.get(key);
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== "number")
      throw new GgufMetadataError(key, v === undefined ? "is missing" : "must be a number");
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.get(key);
    if (v === undefined) return fallback;
    if (typeof v !== "boolean") throw new GgufMetadataError(key, "must be a boolean");
    return v;
  }

  strings(key: string): string[] {
    const v = this.get(key);
    if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
      throw new GgufMetadataError(key, v === undefined ? "is missing" : "must be an array of strings");
    }
    return v as string[];
  }

  /** An array of integers, or undefined when the key is absent. */
  optionalInts(key: string): number[] | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === "number" && Number.isInteger(x))) {
      throw new GgufMetadataError(key, "must be an array of integers");
    }
    return v as number[];
  }
}

/**
 * A float32 metadata value as the shortest decimal that reads back as the
 * same float32 (GGUF stores 1e-5 as 9.999999747378752e-6).
 */
export function shortestFloat32(value: number): number {
  const f = Math.fround(value);
  for (let digits = 1; digits <= 17; digits++) {
    const candidate = Number(f.toPrecision(digits));
    if (Math.fround(candidate) === f) return candidate;
  }
  return f;
}
