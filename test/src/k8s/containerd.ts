import { createHash } from "node:crypto";
import { mkdir, rm, rmdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { CommandError, runCommand } from "../host/commands.js";
import { CNI_BIN_DIR } from "../host/packages.js";
import type { NodeNetwork } from "./node-network.js";
import { waitFor } from "./probe.js";
import { type ManagedProcess, startProcess } from "./processes.js";

/**
 * One real node's containerd (Debian's 1.6), in the node's network namespace,
 * with everything of its own: root, state, sockets, runc root, CNI config and
 * IPAM store, and a cgroup below the node's subtree that its shims inherit.
 * Settings that these VMs and the registry-less machine need:
 * `restrict_oom_score_adj` (lowering oom_score_adj fails here, and runc dies),
 * a local `sandbox_image`, and Debian's CNI plugin directory.
 */
export interface Containerd {
  readonly process: ManagedProcess;
  /** `unix://…`, the kubelet's containerRuntimeEndpoint. */
  readonly endpoint: string;
  readonly socket: string;
  /** CNI network name; libcni caches results under /var/lib/cni/results/<name>-*. */
  readonly cniNetwork: string;
}

export interface ContainerdOptions {
  /** The node's directory (all containerd state lives below `<dir>/containerd`). */
  readonly dir: string;
  readonly logDir: string;
  readonly network: NodeNetwork;
  /** cgroup path (from each hierarchy's root) that containerd and its shims run in. */
  readonly cgroup: string;
  readonly sandboxImage: string;
  /** `cgroup.procs` files it joins before it starts (CgroupTree.procsFiles). */
  readonly cgroupProcs: readonly string[];
}

/** The CRI namespace: images imported here are the ones the kubelet sees. */
export const CRI_NAMESPACE = "k8s.io";
const READY_TIMEOUT_MS = 30_000;
/** Host paths containerd 1.6 and libcni use whatever the configuration says. */
const SHIM_SOCKET_DIR = "/run/containerd/s";
const CNI_RESULTS_DIR = "/var/lib/cni/results";

export async function startContainerd(opts: ContainerdOptions): Promise<Containerd> {
  const root = join(opts.dir, "containerd");
  const cniConfDir = join(root, "net.d");
  await mkdir(cniConfDir, { recursive: true });
  const socket = join(root, "containerd.sock");
  const cniNetwork = opts.network.netns;
  await writeFile(join(cniConfDir, "10-strata.conflist"), cniConfig(cniNetwork, opts.network, root));
  const configPath = join(root, "config.toml");
  await writeFile(configPath, containerdConfig(root, socket, cniConfDir, opts));
  const process = startProcess(
    "containerd",
    "nsenter",
    [`--net=${opts.network.netnsPath}`, "--", "containerd", "--config", configPath],
    { logDir: opts.logDir, cgroupProcs: opts.cgroupProcs },
  );
  await waitFor(
    "containerd",
    () =>
      ctr(socket, ["version"]).then(
        () => true,
        () => false,
      ),
    [process],
    READY_TIMEOUT_MS,
  );
  return { process, endpoint: `unix://${socket}`, socket, cniNetwork };
}

/** Imports an OCI archive into the CRI namespace (unpacked, ready to run). */
export async function importImage(containerd: Containerd, archive: string): Promise<void> {
  await ctr(containerd.socket, ["images", "import", archive]);
}

/**
 * Stops every task and removes every container through containerd itself,
 * so shims exit and remove their sockets; CRI sandboxes' network namespaces
 * stay mounted under the state directory and go with the node's mounts.
 */
export async function removeAllContainers(containerd: Containerd): Promise<string[]> {
  const ids = (await ctr(containerd.socket, ["containers", "list", "--quiet"]))
    .split("\n")
    .filter((id) => id !== "");
  for (const id of ids) {
    await ctr(containerd.socket, ["tasks", "kill", "--signal", "SIGKILL", id]).catch(() => undefined);
  }
  for (const id of ids) {
    await ctr(containerd.socket, ["tasks", "delete", "--force", id]).catch(() => undefined);
    await ctr(containerd.socket, ["containers", "delete", id]).catch(() => undefined);
  }
  return ids;
}

/**
 * Removes what a killed containerd leaves outside its directories: shim
 * sockets (/run/containerd/s/<sha256 of address/namespace/id>, containerd
 * 1.6's runtime/v2/shim), libcni's cached results of the node's network and
 * of CRI's loopback network, and the shared directories once empty (another
 * cluster's containerd recreates them as it needs them).
 */
export async function removeHostLeftovers(
  containerd: Pick<Containerd, "socket" | "cniNetwork">,
  containerIds: readonly string[],
): Promise<void> {
  for (const id of containerIds) {
    const digest = createHash("sha256")
      .update(join(containerd.socket, CRI_NAMESPACE, id))
      .digest("hex");
    await rm(join(SHIM_SOCKET_DIR, digest), { force: true });
    for (const cached of [`${containerd.cniNetwork}-${id}-eth0`, `cni-loopback-${id}-lo`]) {
      await rm(join(CNI_RESULTS_DIR, cached), { force: true });
    }
  }
  for (const dir of [SHIM_SOCKET_DIR, dirname(SHIM_SOCKET_DIR), CNI_RESULTS_DIR, dirname(CNI_RESULTS_DIR)]) {
    await rmdir(dir).catch(() => undefined); // not empty, or gone: either is fine
  }
}

function ctr(socket: string, args: readonly string[]): Promise<string> {
  return runCommand("ctr", ["--address", socket, "--namespace", CRI_NAMESPACE, ...args]).catch(
    (err: unknown) => {
      throw new CommandError(`ctr ${args.join(" ")}: ${err instanceof Error ? err.message : err}`, {
        cause: err,
      });
    },
  );
}

function containerdConfig(root: string, socket: string, cniConfDir: string, opts: ContainerdOptions): string {
  const q = JSON.stringify; // TOML basic strings accept JSON string syntax
  const cri = '[plugins."io.containerd.grpc.v1.cri"';
  return `version = 2
root = ${q(join(root, "root"))}
state = ${q(join(root, "state"))}
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = ${q(socket)}
[ttrpc]
  address = ${q(join(root, "containerd-ttrpc.sock"))}
[cgroup]
  path = ${q(opts.cgroup)}

[plugins."io.containerd.internal.v1.opt"]
  path = ${q(join(root, "opt"))}
[plugins."io.containerd.runtime.v1.linux"]
  runtime_root = ${q(join(root, "runc-v1"))}
${cri}]
  sandbox_image = ${q(opts.sandboxImage)}
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  ${cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    ${cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      ${cri}.containerd.runtimes.runc.options]
        Root = ${q(join(root, "runc"))}
        SystemdCgroup = false
  ${cri}.cni]
    bin_dir = ${q(CNI_BIN_DIR)}
    conf_dir = ${q(cniConfDir)}
    max_conf_num = 1
`;
}

/**
 * A bridge (cni0, inside the node's namespace) with host-local IPAM over the
 * node's pod subnet; the IPAM store is the node's, not /var/lib/cni. portmap
 * gives hostPort. Hairpin mode lets a pod reach itself through a Service.
 */
function cniConfig(name: string, network: NodeNetwork, root: string): string {
  return `${JSON.stringify(
    {
      cniVersion: "1.0.0",
      name,
      plugins: [
        {
          type: "bridge",
          bridge: "cni0",
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: "host-local",
            ranges: [[{ subnet: network.podSubnet }]],
            routes: [{ dst: "0.0.0.0/0" }],
            dataDir: join(root, "ipam"),
          },
        },
        { type: "portmap", capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  )}\n`;
}
