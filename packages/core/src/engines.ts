import { z } from "zod";

/** Engines a shard worker runs, and so a ModelDeployment may name. */
export const ENGINES = ["llamacpp", "vllm"] as const;
export type Engine = (typeof ENGINES)[number];
export const engineSchema = z.enum(ENGINES);
