import { InputError } from "../errors.js";

/** Kubernetes quantity suffixes (apimachinery resource.Quantity): decimal SI and binary. */
const MULTIPLIERS: Record<string, number> = {
  "": 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
  Pi: 1024 ** 5,
  Ei: 1024 ** 6,
};

/**
 * A quantity such as `64Gi` or `500M` as a whole number of bytes (rounded up).
 * @throws InputError(field) for text that is not a quantity
 */
export function quantityBytes(quantity: string, field: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei)?$/.exec(quantity);
  const multiplier = MULTIPLIERS[match?.[2] ?? ""];
  if (!match || multiplier === undefined) {
    throw new InputError(field, `${JSON.stringify(quantity)} is not a Kubernetes quantity such as 64Gi`);
  }
  return Math.ceil(Number(match[1]) * multiplier);
}
