import { readFile } from "node:fs/promises";
import { runCommand } from "./commands.js";

/**
 * Mount points at or below `dir`, deepest first, from /proc/self/mountinfo
 * (containerd's rootfs and shm mounts, the kubelet's volume tmpfs, network
 * namespace bind mounts, debootstrap's /proc).
 */
export async function mountsUnder(dir: string): Promise<string[]> {
  const prefix = dir.endsWith("/") ? dir : `${dir}/`;
  const text = await readFile("/proc/self/mountinfo", "utf8");
  const points = text
    .split("\n")
    .map((line) => decodeMountPath(line.split(" ")[4] ?? ""))
    .filter((p) => p === dir || p.startsWith(prefix));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Unmounts everything at or below `dir` (lazily, so a busy mount cannot block teardown). */
export async function unmountUnder(dir: string): Promise<void> {
  for (const point of await mountsUnder(dir)) {
    await runCommand("umount", ["--lazy", point]).catch(async (err: unknown) => {
      // Gone already (an outer lazy unmount took it along) is fine; anything else is not.
      if ((await mountsUnder(point)).includes(point)) throw err;
    });
  }
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function decodeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}
