import type { SwitchboardNode } from "@switchboard/server";
import { SignJWT } from "jose";
import { closeClients, connect, connectRefused } from "../helpers/clients";
import { clusterFixture } from "../helpers/cluster";
import { metricValue, scrape } from "../helpers/metrics";
import { startNode } from "../helpers/nodes";
import { signToken, startJwksServer, TEST_SECRET, unsignedToken, type JwksServer } from "../helpers/tokens";
import { untypedIo } from "../helpers/untyped-io";

describe.each(["memory", "redis"] as const)("handshake auth (%s engine)", (name) => {
  const { node } = clusterFixture({ backing: name, env: { JWT_ISSUER: "https://id.test", JWT_AUDIENCE: "switchboard" } });
  afterEach(() => closeClients());

  const valid = { issuer: "https://id.test", audience: "switchboard" };

  it("accepts a valid token and sends the session", async () => {
    const before = Date.now();
    const client = await connect(node().url, { tokenOptions: { ...valid, sub: "alice", name: "Alice" }, deviceId: "web-1" });
    expect(client.session).toMatchObject({ userId: "alice", deviceId: "web-1", nodeId: node().nodeId });
    expect(client.session!.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(client.session!.serverTime).toBeGreaterThanOrEqual(before - 1000);
  });

  it("gives a device id when the client sends none", async () => {
    const client = await connect(node().url, { tokenOptions: valid });
    expect(client.session!.deviceId).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
  });

  it("accepts the token from an Authorization: Bearer header", async () => {
    const client = await connect(node().url, { tokenOptions: { ...valid, sub: "bob" }, bearer: true });
    expect(client.session!.userId).toBe("bob");
  });

  it("joins the socket to its user's private room", async () => {
    const client = await connect(node().url, { tokenOptions: { ...valid, sub: "carol" } });
    const got = new Promise((resolve) => client.once("ping:user", resolve));
    untypedIo(node()).to("user:carol").emit("ping:user", { hello: 1 });
    await expect(got).resolves.toEqual({ hello: 1 });
  });

  it.each([
    ["no token", { noToken: true }, "UNAUTHORIZED"],
    ["an expired token", { tokenOptions: { ...valid, expiresIn: -10 } }, "TOKEN_EXPIRED"],
    ["a token signed with another secret", { tokenOptions: { ...valid, secret: "another-secret-another-secret-0123" } }, "UNAUTHORIZED"],
    ["a token for another audience", { tokenOptions: { ...valid, audience: "other-app" } }, "UNAUTHORIZED"],
    ["a token from another issuer", { tokenOptions: { ...valid, issuer: "https://evil.test" } }, "UNAUTHORIZED"],
    ["a token without sub", { tokenOptions: { ...valid, sub: "" } }, "UNAUTHORIZED"],
    ["a token whose sub is not a valid user id", { tokenOptions: { ...valid, sub: "a b|c" } }, "UNAUTHORIZED"],
    ["a token whose tenant is not a valid id", { tokenOptions: { ...valid, tenant: "a/b" } }, "UNAUTHORIZED"],
    ["garbage", { token: "not.a.jwt" }, "UNAUTHORIZED"],
    ["an invalid device id", { tokenOptions: valid, deviceId: "bad device!" }, "VALIDATION_FAILED"],
  ] as const)("refuses %s", async (_what, options, code) => {
    const refusal = await connectRefused(node().url, options);
    expect(refusal.message).toBe(code);
    expect(refusal.data?.code).toBe(code);
    expect(typeof refusal.data?.message).toBe("string");
  });

  it("refuses alg: none", async () => {
    const refusal = await connectRefused(node().url, { token: unsignedToken() });
    expect(refusal.data).toMatchObject({ code: "UNAUTHORIZED", message: expect.stringMatching(/not accepted/) });
  });

  it("refuses a token without exp", async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("u1")
      .setIssuer(valid.issuer)
      .setAudience(valid.audience)
      .sign(new TextEncoder().encode(TEST_SECRET));
    expect((await connectRefused(node().url, { token })).message).toBe("UNAUTHORIZED");
  });

  it("counts refusals by code in /metrics", async () => {
    await connectRefused(node().url, { tokenOptions: { ...valid, expiresIn: -10 } });
    const before = metricValue(await scrape(node().url), "switchboard_rejected_handshakes_total", { code: "TOKEN_EXPIRED" });
    await connectRefused(node().url, { tokenOptions: { ...valid, expiresIn: -10 } });
    expect(metricValue(await scrape(node().url), "switchboard_rejected_handshakes_total", { code: "TOKEN_EXPIRED" })).toBe(before + 1);
  });
});

describe("tenants", () => {
  const { node } = clusterFixture({ backing: "memory", env: { MAX_DEVICES_PER_USER: "1" } });
  afterEach(() => closeClients());

  it("keeps the same user id in two tenants apart", async () => {
    const a = await connect(node().url, { tokenOptions: { sub: "u1", tenant: "acme" }, deviceId: "d1" });
    // The device limit is per tenant: another tenant's u1 is another user.
    const b = await connect(node().url, { tokenOptions: { sub: "u1", tenant: "globex" }, deviceId: "d2" });
    expect(a.session!.tenant).toBe("acme");
    expect(b.session!.tenant).toBe("globex");
    const toA = new Promise((resolve) => a.once("hello", resolve));
    let bGotIt = false;
    b.once("hello", () => (bGotIt = true));
    untypedIo(node()).to("acme/user:u1").emit("hello", 1);
    await toA;
    await new Promise((r) => setTimeout(r, 100));
    expect(bGotIt).toBe(false);
    // Within one tenant the limit holds.
    expect((await connectRefused(node().url, { tokenOptions: { sub: "u1", tenant: "acme" }, deviceId: "d3" })).message).toBe("DEVICE_LIMIT");
  });
});

describe("JWKS (RS256 / ES256)", () => {
  let jwks: JwksServer;
  let node: SwitchboardNode;
  beforeAll(async () => {
    jwks = await startJwksServer();
    node = await startNode({ JWT_SECRET: undefined, JWT_JWKS_URL: jwks.url });
  });
  afterEach(() => closeClients());
  afterAll(async () => {
    await node.shutdown();
    await jwks.close();
  });

  it.each(["RS256", "ES256"] as const)("accepts %s tokens from the key set", async (alg) => {
    const client = await connect(node.url, { token: await jwks.sign(alg, {}, `user-${alg}`) });
    expect(client.session!.userId).toBe(`user-${alg}`);
  });

  it("refuses HS256 when only a key set is configured (algorithm confusion)", async () => {
    // Sign with the RSA public key's modulus as an HMAC secret: the classic confusion attack.
    const secret = jwks.publicJwk("RS256").n!;
    const token = await signToken({ secret });
    expect((await connectRefused(node.url, { token })).data).toEqual({ code: "UNAUTHORIZED", message: "tokens signed with HS256 are not accepted" });
    expect((await connectRefused(node.url, { token: "not.a.jwt" })).data).toEqual({ code: "UNAUTHORIZED", message: "the token is malformed" });
  });

  it("refuses a token signed by a key outside the set", async () => {
    const other = await startJwksServer();
    try {
      expect((await connectRefused(node.url, { token: await other.sign("RS256") })).message).toBe("UNAUTHORIZED");
    } finally {
      await other.close();
    }
  });
});

describe("HS256 only", () => {
  let node: SwitchboardNode;
  let jwks: JwksServer;
  beforeAll(async () => {
    node = await startNode();
    jwks = await startJwksServer();
  });
  afterAll(async () => {
    closeClients();
    await node.shutdown();
    await jwks.close();
  });

  it("refuses RS256 tokens when no key set is configured", async () => {
    const refusal = await connectRefused(node.url, { token: await jwks.sign("RS256") });
    expect(refusal.data).toEqual({ code: "UNAUTHORIZED", message: "tokens signed with RS256 are not accepted" });
  });

  it("says why a token is refused: malformed, another algorithm, a bad signature, expired", async () => {
    const refused = async (token: string) => (await connectRefused(node.url, { token })).data;
    expect(await refused("not.a.jwt")).toEqual({ code: "UNAUTHORIZED", message: "the token is malformed" });
    expect(await refused(unsignedToken())).toEqual({ code: "UNAUTHORIZED", message: "tokens signed with none are not accepted" });
    const hs512 = await new SignJWT({}).setProtectedHeader({ alg: "HS512" }).setSubject("u1").setExpirationTime("1h").sign(new TextEncoder().encode(TEST_SECRET));
    expect(await refused(hs512)).toEqual({ code: "UNAUTHORIZED", message: "tokens signed with HS512 are not accepted" });
    expect(await refused(await signToken({ secret: "another-secret-another-secret-0123" }))).toEqual({ code: "UNAUTHORIZED", message: "the token is not valid" });
    expect(await refused(await signToken({ expiresIn: -10 }))).toEqual({ code: "TOKEN_EXPIRED", message: "the token has expired" });
    // And the right token is still welcome.
    expect((await connect(node.url, { token: await signToken({ sub: "u2" }) })).session!.userId).toBe("u2");
  });
});
