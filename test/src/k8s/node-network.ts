import { closeSync, existsSync, openSync, writeSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { runCommand } from "../host/commands.js";

/**
 * The network of one test cluster with real nodes. Each node has a network
 * namespace of its own (its containerd, kubelet, kube-proxy, CNI bridge and
 * iptables live in it), joined to a host bridge by a veth pair, so traffic
 * between pods on two nodes really crosses from one node's network to the
 * other's:
 *
 *   host:   bridge stbr<slot> 10.250.<slot>.1/24  (API server, CoreDNS)
 *   node i: eth0 10.250.<slot>.<10+i>, pods on its own bridge cni0 in 10.<128+slot>.<i>.0/24
 *
 * Each node routes the other nodes' pod subnets to them; the host routes all
 * of them, so the test process reaches pods too. Nothing is forwarded by the
 * host and no host sysctl changes. A slot (0..63) is claimed with a lock file,
 * so concurrent test clusters on one machine never share addresses; a slot
 * whose owner died is cleaned and reused.
 */
export interface ClusterNetwork {
  readonly slot: number;
  /** Host address on the bridge: the API server and CoreDNS listen here, pods reach it. */
  readonly hostIp: string;
  /** Every pod address of the cluster (kube-proxy's clusterCIDR). */
  readonly podCidr: string;
  readonly nodes: readonly NodeNetwork[];
  /** Deletes the namespaces, the bridge and its routes, and releases the slot. */
  teardown(): Promise<void>;
}

export interface NodeNetwork {
  readonly index: number;
  /** `ip netns` name; its path is /run/netns/<name>. */
  readonly netns: string;
  readonly netnsPath: string;
  /** The node's InternalIP. */
  readonly ip: string;
  /** The node's pod subnet, handed out by the CNI bridge plugin's host-local IPAM. */
  readonly podSubnet: string;
}

/** Thrown when no slot is free or an `ip` command fails. */
export class NodeNetworkError extends Error {
  override readonly name = "NodeNetworkError";
}

const SLOTS = 64;
const SLOT_DIR = "/run/strata-k8s";
const HOST_OCTET = 1;
const FIRST_NODE_OCTET = 10;

/** Who claims a slot: its directory is recorded, so a later run can clean up after a crash. */
export interface SlotOwner {
  readonly dir: string;
  /** Called for a slot whose owner died, before its network is removed and the slot reused. */
  cleanStale(slot: number, staleDir: string | undefined): Promise<void>;
}

interface SlotLock {
  readonly pid: number;
  readonly dir: string;
}

/** Claims a free slot and builds the host bridge and one network namespace per node. */
export async function createClusterNetwork(nodeCount: number, owner: SlotOwner): Promise<ClusterNetwork> {
  const slot = await claimSlot(owner);
  const net = layout(slot, nodeCount);
  try {
    await build(net);
  } catch (err: unknown) {
    await net.teardown();
    throw err;
  }
  return net;
}

function layout(slot: number, nodeCount: number): ClusterNetwork {
  const nodes = Array.from(
    { length: nodeCount },
    (_, i): NodeNetwork => ({
      index: i,
      netns: netnsName(slot, i),
      netnsPath: `/run/netns/${netnsName(slot, i)}`,
      ip: `10.250.${slot}.${FIRST_NODE_OCTET + i}`,
      podSubnet: `10.${128 + slot}.${i}.0/24`,
    }),
  );
  return {
    slot,
    hostIp: `10.250.${slot}.${HOST_OCTET}`,
    podCidr: `10.${128 + slot}.0.0/16`,
    nodes,
    teardown: () => releaseSlot(slot),
  };
}

const bridgeName = (slot: number): string => `stbr${slot}`;
const hostVethName = (slot: number, i: number): string => `stv${slot}n${i}`;
const netnsName = (slot: number, i: number): string => `strata-s${slot}-n${i}`;
const slotLock = (slot: number): string => join(SLOT_DIR, `slot-${slot}.pid`);

async function build(net: ClusterNetwork): Promise<void> {
  const bridge = bridgeName(net.slot);
  await ip(["link", "add", bridge, "type", "bridge"]);
  await ip(["addr", "add", `${net.hostIp}/24`, "dev", bridge]);
  await ip(["link", "set", bridge, "up"]);
  for (const node of net.nodes) {
    const veth = hostVethName(net.slot, node.index);
    await ip(["netns", "add", node.netns]);
    await ip(["link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", node.netns]);
    await ip(["link", "set", veth, "master", bridge, "up"]);
    const inNode = (args: string[]): Promise<void> => ip(["-n", node.netns, ...args]);
    await inNode(["link", "set", "lo", "up"]);
    await inNode(["addr", "add", `${node.ip}/24`, "dev", "eth0"]);
    await inNode(["link", "set", "eth0", "up"]);
    await inNode(["route", "add", "default", "via", net.hostIp]);
    for (const other of net.nodes) {
      if (other.index !== node.index) await inNode(["route", "add", other.podSubnet, "via", other.ip]);
    }
    // The node routes between its pods and the rest; both sysctls are per network namespace.
    await runCommand("nsenter", [
      `--net=${node.netnsPath}`,
      "sysctl",
      "-q",
      "-w",
      "net.ipv4.ip_forward=1",
      "net.bridge.bridge-nf-call-iptables=1",
    ]);
    await ip(["route", "add", node.podSubnet, "via", node.ip]);
  }
}

async function ip(args: readonly string[]): Promise<void> {
  try {
    await runCommand("ip", args);
  } catch (err: unknown) {
    throw new NodeNetworkError(`ip ${args.join(" ")}: ${err instanceof Error ? err.message : err}`, {
      cause: err,
    });
  }
}

/** The first slot whose lock file we create, after cleaning slots whose owner is gone. */
async function claimSlot(owner: SlotOwner): Promise<number> {
  await mkdir(SLOT_DIR, { recursive: true });
  for (let slot = 0; slot < SLOTS; slot++) {
    if (existsSync(slotLock(slot))) {
      const lock = await readLock(slot);
      if (lock !== undefined && processAlive(lock.pid)) continue;
      await owner.cleanStale(slot, lock?.dir); // a crashed run's leftovers
      await releaseSlot(slot);
    }
    if (await slotInUseOnHost(slot)) continue; // someone else's addresses: never touch them
    try {
      const fd = openSync(slotLock(slot), "wx");
      writeSync(fd, JSON.stringify({ pid: process.pid, dir: owner.dir } satisfies SlotLock));
      closeSync(fd);
      return slot;
    } catch {
      // Another run claimed it between our check and create.
    }
  }
  throw new NodeNetworkError(`no free network slot: all ${SLOTS} are in use (see ${SLOT_DIR})`);
}

async function readLock(slot: number): Promise<SlotLock | undefined> {
  try {
    const lock = JSON.parse(await readFile(slotLock(slot), "utf8")) as Partial<SlotLock>;
    return typeof lock.pid === "number" && typeof lock.dir === "string"
      ? { pid: lock.pid, dir: lock.dir }
      : undefined;
  } catch {
    return undefined;
  }
}

/** True when the slot's addresses or names are already on the host, without our lock. */
async function slotInUseOnHost(slot: number): Promise<boolean> {
  const links = await runCommand("ip", ["-o", "link", "show"]);
  const routes = await runCommand("ip", ["-4", "route", "show"]);
  const addrs = await runCommand("ip", ["-o", "-4", "addr", "show"]);
  return (
    links.includes(` ${bridgeName(slot)}:`) ||
    routes.includes(`10.${128 + slot}.`) ||
    addrs.includes(`10.250.${slot}.`) ||
    existsSync(`/run/netns/${netnsName(slot, 0)}`)
  );
}

/**
 * Deletes the slot's namespaces (their veths and the routes through them go
 * with them), the bridge, and the lock. Each step tolerates "already gone".
 */
async function releaseSlot(slot: number): Promise<void> {
  const netnsList = await runCommand("ip", ["netns", "list"]).catch(() => "");
  for (const line of netnsList.split("\n")) {
    const name = line.split(" ")[0] ?? "";
    if (name.startsWith(`strata-s${slot}-n`))
      await runCommand("ip", ["netns", "delete", name]).catch(() => {});
  }
  await runCommand("ip", ["link", "delete", bridgeName(slot)]).catch(() => {});
  await rm(slotLock(slot), { force: true });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
