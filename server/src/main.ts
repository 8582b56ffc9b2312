#!/usr/bin/env node
/**
 * Process entry: read the configuration, start one node, stop it cleanly on SIGTERM/SIGINT.
 */
import { ConfigError, loadConfig, type Config } from "./config";
import { startNode, type SwitchboardNode } from "./node";

const SHUTDOWN_LIMIT_MS = 10_000;

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }

  let node: SwitchboardNode;
  try {
    node = await startNode(config);
  } catch (err) {
    process.stderr.write(`switchboard failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }

  process.on("unhandledRejection", (reason) => {
    node.logger.error("unhandled rejection", { event: "process", error: reason instanceof Error ? reason.stack : String(reason) });
  });
  process.on("uncaughtException", (err) => {
    node.logger.error("uncaught exception", { event: "process", error: err.stack });
    process.exit(1);
  });

  const stop = (signal: NodeJS.Signals) => {
    const force = setTimeout(() => {
      node.logger.error("shutdown took too long; exiting", { event: "shutdown", limitMs: SHUTDOWN_LIMIT_MS });
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS);
    force.unref();
    node.shutdown(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        node.logger.error("shutdown failed", { event: "shutdown", error: String(err) });
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

void main();
