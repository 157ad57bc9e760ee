import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, readdir, readFile, rmdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

/**
 * A cgroup subtree of our own, e.g. `/strata-s3-n0`, present in every
 * hierarchy the host mounts (cgroup v1 has one per controller, and the
 * kubelet refuses a cgroupRoot missing from any of them). A node's
 * containerd, shims, pods and containers all live below it, so teardown can
 * find and kill every one of them by membership instead of by name.
 */
export class CgroupTree {
  private constructor(
    readonly path: string,
    private readonly hierarchies: readonly string[],
  ) {}

  /**
   * Creates the subtree and its `children` in every hierarchy; cpuset cgroups
   * get their parent's CPUs and memory nodes (a v1 cpuset starts empty).
   */
  static async create(path: string, children: readonly string[] = []): Promise<CgroupTree> {
    const tree = new CgroupTree(path, await cgroupHierarchies());
    for (const root of tree.hierarchies) {
      for (const rel of [path, ...children.map((c) => join(path, c))]) {
        const dir = join(root, rel);
        await mkdir(dir, { recursive: true });
        for (const file of ["cpuset.cpus", "cpuset.mems"]) {
          const parent = join(dirname(dir), file);
          if (existsSync(parent) && (await readFile(join(dir, file), "utf8")).trim() === "") {
            await writeFile(join(dir, file), await readFile(parent, "utf8"));
          }
        }
      }
    }
    return tree;
  }

  /** The `cgroup.procs` file of the subtree's root, or of its child `child` (made by create()), in every hierarchy. */
  procsFiles(child = ""): string[] {
    return this.hierarchies.map((root) => join(root, this.path, child, "cgroup.procs"));
  }

  /** The subtree as it may exist already (a crashed run's), for cleanup. */
  static async existing(path: string): Promise<CgroupTree> {
    return new CgroupTree(path, await cgroupHierarchies());
  }

  /** Every process in the subtree, in any hierarchy. */
  async pids(): Promise<number[]> {
    const pids = new Set<number>();
    for (const root of this.hierarchies) {
      for (const dir of await subtree(join(root, this.path))) {
        const text = await readFile(join(dir, "cgroup.procs"), "utf8").catch(() => "");
        for (const line of text.split("\n")) if (line !== "") pids.add(Number(line));
      }
    }
    return [...pids];
  }

  /** SIGKILLs every process in the subtree until none is left (or the deadline passes). */
  async killAll(deadlineMs = 10_000): Promise<number[]> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const pids = await this.pids();
      if (pids.length === 0) return [];
      if (Date.now() > deadline) return pids;
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // exited meanwhile
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /**
   * One synchronous SIGKILL sweep, for a process "exit" hook (which cannot
   * wait): whatever a crashed test leaves running dies with it.
   */
  killAllSync(): void {
    for (const root of this.hierarchies) {
      for (const dir of subtreeSync(join(root, this.path))) {
        let text = "";
        try {
          text = readFileSync(join(dir, "cgroup.procs"), "utf8");
        } catch {
          continue;
        }
        for (const line of text.split("\n")) {
          try {
            if (line !== "") process.kill(Number(line), "SIGKILL");
          } catch {
            // exited meanwhile
          }
        }
      }
    }
  }

  /** Removes the subtree's directories, deepest first, in every hierarchy; retries while they drain. */
  async remove(deadlineMs = 10_000): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    for (const root of this.hierarchies) {
      const dirs = (await subtree(join(root, this.path))).sort((a, b) => b.length - a.length);
      for (const dir of dirs) {
        for (;;) {
          try {
            await rmdir(dir);
            break;
          } catch (err: unknown) {
            const code = (err as NodeJS.ErrnoException).code;
            if (code === "ENOENT") break;
            if (code !== "EBUSY" || Date.now() > deadline) throw err;
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        }
      }
    }
  }
}

/** Mount points of the host's cgroup hierarchies (v1 controllers, named ones, or the v2 unified one). */
async function cgroupHierarchies(): Promise<string[]> {
  const text = await readFile("/proc/self/mountinfo", "utf8");
  const roots: string[] = [];
  for (const line of text.split("\n")) {
    const [left, right] = line.split(" - ");
    const fstype = right?.split(" ")[0];
    const mountPoint = left?.split(" ")[4];
    if ((fstype === "cgroup" || fstype === "cgroup2") && mountPoint !== undefined) roots.push(mountPoint);
  }
  return [...new Set(roots)];
}

function subtreeSync(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out = [dir];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) out.push(...subtreeSync(join(dir, entry.name)));
  }
  return out;
}

/** `dir` and every cgroup directory below it (empty when `dir` does not exist). */
async function subtree(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const out = [dir];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) out.push(...(await subtree(join(dir, entry.name))));
  }
  return out;
}
