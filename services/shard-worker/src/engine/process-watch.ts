/**
 * Watching the processes an engine starts on its own (vLLM's engine core and
 * one worker per rank) so that the death of any of them is noticed at once,
 * not when the engine's main process gets round to exiting. Linux: reads /proc.
 */
import { readdirSync, readFileSync } from "node:fs";

export interface GroupMember {
  readonly pid: number;
  /** The process title (argv as the process set it, e.g. `VLLM::Worker_PP1`). */
  readonly title: string;
}

/** Live members of process group `pgid` (zombies excluded). */
export function processGroupMembers(pgid: number): GroupMember[] {
  const members: GroupMember[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return members;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Fields after the parenthesised command: state ppid pgrp …
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (rest[0] === "Z" || Number(rest[2]) !== pgid) continue;
      const title = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ").trim();
      members.push({ pid: Number(entry), title });
    } catch {
      // Gone between readdir and read.
    }
  }
  return members;
}

const WATCH_INTERVAL_MS = 500;

/**
 * Remembers the members of `pgid` whose title matches `pattern` now, and calls
 * `lost` once when one of them is gone. Returns a function that stops watching.
 */
export function watchGroupMembers(
  pgid: number,
  pattern: RegExp,
  lost: (member: GroupMember) => void,
  intervalMs = WATCH_INTERVAL_MS,
): () => void {
  const watched = processGroupMembers(pgid).filter((m) => pattern.test(m.title));
  const timer = setInterval(() => {
    const alive = new Set(processGroupMembers(pgid).map((m) => m.pid));
    const gone = watched.find((m) => !alive.has(m.pid));
    if (gone) {
      clearInterval(timer);
      lost(gone);
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
