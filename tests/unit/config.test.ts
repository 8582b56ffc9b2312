import { spawnSync } from "node:child_process";
import { ConfigError, loadConfig, type Config } from "@switchboard/server";
import { MAIN } from "../helpers/nodes";

const SECRET = "x".repeat(32);
/** bcryptjs.hashSync("correct horse battery staple", 4). */
const HASH = "$2a$04$O55SgZyei7niJ9ldOV7cCO3/gBrVrH60tJNNBCvGha/Y5tVJU4JS.";

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("configuration was accepted");
}

describe("configuration", () => {
  it("applies the protocol's defaults", () => {
    const config = loadConfig({ JWT_SECRET: SECRET });
    expect(config).toMatchObject({
      port: 3000,
      host: "0.0.0.0",
      maxConnections: 10000,
      maxDevicesPerUser: 5,
      roomMaxSize: 50,
      roomMaxSizeLimit: 10000,
      maxMessageBytes: 65536,
      historySize: 1000,
      historyTtlS: 604800,
      sessionTtlS: 3600,
      conflictStrategy: "lww",
      heartbeatIntervalMs: 25000,
      heartbeatTimeoutMs: 20000,
      logLevel: "info",
      rateLimit: { points: 100, durationS: 1 },
      redisKeyPrefix: "sb:",
      notify: { ackGraceMs: 10000, retryAttempts: 3, retryDelayMs: 1000, claimIdleMs: 30000 },
      corsOrigins: false,
    });
    expect(config.redisUrl).toBeUndefined();
    expect(config.nodeId).toMatch(/^[A-Za-z0-9_.:-]+$/);
  });

  it("parses lists and flags", () => {
    const config = loadConfig({
      JWT_SECRET: SECRET,
      REDIS_CLUSTER_NODES: "10.0.0.1:7000, 10.0.0.2:7001",
      CORS_ORIGINS: "https://a.example,http://localhost:5173",
      APNS_PRODUCTION: "true",
      CONFLICT_STRATEGY: "vector_clock",
    });
    expect(config.redisClusterNodes).toEqual([
      { host: "10.0.0.1", port: 7000 },
      { host: "10.0.0.2", port: 7001 },
    ]);
    expect(config.corsOrigins).toEqual(["https://a.example", "http://localhost:5173"]);
    expect(config.push.apns.production).toBe(true);
    expect(config.conflictStrategy).toBe("vector_clock");
    expect(loadConfig({ JWT_SECRET: SECRET, CORS_ORIGINS: "*" }).corsOrigins).toBe("*");
  });

  it.each([
    [{ PORT: "abc" }, "PORT", /must be a number/],
    [{ PORT: "70000" }, "PORT", /less than or equal to 65535/],
    [{ REDIS_URL: "http://x" }, "REDIS_URL", /uri/],
    [{ MAX_CONNECTIONS: "0" }, "MAX_CONNECTIONS", /greater than or equal to 1/],
    [{ CONFLICT_STRATEGY: "newest" }, "CONFLICT_STRATEGY", /must be one of/],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL", /must be one of/],
    [{ REDIS_CLUSTER_NODES: "a,b" }, "REDIS_CLUSTER_NODES", /host:port/],
    [{ CORS_ORIGINS: "*,https://a.example" }, "CORS_ORIGINS", /either \*/],
    [{ CORS_ORIGINS: "not a url" }, "CORS_ORIGINS", /invalid origin/],
    [{ JWT_SECRET: "short" }, "JWT_SECRET", /at least 32 bytes/],
    [{ APNS_KEY: "/k.p8" }, "APNS_KEY_ID", /required when/],
    [{ VAPID_PUBLIC_KEY: "abc" }, "VAPID_PRIVATE_KEY", /together/],
    [{ ROOM_MAX_SIZE: "20000" }, "ROOM_MAX_SIZE", /ROOM_MAX_SIZE_LIMIT/],
  ])("refuses %j naming the variable", (env, variable, reason) => {
    const error = configError({ JWT_SECRET: SECRET, ...env });
    expect(error.variable).toBe(variable);
    expect(error.message).toContain(variable);
    expect(error.message).toMatch(reason);
    expect(error.message).not.toContain("\n");
  });

  it("refuses to run in production without a JWT secret or JWKS URL", () => {
    expect(configError({ NODE_ENV: "production" }).variable).toBe("JWT_SECRET");
    expect(loadConfig({ NODE_ENV: "production", JWT_JWKS_URL: "https://id.example/jwks.json" }).jwt.jwksUrl).toBeDefined();
  });

  it("generates a random secret in development and warns about it", () => {
    const a = loadConfig({});
    const b = loadConfig({});
    expect(a.jwt.generatedSecret).toBe(true);
    expect(a.jwt.secret).toHaveLength(32);
    expect(Buffer.from(a.jwt.secret!).equals(Buffer.from(b.jwt.secret!))).toBe(false);
    expect(a.warnings.join(" ")).toMatch(/JWT_SECRET is not set/);
  });

  it("treats empty variables as unset", () => {
    expect(loadConfig({ JWT_SECRET: SECRET, REDIS_URL: "", PORT: "" }).port).toBe(3000);
  });

  it("mints development tokens only with DEV_TOKENS=1, never in production", () => {
    expect(loadConfig({}).devTokens).toBe(false);
    expect(loadConfig({ NODE_ENV: "development" }).devTokens).toBe(false);
    expect(loadConfig({ DEV_TOKENS: "1" }).devTokens).toBe(true);
    expect(loadConfig({ DEV_TOKENS: "0" }).devTokens).toBe(false);
    expect(configError({ DEV_TOKENS: "yes" }).variable).toBe("DEV_TOKENS");
    const error = configError({ NODE_ENV: "production", JWT_SECRET: SECRET, DEV_TOKENS: "1" });
    expect(error.variable).toBe("DEV_TOKENS");
    expect(error.message).toBe("Invalid configuration: DEV_TOKENS must not be set in production: it mints tokens for any user");
  });

  it("turns the Admin UI on only with ADMIN_UI=1, and in production only with a password hash", () => {
    expect(loadConfig({}).adminUi).toBeUndefined();
    expect(loadConfig({ ADMIN_UI: "0", ADMIN_UI_PASSWORD_HASH: HASH }).adminUi).toBeUndefined();
    expect(loadConfig({ ADMIN_UI: "1", ADMIN_UI_PASSWORD_HASH: HASH }).adminUi).toEqual({ username: "admin", passwordHash: HASH, mode: "development", readonly: false });
    expect(loadConfig({ NODE_ENV: "production", JWT_SECRET: SECRET, ADMIN_UI: "1", ADMIN_UI_USERNAME: "ops", ADMIN_UI_PASSWORD_HASH: HASH, ADMIN_UI_READONLY: "1" }).adminUi)
      .toEqual({ username: "ops", passwordHash: HASH, mode: "production", readonly: true });
    expect(loadConfig({ NODE_ENV: "production", JWT_SECRET: SECRET, ADMIN_UI: "1", ADMIN_UI_PASSWORD_HASH: HASH, ADMIN_UI_MODE: "development" }).adminUi?.mode).toBe("development");

    // Without a hash: a warning in development, a refusal in production.
    const open = loadConfig({ ADMIN_UI: "1" });
    expect(open.adminUi).toEqual({ username: "admin", passwordHash: undefined, mode: "development", readonly: false });
    expect(open.warnings).toContainEqual(expect.stringContaining("ADMIN_UI=1 without ADMIN_UI_PASSWORD_HASH"));
    const refused = configError({ NODE_ENV: "production", JWT_SECRET: SECRET, ADMIN_UI: "1" });
    expect(refused.variable).toBe("ADMIN_UI_PASSWORD_HASH");
    expect(refused.message).toMatch(/^Invalid configuration: ADMIN_UI_PASSWORD_HASH is required with ADMIN_UI=1 in production/);

    for (const [variable, value] of [
      ["ADMIN_UI", "yes"],
      ["ADMIN_UI_USERNAME", "a b"],
      ["ADMIN_UI_PASSWORD_HASH", "correct horse battery staple"],
      ["ADMIN_UI_PASSWORD_HASH", HASH.slice(0, -1)],
      ["ADMIN_UI_PASSWORD_HASH", HASH.replace("$2a$04$", "$2a$03$")],
      ["ADMIN_UI_PASSWORD_HASH", `'${HASH}'`],
      ["ADMIN_UI_MODE", "verbose"],
      ["ADMIN_UI_READONLY", "true-ish"],
    ]) {
      expect([variable, value, configError({ ADMIN_UI: "1", ADMIN_UI_PASSWORD_HASH: HASH, [variable!]: value! }).variable]).toEqual([variable, value, variable]);
    }
    expect(configError({ ADMIN_UI_PASSWORD_HASH: "secret" }).message).toMatch(/^Invalid configuration: ADMIN_UI_PASSWORD_HASH must be a bcrypt hash/);
  });

  it.each([
    { hook: "SWITCHBOARD_TEST_PAUSE_PUSH", value: "answered", read: (c: Config) => c.notify.testPausePush },
    { hook: "SWITCHBOARD_TEST_KILL_AFTER_STORE", value: "doc:op", read: (c: Config) => c.testKillAfterStore },
  ])("reads the test hook $hook only with NODE_ENV=test", ({ hook, value, read }) => {
    expect(read(loadConfig({ JWT_SECRET: SECRET }))).toBeUndefined();
    expect(read(loadConfig({ NODE_ENV: "test", [hook]: value }))).toBe(value);
    expect(configError({ NODE_ENV: "test", [hook]: "later" }).variable).toBe(hook);
    for (const NODE_ENV of ["development", "production"]) {
      expect(configError({ NODE_ENV, JWT_SECRET: SECRET, [hook]: value }).variable).toBe(hook);
    }
  });

  describe("the process", () => {
    const run = (env: Record<string, string>) =>
      spawnSync(process.execPath, [MAIN], { env: { PATH: process.env.PATH, ...env }, encoding: "utf8", timeout: 15000 });

    it("exits 1 with one line naming the variable", () => {
      const result = run({ PORT: "not-a-port", JWT_SECRET: SECRET });
      expect(result.status).toBe(1);
      expect(result.stderr.trim().split("\n")).toEqual(["Invalid configuration: PORT must be a number"]);
      expect(result.stdout).toBe("");
    });

    it("exits 1 with one line when DEV_TOKENS is set in production", () => {
      const result = run({ NODE_ENV: "production", JWT_SECRET: SECRET, DEV_TOKENS: "1" });
      expect(result.status).toBe(1);
      expect(result.stderr.trim().split("\n")).toEqual(["Invalid configuration: DEV_TOKENS must not be set in production: it mints tokens for any user"]);
      expect(result.stdout).toBe("");
    });

    it("exits 1 in production with the Admin UI but no password hash", () => {
      const result = run({ NODE_ENV: "production", JWT_SECRET: SECRET, ADMIN_UI: "1" });
      expect(result.status).toBe(1);
      expect(result.stderr.trim().split("\n")).toEqual([
        "Invalid configuration: ADMIN_UI_PASSWORD_HASH is required with ADMIN_UI=1 in production: the Admin UI can see and disconnect every socket",
      ]);
    });

    it("exits 1 in production without a secret", () => {
      const result = run({ NODE_ENV: "production" });
      expect(result.status).toBe(1);
      expect(result.stderr.trim()).toBe("Invalid configuration: JWT_SECRET is required in production (or set JWT_JWKS_URL)");
    });
  });
});
