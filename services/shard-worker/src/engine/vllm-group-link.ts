/**
 * The group link: one TCP connection from a vLLM group's head worker to each
 * other stage's worker (on the stage's tunnel port, STRATA_STAGE_ADDRESSES),
 * held open for the group's life. vLLM itself notices a lost rank only when a
 * step times out, and a headless rank never notices that its leader is gone;
 * the link makes both immediate: when either worker ends (its engine exited,
 * its process died) the kernel closes the connection and the other side fails
 * the group at once. A ping every few seconds catches a peer that went silent
 * without closing (a partitioned node).
 *
 * Protocol, one line each:
 *   stage → head  `STRATA-GROUP-LINK 1 <stage> <nonce>`
 *   head → stage  `JOIN <deployment> <replica> <proof>`; proof = HMAC-SHA256
 *                 (tunnel token, "nonce:deployment:replica:stage") in hex, or
 *                 `-` without a token (the token never crosses the wire)
 *   stage → head  `OK` (or `NO <reason>` and close)
 *   head → stage  `READY` once the group answered its canary
 *   both          `PING` every PING_INTERVAL_MS
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { AddressInfo } from "node:net";
import { connect, createServer, type Server, type Socket } from "node:net";
import { createInterface, type Interface } from "node:readline";

const PROTOCOL = "STRATA-GROUP-LINK";
const VERSION = "1";
const PING_INTERVAL_MS = 3_000;
/** A link that carried nothing for this long is lost (10 missed pings). */
const SILENCE_LIMIT_MS = 30_000;
const DIAL_RETRY_MS = 500;
const HANDSHAKE_TIMEOUT_MS = 10_000;
const KEEPALIVE_MS = 10_000;

export interface GroupIdentity {
  readonly deployment: string;
  readonly replica: number;
}

/** The peer refused the handshake (another group, a wrong token): a configuration error. */
export class GroupLinkRefusedError extends Error {
  override readonly name = "GroupLinkRefusedError";
}

function proof(token: string | undefined, nonce: string, id: GroupIdentity, stage: number): string {
  if (token === undefined) return "-";
  return createHmac("sha256", token).update(`${nonce}:${id.deployment}:${id.replica}:${stage}`).digest("hex");
}

function sameProof(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A socket and the one line reader on it; the handler changes from handshake to link. */
interface LineSocket {
  readonly socket: Socket;
  readonly lines: Interface;
  handler: (line: string) => void;
}

function lineSocket(socket: Socket): LineSocket {
  const lines = createInterface({ input: socket });
  // readline re-emits the socket's errors; the socket's own handlers deal with them.
  lines.on("error", () => {});
  const ls: LineSocket = { socket, lines, handler: () => {} };
  lines.on("line", (line) => ls.handler(line));
  return ls;
}

/**
 * Pings on the link and calls `lost` once: when it closes, errs, or stays
 * silent past SILENCE_LIMIT_MS. Returns a function that stops watching
 * (without calling `lost`).
 */
function watchLink(
  link: LineSocket,
  onLine: (line: string) => void,
  lost: (reason: string) => void,
): () => void {
  const { socket } = link;
  let lastHeard = Date.now();
  let done = false;
  const finish = (reason: string) => {
    if (done) return;
    done = true;
    clearInterval(timer);
    lost(reason);
  };
  const timer = setInterval(() => {
    if (Date.now() - lastHeard > SILENCE_LIMIT_MS) {
      finish(`silent for ${Math.round(SILENCE_LIMIT_MS / 1000)} s`);
      socket.destroy();
      return;
    }
    socket.write("PING\n");
  }, PING_INTERVAL_MS);
  timer.unref();
  link.handler = (line) => {
    lastHeard = Date.now();
    if (line !== "PING") onLine(line);
  };
  socket.once("close", () => finish("connection closed"));
  socket.on("error", () => {
    // 'close' follows and reports it.
  });
  return () => {
    done = true;
    clearInterval(timer);
  };
}

export interface GroupLinkServerOptions {
  readonly host: string;
  readonly port: number;
  readonly stage: number;
  readonly identity: GroupIdentity;
  readonly token?: string;
  readonly log: (line: string) => void;
}

/**
 * A stage's end: accepts one head at a time. `lost` fires once, when an
 * established link ends; a failed handshake (a stray connection) never counts.
 */
export class GroupLinkServer {
  #server: Server | undefined;
  #socket: Socket | undefined;
  #leaderReady = false;
  #lost: ((reason: string) => void) | undefined;
  #closing = false;

  constructor(private readonly options: GroupLinkServerOptions) {}

  get connected(): boolean {
    return this.#socket !== undefined;
  }

  /** The head said its group answered the canary. */
  get leaderReady(): boolean {
    return this.#leaderReady;
  }

  onLost(listener: (reason: string) => void): void {
    this.#lost = listener;
  }

  /** Listens; resolves with the port. */
  async start(): Promise<number> {
    const server = createServer((socket) => this.#accept(socket));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.options.port, this.options.host, () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.#closing = true;
    this.#socket?.destroy();
    const server = this.#server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #accept(socket: Socket): void {
    const { stage, identity, token, log } = this.options;
    if (this.#socket !== undefined || this.#closing) {
      socket.end("NO busy: this stage is linked to its head already\n");
      return;
    }
    const nonce = randomBytes(16).toString("hex");
    socket.setKeepAlive(true, KEEPALIVE_MS);
    socket.setTimeout(HANDSHAKE_TIMEOUT_MS, () => socket.destroy());
    socket.write(`${PROTOCOL} ${VERSION} ${stage} ${nonce}\n`);
    const link = lineSocket(socket);
    socket.on("error", () => {});
    link.handler = (line) => {
      link.handler = () => {};
      const [verb, deployment, replica, got] = line.split(" ");
      const expected = proof(token, nonce, identity, stage);
      const refuse = (why: string) => {
        log(`[group-link] refused a head: ${why}`);
        socket.end(`NO ${why}\n`);
      };
      if (verb !== "JOIN" || deployment === undefined || replica === undefined || got === undefined) {
        refuse("not a JOIN line");
        return;
      }
      if (deployment !== identity.deployment || replica !== String(identity.replica)) {
        refuse(`this is ${identity.deployment}/${identity.replica}, not ${deployment}/${replica}`);
        return;
      }
      if (!sameProof(got, expected)) {
        refuse("wrong token proof");
        return;
      }
      if (this.#socket !== undefined) {
        refuse("busy: this stage is linked to its head already");
        return;
      }
      socket.setTimeout(0);
      socket.write("OK\n");
      this.#socket = socket;
      log(`[group-link] stage ${stage} linked to its head (${socket.remoteAddress}:${socket.remotePort})`);
      watchLink(
        link,
        (message) => {
          if (message === "READY") this.#leaderReady = true;
        },
        (reason) => {
          this.#socket = undefined;
          this.#leaderReady = false;
          if (!this.#closing) this.#lost?.(`the link to the head ended: ${reason}`);
        },
      );
    };
  }
}

export interface GroupLinksOptions {
  /** Every stage but the head, with the address its link listens on. */
  readonly stages: readonly { readonly stage: number; readonly address: string }[];
  readonly identity: GroupIdentity;
  readonly token?: string;
  readonly log: (line: string) => void;
}

interface Link {
  readonly stage: number;
  readonly address: string;
  socket?: Socket;
  stopWatching?: () => void;
}

/**
 * The head's end: dials every stage (retrying until it answers), and reports
 * the first established link that ends. A refused handshake is reported as
 * failed too: it means the group is misconfigured and will never form.
 */
export class GroupLinks {
  readonly #links: Link[];
  #lost: ((reason: string) => void) | undefined;
  #closing = false;
  #ready = false;
  #reported = false;

  constructor(private readonly options: GroupLinksOptions) {
    this.#links = options.stages.map((s) => ({ stage: s.stage, address: s.address }));
  }

  onLost(listener: (reason: string) => void): void {
    this.#lost = listener;
  }

  /** Dials every stage in the background. */
  start(): void {
    for (const link of this.#links) void this.#dial(link);
  }

  allUp(): boolean {
    return this.#links.every((l) => l.socket !== undefined);
  }

  status(): { stage: number; linked: boolean }[] {
    return this.#links.map((l) => ({ stage: l.stage, linked: l.socket !== undefined }));
  }

  /** Resolves once every stage is linked (or rejects when one refuses). */
  async waitUntilUp(): Promise<void> {
    while (!this.allUp()) {
      if (this.#closing) throw new Error("group links closed");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Tells every stage the group answered its canary (and every stage linked later). */
  sendReady(): void {
    this.#ready = true;
    for (const link of this.#links) link.socket?.write("READY\n");
  }

  close(): void {
    this.#closing = true;
    for (const link of this.#links) {
      link.stopWatching?.();
      link.socket?.destroy();
    }
  }

  #report(reason: string): void {
    if (this.#reported || this.#closing) return;
    this.#reported = true;
    this.#lost?.(reason);
  }

  async #dial(link: Link): Promise<void> {
    const { identity, token, log } = this.options;
    const [host, port] = splitAddress(link.address);
    let attempts = 0;
    while (!this.#closing) {
      attempts++;
      try {
        const linked = await handshake(host, port, link.stage, identity, token);
        const { socket } = linked;
        if (this.#closing) {
          socket.destroy();
          return;
        }
        link.socket = socket;
        log(`[group-link] linked to stage ${link.stage} at ${link.address}`);
        if (this.#ready) socket.write("READY\n");
        link.stopWatching = watchLink(
          linked,
          () => {},
          (reason) => {
            link.socket = undefined;
            this.#report(`stage ${link.stage} (${link.address}) is gone: ${reason}`);
          },
        );
        return;
      } catch (err: unknown) {
        if (err instanceof GroupLinkRefusedError) {
          this.#report(`stage ${link.stage} (${link.address}) refused the group link: ${err.message}`);
          return;
        }
        if (attempts % 20 === 1) log(`[group-link] waiting for stage ${link.stage} at ${link.address}`);
        await new Promise((resolve) => setTimeout(resolve, DIAL_RETRY_MS));
      }
    }
  }
}

function splitAddress(address: string): [string, number] {
  const at = address.lastIndexOf(":");
  return [address.slice(0, at), Number(address.slice(at + 1))];
}

/**
 * Connects and completes the handshake; resolves with the live socket.
 * @throws GroupLinkRefusedError when the stage answers NO; other errors mean "not there yet"
 */
function handshake(
  host: string,
  port: number,
  stage: number,
  identity: GroupIdentity,
  token: string | undefined,
): Promise<LineSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.setKeepAlive(true, KEEPALIVE_MS);
    socket.setTimeout(HANDSHAKE_TIMEOUT_MS, () => socket.destroy(new Error("handshake timed out")));
    const link = lineSocket(socket);
    let step = 0;
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      link.lines.close();
      socket.destroy();
      reject(err);
    };
    const onError = (err: Error) => fail(err);
    const onClose = () => fail(new Error("closed during the handshake"));
    socket.once("error", onError);
    socket.once("close", onClose);
    link.handler = (line) => {
      if (step === 0) {
        const [protocol, version, theirStage, nonce] = line.split(" ");
        if (protocol !== PROTOCOL || version !== VERSION || nonce === undefined) {
          fail(new GroupLinkRefusedError(`not a Strata group link (${JSON.stringify(line.slice(0, 40))})`));
          return;
        }
        if (theirStage !== String(stage)) {
          fail(new GroupLinkRefusedError(`it is stage ${theirStage}, not stage ${stage}`));
          return;
        }
        socket.write(
          `JOIN ${identity.deployment} ${identity.replica} ${proof(token, nonce, identity, stage)}\n`,
        );
        step = 1;
        return;
      }
      if (line === "OK") {
        settled = true;
        link.handler = () => {};
        socket.off("error", onError);
        socket.off("close", onClose);
        socket.setTimeout(0);
        resolve(link);
        return;
      }
      fail(new GroupLinkRefusedError(line.replace(/^NO /, "")));
    };
  });
}
