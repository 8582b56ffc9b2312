import { Writable } from "node:stream";
import winston from "winston";
import { createLogger } from "../../server/src/observability/logger";

/** A transport that keeps the lines it is given. */
function keeping(level?: string): { transport: winston.transport; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write: (chunk: Buffer, _encoding, done) => {
      for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { transport: new winston.transports.Stream({ stream, ...(level ? { level } : {}) }), lines };
}

/** Lets winston's streams hand the lines on. */
const flushed = () => new Promise((resolve) => setImmediate(resolve));

describe("logger levels", () => {
  it("answers isDebugEnabled from the level, and follows a change of level", async () => {
    const logger = createLogger({ nodeId: "n1", level: "info" });
    logger.clear();
    const { transport, lines } = keeping();
    logger.add(transport);
    expect(logger.isDebugEnabled()).toBe(false);
    expect(logger.isInfoEnabled()).toBe(true);
    logger.debug("dropped");
    logger.level = "debug";
    expect(logger.isDebugEnabled()).toBe(true);
    logger.debug("kept", { secret: "s3cr3t" });
    logger.level = "warn";
    expect(logger.isInfoEnabled()).toBe(false);
    logger.info("dropped too");
    logger.warn("kept too");
    await flushed();
    expect(lines.map((l) => l.message)).toEqual(["kept", "kept too"]);
    expect(lines[0]).toMatchObject({ nodeId: "n1", level: "debug" });
    expect(lines[0]).not.toHaveProperty("secret");
  });

  it("follows transports added and removed: a level is enabled while some transport takes it", async () => {
    const logger = createLogger({ nodeId: "n2", level: "debug" });
    logger.clear();
    const quiet = keeping("warn");
    logger.add(quiet.transport);
    expect(logger.isDebugEnabled()).toBe(false);
    logger.debug("nobody takes this");
    const chatty = keeping("debug");
    logger.add(chatty.transport);
    expect(logger.isDebugEnabled()).toBe(true);
    logger.debug("the chatty one takes this");
    logger.remove(chatty.transport);
    expect(logger.isDebugEnabled()).toBe(false);
    logger.configure({ level: "debug", transports: [chatty.transport] });
    expect(logger.isDebugEnabled()).toBe(true);
    logger.debug("after configure");
    await flushed();
    expect(quiet.lines).toEqual([]);
    expect(chatty.lines.map((l) => l.message)).toEqual(["the chatty one takes this", "after configure"]);
  });
});
