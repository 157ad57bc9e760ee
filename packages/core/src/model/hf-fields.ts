import { InputError } from "../errors.js";

export type ConfigObject = Readonly<Record<string, unknown>>;

/** The fields of one config.json object (or a nested one such as `text_config`) for one architecture. */
export interface FieldList {
  /** What the object's `model_type` says, for messages. */
  readonly modelType: string;
  /** Fields the loader turns into the model's shape or weights. */
  readonly reads: readonly string[];
  /**
   * Fields known not to change weight bytes, KV-cache bytes or FLOPs: token ids,
   * RoPE and norm constants, routing and training settings, library metadata.
   */
  readonly harmless: readonly string[];
}

export function isObject(v: unknown): v is ConfigObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Reads one config object strictly: every field present must be on its
 * architecture's list, and values are checked as they are read. A null value
 * counts as absent (config.json writes unset optional fields as null).
 */
export class ConfigFields {
  constructor(
    private readonly obj: ConfigObject,
    private readonly list: FieldList,
    /** How errors name the object, e.g. `config.json` or `config.json: text_config`. */
    readonly where: string,
  ) {}

  /**
   * Refuses the first field that is on neither list: planning as if it were
   * absent could be wrong about memory.
   * @throws InputError naming the field
   */
  refuseUnknown(): void {
    const known = new Set([...this.list.reads, ...this.list.harmless]);
    for (const key of Object.keys(this.obj)) {
      if (!known.has(key)) {
        throw new InputError(
          `${this.where}: ${key}`,
          `is not a field Strata models for model_type "${this.list.modelType}"; ` +
            "refusing to plan without understanding it",
        );
      }
    }
  }

  has(key: string): boolean {
    this.declared(key);
    const v = this.obj[key];
    return v !== undefined && v !== null;
  }

  raw(key: string): unknown {
    this.declared(key);
    return this.obj[key];
  }

  /** @throws InputError when missing (without fallback) or not a positive integer */
  int(key: string, fallback?: number): number {
    const v = this.raw(key);
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw new InputError(`${this.where}: ${key}`, "is missing");
    }
    return this.positive(key, v);
  }

  /** A non-negative integer (0 allowed), or the fallback when absent. */
  count(key: string, fallback: number): number {
    const v = this.raw(key);
    if (v === undefined || v === null) return fallback;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
      throw new InputError(
        `${this.where}: ${key}`,
        `must be a non-negative integer, got ${JSON.stringify(v)}`,
      );
    }
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.raw(key);
    if (v === undefined || v === null) return fallback;
    if (typeof v !== "boolean") {
      throw new InputError(`${this.where}: ${key}`, `must be true or false, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  /** A list of non-negative integers, or undefined when absent. */
  indices(key: string): number[] | undefined {
    const v = this.raw(key);
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === "number" && Number.isSafeInteger(x) && x >= 0)) {
      throw new InputError(`${this.where}: ${key}`, "must be a list of layer indices");
    }
    return v as number[];
  }

  /** A nested object, or undefined when absent. */
  object(key: string): ConfigObject | undefined {
    const v = this.raw(key);
    if (v === undefined || v === null) return undefined;
    if (!isObject(v)) throw new InputError(`${this.where}: ${key}`, "must be a JSON object");
    return v;
  }

  string(key: string): string | undefined {
    const v = this.raw(key);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "string") {
      throw new InputError(`${this.where}: ${key}`, `must be a string, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  private positive(key: string, v: unknown): number {
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) {
      throw new InputError(`${this.where}: ${key}`, `must be a positive integer, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  /** Reading a field the architecture's list does not declare is a bug in the list, not bad input. */
  private declared(key: string): void {
    if (!this.list.reads.includes(key)) {
      throw new Error(`field list for ${this.list.modelType} does not declare "${key}" as read`);
    }
  }
}
