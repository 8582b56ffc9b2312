/**
 * The Socket.IO Admin UI (ADMIN_UI=1, README "Admin UI") with real socket.io-client sockets: off
 * by default (no `/admin` namespace); on, the namespace admits only the configured user with the
 * password whose bcrypt hash the node was given; and across two nodes on one redis-server and on
 * a Redis Cluster (the sharded adapter), an Admin UI connected to one node gets both nodes' stats,
 * lists a socket of the other node, and disconnects it; its login session is known to the node
 * that opened it only.
 */
import { hashSync } from "bcryptjs";
import { io, type Socket } from "socket.io-client";
import { closeClients, connect } from "../helpers/clients";
import { clusterFixture } from "../helpers/cluster";
import { waitFor } from "../helpers/ports";
import { signToken } from "../helpers/tokens";

const USERNAME = "ops";
const PASSWORD = "correct horse battery staple";
// Cost 4, the lowest bcrypt takes: the tests stay fast, and the node reads any cost.
const PASSWORD_HASH = hashSync(PASSWORD, 4);

const admins: Socket[] = [];

function adminSocket(url: string, auth: Record<string, string>): Socket {
  const socket = io(`${url}/admin`, { auth, transports: ["websocket"], reconnection: false, forceNew: true, timeout: 5000 });
  admins.push(socket);
  return socket;
}

/** Resolves "connected" once the namespace admits the socket, or the connect_error's message. */
function outcome(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    socket.once("connect", () => resolve("connected"));
    socket.once("connect_error", (err) => resolve(err.message));
  });
}

afterEach(() => {
  for (const socket of admins.splice(0)) socket.close();
  closeClients();
});

describe("Admin UI off (the default)", () => {
  const { url } = clusterFixture({ backing: "memory" });

  it("has no /admin namespace", async () => {
    expect(await outcome(adminSocket(url(), { username: USERNAME, password: PASSWORD }))).toBe("Invalid namespace");
    // The node itself still serves its clients.
    expect((await connect(url())).connected).toBe(true);
  });
});

describe.each(["redis", "redis-cluster"] as const)("Admin UI on, two nodes (%s)", (backing) => {
  const { url, nodes } = clusterFixture({
    backing,
    nodes: 2,
    env: { ADMIN_UI: "1", ADMIN_UI_USERNAME: USERNAME, ADMIN_UI_PASSWORD_HASH: PASSWORD_HASH },
  });

  it("refuses the namespace without the credentials", async () => {
    const attempts: [string, Record<string, string>][] = [
      ["none", {}],
      ["wrong password", { username: USERNAME, password: `${PASSWORD}!` }],
      ["wrong user", { username: "admin", password: PASSWORD }],
      ["the hash as password", { username: USERNAME, password: PASSWORD_HASH }],
      ["a user's token", { token: await signToken({ sub: "alice", roles: ["admin"] }) }],
    ];
    for (const [what, auth] of attempts) expect([what, await outcome(adminSocket(url(0), auth))]).toEqual([what, "invalid credentials"]);
  });

  it("admits the configured user, sees both nodes and acts on a socket of the other node", async () => {
    const user = await connect(url(1), { tokenOptions: { sub: "carol" }, bearer: true });
    const admin = adminSocket(url(0), { username: USERNAME, password: PASSWORD });
    const stats = new Set<string>();
    admin.on("server_stats", (s: { serverId: string }) => stats.add(s.serverId));
    const listed = new Promise<{ id: string; nsp: string; data: { userId?: string } }[]>((resolve) => admin.once("all_sockets", resolve));
    const session = new Promise<string>((resolve) => admin.once("session", resolve));
    expect(await outcome(admin)).toBe("connected");

    // Every node's stats reach the admin socket through the adapter.
    await waitFor(() => nodes.every((n) => stats.has(n.nodeId)), 10000, "stats of both nodes");
    // The socket list (development mode) comes from every node (fetchSockets).
    const carol = (await listed).find((s) => s.id === user.id);
    expect(carol).toMatchObject({ nsp: "/", data: { userId: "carol" } });
    // The listing shows the handshake's headers, but not the token it came with.
    expect(carol).toHaveProperty("handshake.headers");
    // a JWT (its header is base64url of `{"`, so it starts with eyJ, and a dot follows) or a Bearer
    // header; matched with case, since random base64 (the WebSocket key) may hold "EYj"
    const listing = JSON.stringify(carol);
    expect(listing).not.toMatch(/eyJ[A-Za-z0-9_-]+\./);
    expect(listing).not.toMatch(/bearer/i);

    // Disconnecting it from node 0 reaches node 1.
    const gone = new Promise<string>((resolve) => user.once("disconnect", resolve));
    admin.emit("_disconnect", "/", true, user.id);
    expect(await gone).toBe("io server disconnect");

    // The UI reconnects with the session id it was given: the node that gave it knows it; each
    // node keeps its own, so on another node the UI asks for the credentials again.
    const sessionId = await session;
    expect(await outcome(adminSocket(url(0), { sessionId }))).toBe("connected");
    expect(await outcome(adminSocket(url(1), { sessionId }))).toBe("invalid credentials");
  });
});
