import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { quantityBytes } from "./quantity.js";

describe("Kubernetes quantities as bytes", () => {
  it.each([
    ["64Gi", 64 * 1024 ** 3],
    ["500M", 500e6],
    ["1.5Ti", 1.5 * 1024 ** 4],
    ["1000", 1000],
    ["1500m", 2],
  ])("%s is %d bytes", (text, bytes) => {
    expect(quantityBytes(text, "sizeLimit")).toBe(bytes);
  });

  it("names the field of text that is not a quantity", () => {
    expect(() => quantityBytes("64GB", "spec.rpcCache.sizeLimit")).toThrow(InputError);
    expect(() => quantityBytes("64GB", "spec.rpcCache.sizeLimit")).toThrow(/^spec\.rpcCache\.sizeLimit: /);
  });
});
