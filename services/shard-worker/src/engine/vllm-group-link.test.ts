import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { GroupLinkServer, GroupLinks } from "./vllm-group-link.js";

const identity = { deployment: "local", replica: 0 };
const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

function waitFor(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (check()) resolve();
      else if (Date.now() > deadline) reject(new Error(`no ${what}`));
      else setTimeout(poll, 20);
    };
    poll();
  });
}

async function stage(token?: string, stageNumber = 1) {
  const server = new GroupLinkServer({
    host: "127.0.0.1",
    port: 0,
    stage: stageNumber,
    identity,
    ...(token ? { token } : {}),
    log: () => {},
  });
  const lost: string[] = [];
  server.onLost((reason) => lost.push(reason));
  const port = await server.start();
  closers.push(() => server.close());
  return { server, port, lost };
}

function head(port: number, token?: string, stageNumber = 1, id = identity) {
  const links = new GroupLinks({
    stages: [{ stage: stageNumber, address: `127.0.0.1:${port}` }],
    identity: id,
    ...(token ? { token } : {}),
    log: () => {},
  });
  const lost: string[] = [];
  links.onLost((reason) => lost.push(reason));
  closers.push(() => links.close());
  links.start();
  return { links, lost };
}

describe("the vLLM group link", () => {
  it("links a head to a stage and carries READY", async () => {
    const s = await stage("secret");
    const h = head(s.port, "secret");
    await h.links.waitUntilUp();
    await waitFor(() => s.server.connected, "link on the stage");
    expect(s.server.leaderReady).toBe(false);
    h.links.sendReady();
    await waitFor(() => s.server.leaderReady, "READY on the stage");
    expect(h.links.status()).toEqual([{ stage: 1, linked: true }]);
  });

  it("tells the stage at once when the head goes away, and the head when the stage does", async () => {
    const s = await stage("secret");
    const h = head(s.port, "secret");
    await h.links.waitUntilUp();
    await waitFor(() => s.server.connected, "link on the stage");
    const startedAt = Date.now();
    await s.server.close(); // the stage's worker ends: its side of the link closes
    await waitFor(() => h.lost.length === 1, "the head noticing");
    expect(Date.now() - startedAt).toBeLessThan(2_000);
    expect(h.lost[0]).toMatch(/^stage 1 \(127\.0\.0\.1:\d+\) is gone: connection closed$/);

    const s2 = await stage();
    const h2 = head(s2.port);
    await h2.links.waitUntilUp();
    await waitFor(() => s2.server.connected, "link on the stage");
    h2.links.close(); // the head's worker ends
    await waitFor(() => s2.lost.length === 1, "the stage noticing");
    expect(s2.lost[0]).toBe("the link to the head ended: connection closed");
  });

  it("waits for a stage that is not listening yet", async () => {
    const s = await stage();
    const port = s.port;
    await s.server.close();
    const h = head(port);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(h.links.allUp()).toBe(false);
    const late = new GroupLinkServer({ host: "127.0.0.1", port, stage: 1, identity, log: () => {} });
    await late.start();
    closers.push(() => late.close());
    await h.links.waitUntilUp();
    expect(h.lost).toEqual([]);
  });

  it.each([
    ["a wrong token", "other", 1, identity, /refused the group link: wrong token proof/],
    ["another group", "secret", 1, { deployment: "other", replica: 0 }, /this is local\/0, not other\/0/],
    ["the wrong stage", "secret", 2, identity, /it is stage 1, not stage 2/],
  ])(
    "refuses a head with %s, and the stage keeps waiting for its own",
    async (_name, token, st, id, message) => {
      const s = await stage("secret");
      const h = head(s.port, token, st, id);
      await waitFor(() => h.lost.length === 1, "the refusal");
      expect(h.lost[0]).toMatch(message);
      expect(s.server.connected).toBe(false);
      expect(s.lost).toEqual([]);
    },
  );

  it("ignores a stray connection that closes before a handshake", async () => {
    const s = await stage("secret");
    const socket = connect({ host: "127.0.0.1", port: s.port });
    await new Promise((resolve) => socket.once("data", resolve));
    socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(s.lost).toEqual([]);
    const h = head(s.port, "secret");
    await h.links.waitUntilUp();
  });
});
