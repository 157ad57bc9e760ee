/**
 * Every NATS subject Strata uses, in one place. Subjects are built from a
 * stage's identity so that a consumer can subscribe to one deployment, one
 * replica or everything with NATS wildcards:
 *
 *   strata.heartbeat.<deployment>.<replica>.<stage>    core NATS, every second
 *   strata.lifecycle.<deployment>.<replica>.<stage>    JetStream (LIFECYCLE_STREAM)
 *   strata.control.<deployment>.<replica>.<stage>      request-reply to one worker
 *   strata.cluster.status                              request-reply to the controller
 */
import { InputError } from "../errors.js";
import { isDeploymentName } from "../names.js";

export const SUBJECT_ROOT = "strata";

/** Identifies one pipeline stage of one replica of one deployment. */
export interface StageRef {
  readonly deployment: string;
  readonly replica: number;
  readonly stage: number;
}

/** Throws InputError naming the field when a stage identity cannot form a subject. */
export function checkStageRef(ref: StageRef): StageRef {
  if (!isDeploymentName(ref.deployment)) {
    throw new InputError(
      "deployment",
      `must be a lowercase DNS label (a-z, 0-9, "-", at most 63 characters), got "${ref.deployment}"`,
    );
  }
  if (!Number.isSafeInteger(ref.replica) || ref.replica < 0) {
    throw new InputError("replica", `must be a non-negative integer, got ${ref.replica}`);
  }
  if (!Number.isSafeInteger(ref.stage) || ref.stage < 0) {
    throw new InputError("stage", `must be a non-negative integer, got ${ref.stage}`);
  }
  return ref;
}

function stageTokens(ref: StageRef): string {
  checkStageRef(ref);
  return `${ref.deployment}.${ref.replica}.${ref.stage}`;
}

/** `deployment` narrows a wildcard to one deployment; omitted, it matches all. */
function scope(kind: string, deployment?: string): string {
  if (deployment === undefined) return `${SUBJECT_ROOT}.${kind}.>`;
  if (!isDeploymentName(deployment)) throw new InputError("deployment", `not a valid name: "${deployment}"`);
  return `${SUBJECT_ROOT}.${kind}.${deployment}.>`;
}

export const subjects = {
  heartbeat: (ref: StageRef): string => `${SUBJECT_ROOT}.heartbeat.${stageTokens(ref)}`,
  heartbeats: (deployment?: string): string => scope("heartbeat", deployment),
  lifecycle: (ref: StageRef): string => `${SUBJECT_ROOT}.lifecycle.${stageTokens(ref)}`,
  lifecycles: (deployment?: string): string => scope("lifecycle", deployment),
  control: (ref: StageRef): string => `${SUBJECT_ROOT}.control.${stageTokens(ref)}`,
  clusterStatus: (): string => `${SUBJECT_ROOT}.cluster.status`,
} as const;

/**
 * The kind of a subject without its identity tokens, e.g. "heartbeat". Used as
 * a metric label: bounded, unlike the subject itself.
 */
export function subjectKind(subject: string): string {
  const tokens = subject.split(".");
  if (tokens[0] !== SUBJECT_ROOT || tokens.length < 2) return "other";
  return tokens[1] ?? "other";
}

/** Parses `strata.<kind>.<deployment>.<replica>.<stage>` back into its stage identity. */
export function stageRefOf(subject: string): StageRef | undefined {
  const tokens = subject.split(".");
  if (tokens.length !== 5 || tokens[0] !== SUBJECT_ROOT) return undefined;
  const [, , deployment, replica, stage] = tokens;
  if (deployment === undefined || !isDeploymentName(deployment)) return undefined;
  if (!/^\d+$/.test(replica ?? "") || !/^\d+$/.test(stage ?? "")) return undefined;
  return { deployment, replica: Number(replica), stage: Number(stage) };
}
