import { timingSafeEqual } from "node:crypto";
import type { MetadataLike } from "@strata/runtime";

export const AUTHORIZATION_METADATA_KEY = "authorization";

export function bearerValue(token: string): string {
  return `Bearer ${token}`;
}

/** True when `metadata` carries exactly `Bearer <token>`; compares in constant time. */
export function hasBearerToken(metadata: MetadataLike, token: string): boolean {
  const values = metadata.get(AUTHORIZATION_METADATA_KEY);
  if (values.length !== 1 || typeof values[0] !== "string") return false;
  const presented = Buffer.from(values[0], "utf8");
  const expected = Buffer.from(bearerValue(token), "utf8");
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}
