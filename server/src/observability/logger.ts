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
