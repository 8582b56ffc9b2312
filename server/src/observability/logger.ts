/**
 * JSON logs, one object a line, with the node id on every line. Fields that could carry
 * credentials or message bodies are dropped here, whatever a caller passes.
 */
import winston from "winston";

export type Logger = winston.Logger;

const REDACTED_FIELDS = new Set(["token", "authorization", "secret", "password", "data", "body", "payload", "state"]);

const redact = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (REDACTED_FIELDS.has(key.toLowerCase())) delete (info as Record<string, unknown>)[key];
  }
  return info;
});

export function createLogger(options: { nodeId: string; level: string; silent?: boolean }): Logger {
  const logger = winston.createLogger({
    level: options.level,
    silent: options.silent ?? false,
    defaultMeta: { nodeId: options.nodeId },
    format: winston.format.combine(redact(), winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json()),
    transports: [new winston.transports.Console()],
  });
  rememberEnabledLevels(logger);
  // A call under the level returns at once: winston would build the line and pass it through its
  // stream before dropping it (every connect and disconnect logs at info).
  const methods = logger as unknown as Record<string, (this: Logger, ...args: unknown[]) => Logger>;
  for (const level of Object.keys(logger.levels)) {
    const log = methods[level];
    if (typeof log !== "function") continue;
    methods[level] = function (this: Logger, ...args: unknown[]) {
      return this.isLevelEnabled(level) ? log.apply(this, args) : this;
    };
  }
  return logger;
}

/**
 * Answers `isLevelEnabled` (and so `isDebugEnabled`, asked once per command, and every level
 * method) from a table: winston walks its transports, with a new closure, on every call. The table
 * is made again when the logger's level or its transports change through the logger (`level`,
 * `configure`, `add`, `remove`, `clear`); a transport's own level is read when the table is made.
 */
function rememberEnabledLevels(logger: Logger): void {
  const winstonIsLevelEnabled = logger.isLevelEnabled.bind(logger);
  let enabled = new Map<string, boolean>();
  const forget = () => void (enabled = new Map());
  let level = logger.level;
  Object.defineProperty(logger, "level", {
    configurable: true,
    enumerable: true,
    get: () => level,
    set: (value: string) => {
      level = value;
      forget();
    },
  });
  for (const name of ["configure", "add", "remove", "clear"] as const) {
    const change = (logger[name] as (...args: unknown[]) => Logger).bind(logger);
    (logger as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      try {
        return change(...args);
      } finally {
        forget();
      }
    };
  }
  logger.isLevelEnabled = (name: string): boolean => {
    let answer = enabled.get(name);
    if (answer === undefined) enabled.set(name, (answer = winstonIsLevelEnabled(name)));
    return answer;
  };
}
