/**
 * Environment -> typed Config. Every variable of the protocol is validated here with joi;
 * a bad value becomes a ConfigError whose message names the variable and the reason.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { CONFLICT_STRATEGIES, type ConflictStrategy } from "@switchboard/shared";
import Joi from "joi";

export type { ConflictStrategy };

export interface Config {
  nodeEnv: string;
  production: boolean;
  port: number;
  host: string;
  nodeId: string;
  redisUrl?: string;
  redisClusterNodes?: { host: string; port: number }[];
  jwt: {
    secret?: Uint8Array;
    /** True when the secret was generated because none was configured (development only). */
    generatedSecret: boolean;
    jwksUrl?: string;
    issuer?: string;
    audience?: string;
  };
  corsOrigins: string[] | "*" | false;
  maxConnections: number;
  maxDevicesPerUser: number;
  /** Sockets one device of a user may hold at once, cluster-wide (tabs, reconnects in flight). */
  maxConnectionsPerDevice: number;
  /** Rooms a user may have created that still exist. */
  maxRoomsPerUser: number;
  /** Subscriptions (rooms, documents, leaderboards, streams, agents, watched users, …) one socket may hold. */
  maxSubscriptionsPerSocket: number;
  /** `POST /dev/token` is served (never in production). */
  devTokens: boolean;
  /** Web Push endpoint hosts allowed although they resolve to private, loopback or link-local addresses. */
  webPushAllowedHosts: string[];
  roomMaxSize: number;
  roomMaxSizeLimit: number;
  maxMessageBytes: number;
  historySize: number;
  historyTtlS: number;
  /** Seconds a room may go without activity before it expires with its members. */
  roomIdleTtlS: number;
  sessionTtlS: number;
  conflictStrategy: ConflictStrategy;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  logLevel: string;
  rateLimit: { points: number; durationS: number };
  redisKeyPrefix: string;
  notify: {
    ackGraceMs: number;
    retryAttempts: number;
    retryDelayMs: number;
    claimIdleMs: number;
    /** Tests only (SWITCHBOARD_TEST_PAUSE_PUSH with NODE_ENV=test): where every device push stops for good. */
    testPausePush?: "claimed" | "answered";
  };
  /** Live leaderboards and streams: update intervals (cluster-wide, per leaderboard / stream), stream cap, consumer timing. */
  live: { leaderboardIntervalMs: number; streamIntervalMs: number; streamMaxLen: number; streamClaimIdleMs: number; streamBatchMs: number };
  push: {
    fcmServiceAccount?: string;
    fcmApiUrl?: string;
    apns: { key?: string; keyId?: string; teamId?: string; topic?: string; host?: string; port?: number; production: boolean };
    vapid: { publicKey?: string; privateKey?: string; subject?: string };
  };
  /**
   * Tests only (SWITCHBOARD_TEST_KILL_AFTER_STORE with NODE_ENV=test): the node kills itself
   * (SIGKILL) as soon as a store step of this event (`room:message`: a room message; `doc:op`: a
   * document op) returns, before the node does anything else with it.
   */
  testKillAfterStore?: TestKillAfterStore;
  /** Socket.IO Admin UI on the namespace `/admin` (ADMIN_UI=1); undefined when off. */
  adminUi?: AdminUiConfig;
  /** Things worth a warning at start (e.g. a generated development secret). */
  warnings: string[];
}

export const ADMIN_UI_MODES = ["development", "production"] as const;

export interface AdminUiConfig {
  username: string;
  /** bcrypt hash of the password; undefined: no authentication (refused in production). */
  passwordHash?: string;
  /** `production`: server stats and aggregated events only; `development`: every socket and event too. */
  mode: (typeof ADMIN_UI_MODES)[number];
  /** No disconnecting, joining, leaving or emitting from the UI. */
  readonly: boolean;
}

/** A bcrypt hash as bcrypt and bcryptjs write it: `$2a$`, `$2b$` or `$2y$`, cost 04–31, 22 + 31 characters of salt and hash. */
const BCRYPT_HASH = /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;

export const TEST_KILL_AFTER_STORE = ["room:message", "doc:op"] as const;
export type TestKillAfterStore = (typeof TEST_KILL_AFTER_STORE)[number];

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`Invalid configuration: ${variable} ${reason}`);
    this.name = "ConfigError";
  }
}

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => Joi.number().integer().min(min).max(max);
const hostPort = /^[A-Za-z0-9_.-]+:\d{1,5}$/;
const base64Url = /^[A-Za-z0-9_-]+={0,2}$/;

const envSchema = Joi.object({
  NODE_ENV: Joi.string().valid("development", "production", "test").default("development"),
  PORT: int(0, 65535).default(3000),
  HOST: Joi.string().pattern(/^[A-Za-z0-9_.:[\]-]+$/, "host name or address").default("0.0.0.0"),
  NODE_ID: Joi.string().pattern(/^[A-Za-z0-9_.:-]{1,64}$/, "node id"),
  REDIS_URL: Joi.string().uri({ scheme: ["redis", "rediss"] }),
  REDIS_CLUSTER_NODES: Joi.string().custom((value: string) => {
    const parts = value.split(",").map((p) => p.trim()).filter(Boolean);
    if (parts.length === 0 || parts.some((p) => !hostPort.test(p))) throw new Error("bad list");
    return value;
  }).messages({ "any.custom": "must be a comma list of host:port" }),
  JWT_SECRET: Joi.string().min(1),
  JWT_JWKS_URL: Joi.string().uri({ scheme: ["http", "https"] }),
  JWT_ISSUER: Joi.string().min(1),
  JWT_AUDIENCE: Joi.string().min(1),
  CORS_ORIGINS: Joi.string().allow(""),
  MAX_CONNECTIONS: int(1).default(10000),
  MAX_DEVICES_PER_USER: int(1, 1000).default(5),
  MAX_CONNECTIONS_PER_DEVICE: int(1, 1000).default(4),
  MAX_ROOMS_PER_USER: int(1, 1_000_000).default(100),
  MAX_SUBSCRIPTIONS_PER_SOCKET: int(1, 100_000).default(1000),
  DEV_TOKENS: Joi.boolean().truthy("1").falsy("0").default(false),
  WEBPUSH_ALLOWED_HOSTS: Joi.string().custom((value: string) => {
    const hosts = value.split(",").map((h) => h.trim()).filter(Boolean);
    if (hosts.some((h) => !/^[A-Za-z0-9.:[\]-]{1,253}$/.test(h))) throw new Error("bad list");
    return value;
  }).messages({ "any.custom": "must be a comma list of host names or addresses" }),
  ROOM_MAX_SIZE: int(1).default(50),
  ROOM_MAX_SIZE_LIMIT: int(1).default(10000),
  MAX_MESSAGE_BYTES: int(256, 16 * 1024 * 1024).default(65536),
  HISTORY_SIZE: int(1, 1_000_000).default(1000),
  HISTORY_TTL_S: int(1).default(604800),
  ROOM_IDLE_TTL_S: int(1).default(86400),
  SESSION_TTL_S: int(1).default(3600),
  CONFLICT_STRATEGY: Joi.string().valid(...CONFLICT_STRATEGIES).default("lww"),
  HEARTBEAT_INTERVAL_MS: int(100, 3_600_000).default(25000),
  HEARTBEAT_TIMEOUT_MS: int(100, 3_600_000).default(20000),
  LOG_LEVEL: Joi.string().valid("error", "warn", "info", "http", "verbose", "debug", "silly").default("info"),
  RATE_LIMIT_POINTS: int(1).default(100),
  RATE_LIMIT_DURATION_S: int(1, 86400).default(1),
  REDIS_KEY_PREFIX: Joi.string().pattern(/^[A-Za-z0-9_.:-]{0,64}$/, "key prefix").allow("").default("sb:"),
  NOTIFY_ACK_GRACE_MS: int(0, 3_600_000).default(10000),
  NOTIFY_RETRY_ATTEMPTS: int(0, 20).default(3),
  NOTIFY_RETRY_DELAY_MS: int(0, 600_000).default(1000),
  NOTIFY_CLAIM_IDLE_MS: int(100, 86_400_000).default(30000),
  // A test hook (NODE_ENV=test only): see DeliveryOptions.testPausePush.
  SWITCHBOARD_TEST_PAUSE_PUSH: Joi.string().valid("claimed", "answered"),
  // A test hook (NODE_ENV=test only): see Config.testKillAfterStore.
  SWITCHBOARD_TEST_KILL_AFTER_STORE: Joi.string().valid(...TEST_KILL_AFTER_STORE),
  LEADERBOARD_UPDATE_INTERVAL_MS: int(10, 60_000).default(250),
  STREAM_UPDATE_INTERVAL_MS: int(10, 60_000).default(1000),
  STREAM_MAX_LEN: int(100, 10_000_000).default(10000),
  STREAM_CLAIM_IDLE_MS: int(100, 86_400_000).default(30000),
  STREAM_BATCH_MS: int(0, 600_000).default(100),
  FCM_SERVICE_ACCOUNT: Joi.string().min(1),
  FCM_API_URL: Joi.string().uri({ scheme: ["https", "http"] }),
  APNS_KEY: Joi.string().min(1),
  APNS_KEY_ID: Joi.string().min(1),
  APNS_TEAM_ID: Joi.string().min(1),
  APNS_TOPIC: Joi.string().min(1),
  APNS_HOST: Joi.string().hostname(),
  APNS_PORT: int(1, 65535),
  APNS_PRODUCTION: Joi.boolean().truthy("1").falsy("0").default(false),
  VAPID_PUBLIC_KEY: Joi.string().pattern(base64Url, "URL-safe base64"),
  VAPID_PRIVATE_KEY: Joi.string().pattern(base64Url, "URL-safe base64"),
  VAPID_SUBJECT: Joi.string().pattern(/^(mailto:|https:\/\/)/, "mailto: or https URL"),
  ADMIN_UI: Joi.boolean().truthy("1").falsy("0").default(false),
  ADMIN_UI_USERNAME: Joi.string().pattern(/^[A-Za-z0-9_.@-]{1,64}$/, "user name").default("admin"),
  ADMIN_UI_PASSWORD_HASH: Joi.string().pattern(BCRYPT_HASH).messages({
    "string.pattern.base": "must be a bcrypt hash ($2b$12$ and 53 characters; see README \"Admin UI\"): the hash, never the password",
  }),
  ADMIN_UI_MODE: Joi.string().valid(...ADMIN_UI_MODES),
  ADMIN_UI_READONLY: Joi.boolean().truthy("1").falsy("0").default(false),
})
  .unknown(true)
  .prefs({ convert: true, abortEarly: true, errors: { wrap: { label: false } } });

/** Reads a Config from an environment (process.env by default). Throws ConfigError. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty variables count as unset, as shells and compose files often export VAR= .
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const { value: v, error } = envSchema.validate(present);
  if (error) {
    const detail = error.details[0];
    const variable = String(detail?.path[0] ?? "environment");
    throw new ConfigError(variable, detail ? detail.message.replace(new RegExp(`^"?${variable}"? ?`), "") : error.message);
  }
  const warnings: string[] = [];
  const production = v.NODE_ENV === "production";

  if (v.JWT_SECRET !== undefined && Buffer.byteLength(v.JWT_SECRET) < 32) {
    throw new ConfigError("JWT_SECRET", "must be at least 32 bytes");
  }
  let secret = v.JWT_SECRET === undefined ? undefined : new TextEncoder().encode(v.JWT_SECRET);
  let generatedSecret = false;
  if (!secret && !v.JWT_JWKS_URL) {
    if (production) throw new ConfigError("JWT_SECRET", "is required in production (or set JWT_JWKS_URL)");
    secret = new Uint8Array(randomBytes(32));
    generatedSecret = true;
    warnings.push("JWT_SECRET is not set: generated a random secret for this process; tokens from elsewhere will be refused");
  }

  if (v.HEARTBEAT_TIMEOUT_MS > v.HEARTBEAT_INTERVAL_MS * 4) {
    // Socket.IO tolerates it, but node liveness would then lag far behind socket liveness.
    warnings.push("HEARTBEAT_TIMEOUT_MS is more than 4 x HEARTBEAT_INTERVAL_MS");
  }
  for (const hook of ["SWITCHBOARD_TEST_PAUSE_PUSH", "SWITCHBOARD_TEST_KILL_AFTER_STORE"] as const) {
    if (v[hook] !== undefined && v.NODE_ENV !== "test") throw new ConfigError(hook, "is a test hook: it is only read with NODE_ENV=test");
  }
  if (v.DEV_TOKENS && production) throw new ConfigError("DEV_TOKENS", "must not be set in production: it mints tokens for any user");
  if (v.ROOM_MAX_SIZE > v.ROOM_MAX_SIZE_LIMIT) throw new ConfigError("ROOM_MAX_SIZE", "must not exceed ROOM_MAX_SIZE_LIMIT");

  const apnsKeys = ["APNS_KEY", "APNS_KEY_ID", "APNS_TEAM_ID", "APNS_TOPIC"] as const;
  const apnsSet = apnsKeys.filter((k) => v[k] !== undefined);
  if (apnsSet.length > 0 && apnsSet.length < apnsKeys.length) {
    const missing = apnsKeys.find((k) => v[k] === undefined)!;
    throw new ConfigError(missing, "is required when any APNS_* credential is set");
  }
  if ((v.VAPID_PUBLIC_KEY === undefined) !== (v.VAPID_PRIVATE_KEY === undefined)) {
    throw new ConfigError(v.VAPID_PUBLIC_KEY === undefined ? "VAPID_PUBLIC_KEY" : "VAPID_PRIVATE_KEY", "must be set together with its pair");
  }

  let adminUi: AdminUiConfig | undefined;
  if (v.ADMIN_UI) {
    if (v.ADMIN_UI_PASSWORD_HASH === undefined) {
      if (production) throw new ConfigError("ADMIN_UI_PASSWORD_HASH", "is required with ADMIN_UI=1 in production: the Admin UI can see and disconnect every socket");
      warnings.push("ADMIN_UI=1 without ADMIN_UI_PASSWORD_HASH: anyone who reaches the node can open the Admin UI namespace /admin");
    }
    adminUi = {
      username: v.ADMIN_UI_USERNAME,
      passwordHash: v.ADMIN_UI_PASSWORD_HASH,
      mode: v.ADMIN_UI_MODE ?? (production ? "production" : "development"),
      readonly: v.ADMIN_UI_READONLY,
    };
  }

  let corsOrigins: Config["corsOrigins"] = false;
  if (v.CORS_ORIGINS !== undefined) {
    const list = String(v.CORS_ORIGINS).split(",").map((s) => s.trim()).filter(Boolean);
    if (list.includes("*")) {
      if (list.length > 1) throw new ConfigError("CORS_ORIGINS", "must be either * or a list of origins");
      corsOrigins = "*";
    } else {
      for (const origin of list) {
        if (!/^https?:\/\/[^/\s]+$/.test(origin)) throw new ConfigError("CORS_ORIGINS", `has an invalid origin: ${origin}`);
      }
      corsOrigins = list.length ? list : false;
    }
  }

  return {
    nodeEnv: v.NODE_ENV,
    production,
    port: v.PORT,
    host: v.HOST,
    nodeId: v.NODE_ID ?? `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9_.:-]/g, "-").slice(0, 64),
    redisUrl: v.REDIS_URL,
    redisClusterNodes: v.REDIS_CLUSTER_NODES
      ? String(v.REDIS_CLUSTER_NODES).split(",").map((p) => p.trim()).filter(Boolean).map((p) => {
          const [host, port] = p.split(":");
          return { host: host!, port: Number(port) };
        })
      : undefined,
    jwt: { secret, generatedSecret, jwksUrl: v.JWT_JWKS_URL, issuer: v.JWT_ISSUER, audience: v.JWT_AUDIENCE },
    corsOrigins,
    maxConnections: v.MAX_CONNECTIONS,
    maxDevicesPerUser: v.MAX_DEVICES_PER_USER,
    maxConnectionsPerDevice: v.MAX_CONNECTIONS_PER_DEVICE,
    maxRoomsPerUser: v.MAX_ROOMS_PER_USER,
    maxSubscriptionsPerSocket: v.MAX_SUBSCRIPTIONS_PER_SOCKET,
    devTokens: v.DEV_TOKENS,
    webPushAllowedHosts: v.WEBPUSH_ALLOWED_HOSTS
      ? String(v.WEBPUSH_ALLOWED_HOSTS).split(",").map((h) => h.trim().toLowerCase()).filter(Boolean)
      : [],
    roomMaxSize: v.ROOM_MAX_SIZE,
    roomMaxSizeLimit: v.ROOM_MAX_SIZE_LIMIT,
    maxMessageBytes: v.MAX_MESSAGE_BYTES,
    historySize: v.HISTORY_SIZE,
    historyTtlS: v.HISTORY_TTL_S,
    roomIdleTtlS: v.ROOM_IDLE_TTL_S,
    sessionTtlS: v.SESSION_TTL_S,
    conflictStrategy: v.CONFLICT_STRATEGY,
    heartbeatIntervalMs: v.HEARTBEAT_INTERVAL_MS,
    heartbeatTimeoutMs: v.HEARTBEAT_TIMEOUT_MS,
    logLevel: v.LOG_LEVEL,
    rateLimit: { points: v.RATE_LIMIT_POINTS, durationS: v.RATE_LIMIT_DURATION_S },
    redisKeyPrefix: v.REDIS_KEY_PREFIX,
    notify: {
      ackGraceMs: v.NOTIFY_ACK_GRACE_MS,
      retryAttempts: v.NOTIFY_RETRY_ATTEMPTS,
      retryDelayMs: v.NOTIFY_RETRY_DELAY_MS,
      claimIdleMs: v.NOTIFY_CLAIM_IDLE_MS,
      ...(v.SWITCHBOARD_TEST_PAUSE_PUSH !== undefined ? { testPausePush: v.SWITCHBOARD_TEST_PAUSE_PUSH as "claimed" | "answered" } : {}),
    },
    live: {
      leaderboardIntervalMs: v.LEADERBOARD_UPDATE_INTERVAL_MS,
      streamIntervalMs: v.STREAM_UPDATE_INTERVAL_MS,
      streamMaxLen: v.STREAM_MAX_LEN,
      streamClaimIdleMs: v.STREAM_CLAIM_IDLE_MS,
      streamBatchMs: v.STREAM_BATCH_MS,
    },
    push: {
      fcmServiceAccount: v.FCM_SERVICE_ACCOUNT,
      fcmApiUrl: v.FCM_API_URL,
      apns: {
        key: v.APNS_KEY,
        keyId: v.APNS_KEY_ID,
        teamId: v.APNS_TEAM_ID,
        topic: v.APNS_TOPIC,
        host: v.APNS_HOST,
        port: v.APNS_PORT,
        production: v.APNS_PRODUCTION,
      },
      vapid: { publicKey: v.VAPID_PUBLIC_KEY, privateKey: v.VAPID_PRIVATE_KEY, subject: v.VAPID_SUBJECT },
    },
    ...(v.SWITCHBOARD_TEST_KILL_AFTER_STORE !== undefined ? { testKillAfterStore: v.SWITCHBOARD_TEST_KILL_AFTER_STORE as TestKillAfterStore } : {}),
    ...(adminUi ? { adminUi } : {}),
    warnings,
  };
}
