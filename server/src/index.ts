export { loadConfig, ConfigError, type Config } from "./config";
export { SwitchboardNode, startNode, type NodeOptions } from "./node";
export { createEngine, type Engine, type DeviceSession, type NodeInfo } from "./engine";
export { MemoryEngine } from "./engine/memory";
export { RedisEngine } from "./engine/redis";
export { TokenVerifier, type Principal } from "./auth/tokens";
export { createLogger, type Logger } from "./observability/logger";
export { VERSION } from "./version";
