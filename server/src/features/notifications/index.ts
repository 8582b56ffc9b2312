/**
 * Notifications and push (PROTOCOL §3 "Notifications and push", `POST /v1/notify`, inbox and push
 * device endpoints). The node reads its share of the cluster's notification queue while it serves.
 */
import { createPushDispatcher } from "../../push";
import { WebPushEndpointPolicy } from "../../push/endpoint-guard";
import type { Feature, FeatureDeps } from "../types";
import { notificationCommands } from "./commands";
import { NotificationDelivery } from "./delivery";
import { notificationRoutes } from "./routes";
import { NotificationService } from "./service";

export function notificationsFeature(deps: FeatureDeps): Feature {
  const { config, logger, metrics } = deps;
  const push = createPushDispatcher(config, { logger, metrics, transport: deps.pushTransport });
  const retries = config.notify.retryAttempts;
  // A device's push lease outlives every retry of one send (the back-off doubles each time).
  const pushLeaseMs = Math.max(30_000, config.notify.retryDelayMs * 2 ** (retries + 1) + 10_000 * (retries + 1));
  const delivery = new NotificationDelivery({
    nodeId: deps.nodeId,
    startedAt: deps.startedAt,
    engine: deps.engine,
    io: deps.io,
    push,
    logger,
    metrics,
    options: {
      ackGraceMs: config.notify.ackGraceMs,
      claimIdleMs: config.notify.claimIdleMs,
      pushLeaseMs,
      heartbeatTimeoutMs: config.heartbeatTimeoutMs,
      testPausePush: config.notify.testPausePush,
    },
  });
  const notifications = new NotificationService({ engine: deps.engine, delivery, webPushEndpoints: new WebPushEndpointPolicy(config.webPushAllowedHosts) });
  return {
    commands: notificationCommands(notifications),
    routes: notificationRoutes(notifications),
    start: () => delivery.start(),
    stop: async () => {
      await delivery.stop();
      await push.close();
    },
  };
}
