/**
 * The JetStream stream that keeps lifecycle events, so a controller that was
 * down catches up on what it missed. Plain data: the runtime package turns it
 * into a JetStream stream config.
 */
import { subjects } from "./subjects.js";

export const LIFECYCLE_STREAM = {
  name: "STRATA_LIFECYCLE",
  subjects: [subjects.lifecycles()],
  /** Events older than a week are of no use to a controller catching up. */
  maxAgeMs: 7 * 24 * 60 * 60 * 1000,
  /** Enough history per stage to replay a crash loop. */
  maxMsgsPerSubject: 1000,
  /** Re-sends with the same event id inside this window are stored once. */
  duplicateWindowMs: 2 * 60 * 1000,
} as const;

/** Heartbeat cadence and the loss rule the controller applies. */
export const HEARTBEAT_INTERVAL_MS = 1000;
/** A stage whose heartbeats stop for this many intervals is lost. */
export const LOST_AFTER_INTERVALS = 3;
/** A stage whose engine failed this many probes in a row is hung: the controller recreates its group. */
export const HUNG_AFTER_PROBE_FAILURES = 3;

/** Durable consumer names: one per consuming role, so each catches up independently. */
export const LIFECYCLE_CONSUMERS = {
  controller: "strata-controller",
  supervisor: "strata-supervisor",
  gateway: "strata-gateway",
} as const;

/** Message header names Strata sets besides W3C `traceparent`/`tracestate`. */
export const NATS_HEADERS = {
  /** JetStream de-duplication key. */
  msgId: "Nats-Msg-Id",
} as const;
