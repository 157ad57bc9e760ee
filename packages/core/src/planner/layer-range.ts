import { z } from "zod";
import { InputError } from "../errors.js";

/**
 * The contiguous transformer blocks one pipeline stage holds, `first` and
 * `last` both inclusive (stage ranges index the model's blocks from 0). The
 * one shape of a layer range everywhere: plans, the CRD status, worker
 * configuration, heartbeats.
 */
export interface LayerRange {
  readonly first: number;
  readonly last: number;
}

const layerIndex = z.number().int().nonnegative();

export const layerRangeSchema = z
  .object({ first: layerIndex, last: layerIndex })
  .refine((r) => r.last >= r.first, { message: "last must not be less than first" });

/** Blocks in the range. */
export function layerCount(range: LayerRange): number {
  return range.last - range.first + 1;
}

/** `first-last`, as annotations, logs and tables show a range. */
export function formatLayerRange(range: LayerRange): string {
  return `${range.first}-${range.last}`;
}

/**
 * Parses `first-last` (inclusive).
 * @throws InputError(field) when the text is not two ordered non-negative integers
 */
export function parseLayerRange(text: string, field: string): LayerRange {
  const match = /^(\d+)-(\d+)$/.exec(text.trim());
  const first = Number(match?.[1]);
  const last = Number(match?.[2]);
  if (!match || !Number.isSafeInteger(first) || !Number.isSafeInteger(last) || last < first) {
    throw new InputError(field, `expected an inclusive layer range like 0-14, got ${JSON.stringify(text)}`);
  }
  return { first, last };
}

/**
 * Checks that `ranges` cover blocks 0..numLayers-1 once each, in stage order.
 * @throws InputError(field) naming the first stage that breaks it
 */
export function checkStageRanges(ranges: readonly LayerRange[], numLayers: number, field: string): void {
  let next = 0;
  for (const [stage, r] of ranges.entries()) {
    if (r.first !== next || r.last < r.first) {
      throw new InputError(
        field,
        `stage ${stage} holds ${formatLayerRange(r)}, expected to start at ${next}`,
      );
    }
    next = r.last + 1;
  }
  if (next !== numLayers) throw new InputError(field, `the stages cover ${next} of ${numLayers} layers`);
}
