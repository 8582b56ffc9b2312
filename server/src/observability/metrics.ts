/**
 * One prom-client registry per node (several nodes can share a process in tests), holding the
 * default process metrics and every `switchboard_` metric. Features take what they feed from here.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface Metrics {
  registry: Registry;
  connectedSockets: Gauge;
  onlineUsers: Gauge;
  rejectedHandshakes: Counter<"code">;
  commands: Counter<"command" | "outcome">;
  commandDuration: Histogram<"command" | "outcome">;
  httpRequests: Counter<"route" | "method" | "status">;
  httpDuration: Histogram<"route" | "method">;
  redisErrors: Counter<"client">;
  redisUp: Gauge;
  clusterNodes: Gauge;
  messagesPublished: Counter<"kind">;
  messagesDelivered: Counter;
  syncWrites: Counter<"strategy" | "outcome">;
  presenceUpdates: Counter<"reason">;
  notifications: Counter<"channel" | "outcome">;
  leaderboardScores: Counter<"mode">;
  leaderboardBroadcasts: Counter;
  streamPointsAppended: Counter;
  streamPointsAggregated: Counter;
  streamBroadcasts: Counter;
  docOps: Counter<"type" | "outcome">;
  docAppendRetries: Counter<"type">;
  logLinesSuppressed: Counter<"event">;
}

export function createMetrics(labels: { nodeId: string; version: string }): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node_id: labels.nodeId });
  collectDefaultMetrics({ register: registry, prefix: "switchboard_" });

  new Gauge({ name: "switchboard_node_info", help: "Static information about this node", labelNames: ["version"], registers: [registry] })
    .set({ version: labels.version }, 1);

  return {
    registry,
    connectedSockets: new Gauge({ name: "switchboard_connected_sockets", help: "Sockets connected to this node", registers: [registry] }),
    onlineUsers: new Gauge({ name: "switchboard_online_users", help: "Distinct users with at least one socket on this node", registers: [registry] }),
    rejectedHandshakes: new Counter({
      name: "switchboard_rejected_handshakes_total",
      help: "Refused Socket.IO handshakes by error code",
      labelNames: ["code"],
      registers: [registry],
    }),
    commands: new Counter({
      name: "switchboard_commands_total",
      help: "Socket commands handled, by command and outcome (ok or the error code)",
      labelNames: ["command", "outcome"],
      registers: [registry],
    }),
    commandDuration: new Histogram({
      name: "switchboard_command_duration_seconds",
      help: "Socket command latency from receipt to ack",
      labelNames: ["command", "outcome"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    httpRequests: new Counter({
      name: "switchboard_http_requests_total",
      help: "REST requests by route, method and status",
      labelNames: ["route", "method", "status"],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: "switchboard_http_request_duration_seconds",
      help: "REST request latency",
      labelNames: ["route", "method"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    redisErrors: new Counter({
      name: "switchboard_redis_errors_total",
      help: "Errors reported by Redis clients, by client role",
      labelNames: ["client"],
      registers: [registry],
    }),
    logLinesSuppressed: new Counter({
      name: "switchboard_log_lines_suppressed_total",
      help: "Refusal log lines not written because their client was over its log budget (the refusals are still counted in the command and request metrics)",
      labelNames: ["event"],
      registers: [registry],
    }),
    redisUp: new Gauge({ name: "switchboard_redis_up", help: "1 when every Redis client of this node is ready (always 1 in memory mode)", registers: [registry] }),
    clusterNodes: new Gauge({ name: "switchboard_cluster_nodes", help: "Live nodes in the node registry, as last seen by this node", registers: [registry] }),
    messagesPublished: new Counter({
      name: "switchboard_messages_published_total",
      help: "Room messages stored and fanned out by this node, by kind",
      labelNames: ["kind"],
      registers: [registry],
    }),
    messagesDelivered: new Counter({
      name: "switchboard_messages_delivered_total",
      help: "Room messages handed to sockets of this node, wherever they were published",
      registers: [registry],
    }),
    syncWrites: new Counter({
      name: "switchboard_sync_writes_total",
      help: "Sync pushes by conflict strategy and outcome (applied, conflict: contested fields remain, too_large)",
      labelNames: ["strategy", "outcome"],
      registers: [registry],
    }),
    presenceUpdates: new Counter({
      name: "switchboard_presence_updates_total",
      help: "Presence changes this node announced, by reason (connect, disconnect, status, sweep)",
      labelNames: ["reason"],
      registers: [registry],
    }),
    docOps: new Counter({
      name: "switchboard_doc_ops_total",
      help: "Collaborative document ops by document type and outcome (applied, duplicate, or the error code)",
      labelNames: ["type", "outcome"],
      registers: [registry],
    }),
    docAppendRetries: new Counter({
      name: "switchboard_doc_append_retries_total",
      help: "Document ops transformed again because another writer appended first",
      labelNames: ["type"],
      registers: [registry],
    }),
    notifications: new Counter({
      name: "switchboard_notifications_total",
      help: "Notification deliveries by channel and outcome",
      labelNames: ["channel", "outcome"],
      registers: [registry],
    }),
    leaderboardScores: new Counter({
      name: "switchboard_leaderboard_score_updates_total",
      help: "Leaderboard score writes this node made, by mode (set, inc)",
      labelNames: ["mode"],
      registers: [registry],
    }),
    leaderboardBroadcasts: new Counter({ name: "switchboard_leaderboard_broadcasts_total", help: "leaderboard:update broadcasts this node sent (one per leaderboard per interval, cluster-wide)", registers: [registry] }),
    streamPointsAppended: new Counter({ name: "switchboard_stream_points_appended_total", help: "Live stream points this node appended", registers: [registry] }),
    streamPointsAggregated: new Counter({ name: "switchboard_stream_points_aggregated_total", help: "Live stream points this node aggregated (each point is aggregated by exactly one node)", registers: [registry] }),
    streamBroadcasts: new Counter({ name: "switchboard_stream_broadcasts_total", help: "stream:update broadcasts this node sent (one per stream per interval, cluster-wide)", registers: [registry] }),
  };
}
