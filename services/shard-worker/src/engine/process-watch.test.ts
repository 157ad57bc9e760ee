import { spawn } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { processGroupMembers, watchGroupMembers } from "./process-watch.js";

const started: number[] = [];
afterEach(() => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {}
  }
});

/** A process group of a shell and two titled sleepers (exec -a sets their argv[0]). */
async function group(): Promise<number> {
  const child = spawn("bash", ["-c", "(exec -a RANK::one sleep 60) & (exec -a RANK::two sleep 60) & wait"], {
    detached: true,
    stdio: "ignore",
  });
  const pgid = child.pid as number;
  started.push(pgid);
  // Until both sleepers carry their titles: a subshell is a member before its exec renames it.
  const titled = () => processGroupMembers(pgid).filter((m) => m.title.startsWith("RANK::")).length;
  for (let i = 0; i < 250 && titled() < 2; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return pgid;
}

describe("watching an engine's processes", () => {
  it("lists a process group's members with their titles", async () => {
    const pgid = await group();
    const titles = processGroupMembers(pgid).map((m) => m.title.split(" ")[0]);
    expect(titles).toEqual(expect.arrayContaining(["RANK::one", "RANK::two"]));
  });

  it("reports the first watched member that dies, within the poll interval", async () => {
    const pgid = await group();
    const lost: string[] = [];
    const stop = watchGroupMembers(pgid, /^RANK::/, (m) => lost.push(m.title), 50);
    const two = processGroupMembers(pgid).find((m) => m.title.startsWith("RANK::two"));
    expect(two).toBeDefined();
    const killedAt = Date.now();
    process.kill(two?.pid as number, "SIGKILL");
    while (lost.length === 0 && Date.now() - killedAt < 2_000) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    stop();
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatch(/^RANK::two/);
  });
});
