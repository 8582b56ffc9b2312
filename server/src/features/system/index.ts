/**
 * The node's own surface: liveness, readiness, metrics, status of this node and of the
 * cluster (from the node registry, never by asking every node's sockets), and a ping command.
 */
import { commandSchemas, connectionsSchema, healthSchema, nodeStatusSchema, readySchema, TENANT_WIDE_ROOM, unreadySchema, type PingPayload, type PingResult } from "@switchboard/shared";
import Joi from "joi";
import { defineCommand } from "../../commands";
import { defineRoute, SERVICE_ROLES } from "../../http/routes";
import type { Feature, FeatureDeps } from "../types";

const isTenantWideRoom = (room: string) => room === TENANT_WIDE_ROOM || room.endsWith(`/${TENANT_WIDE_ROOM}`);

export function systemFeature(deps: FeatureDeps): Feature {
  const { engine, metrics, nodeId } = deps;
  const uptimeS = () => Math.round((Date.now() - deps.startedAt) / 1000);
  const liveNodes = async () => {
    const nodes = await engine.nodes.live(deps.config.heartbeatTimeoutMs);
    metrics.clusterNodes.set(nodes.length);
    // The registry's counts are as old as each node's last heartbeat; this node's is known now.
    for (const node of nodes) if (node.nodeId === nodeId) node.connections = deps.sessions.connections;
    return nodes.sort((a, b) => a.nodeId.localeCompare(b.nodeId));
  };
  const localRooms = () => {
    const { rooms, sids } = deps.io.of("/").adapter;
    let count = 0;
    // Per-socket rooms and the tenant-wide broadcast rooms are not rooms anybody created.
    for (const room of rooms.keys()) if (!sids.has(room) && !isTenantWideRoom(room)) count++;
    return count;
  };

  const ping = defineCommand<PingPayload, PingResult>("system:ping", commandSchemas["system:ping"], (_ctx, payload) => {
    const result: PingResult = { serverTime: Date.now(), nodeId };
    if (payload.clientTime !== undefined) result.clientTime = payload.clientTime;
    return result;
  });

  return {
    commands: [ping],
    routes: [
      defineRoute({
        method: "get",
        path: "/health",
        auth: "public",
        unlimited: true,
        summary: "Liveness",
        responses: { 200: { description: "The node runs", body: healthSchema } },
        handler: () => ({ body: { status: "ok", nodeId, uptime: uptimeS() } }),
      }),
      defineRoute({
        method: "get",
        path: "/health/ready",
        auth: "public",
        unlimited: true,
        summary: "Readiness, for the balancer: Redis and the adapter are usable and the node is not stopping",
        responses: {
          200: { description: "Ready", body: readySchema },
          503: { description: "Not ready: Redis unreachable, or shutting down", body: unreadySchema },
        },
        handler: () => {
          if (!deps.isServing()) return { status: 503, body: { status: "unavailable", nodeId, reason: "shutting down" } };
          if (!engine.isAvailable()) return { status: 503, body: { status: "unavailable", nodeId, reason: "redis unreachable" } };
          return { body: { status: "ready", nodeId, engine: engine.kind } };
        },
      }),
      defineRoute({
        method: "get",
        path: "/metrics",
        auth: "public",
        unlimited: true,
        summary: "Prometheus metrics of this node (PROTOCOL §6): keep it internal",
        responses: { 200: { description: "Prometheus text format", contentType: "text/plain; version=0.0.4; charset=utf-8" } },
        handler: async () => {
          metrics.redisUp.set(engine.isAvailable() ? 1 : 0);
          return { body: await metrics.registry.metrics(), contentType: metrics.registry.contentType };
        },
      }),
      defineRoute<Record<string, never>, { cluster?: boolean }>({
        method: "get",
        path: "/v1/status",
        auth: SERVICE_ROLES,
        query: Joi.object({ cluster: Joi.boolean().truthy("1").falsy("0").description("1: add every live node from the registry") }),
        summary: "This node's status, and with cluster=1 every live node's",
        responses: { 200: { description: "The status", body: nodeStatusSchema } },
        handler: async ({ query }) => {
          const status: Record<string, unknown> = {
            nodeId,
            version: deps.version,
            uptime: uptimeS(),
            connections: deps.sessions.connections,
            rooms: localRooms(),
            engine: engine.kind,
          };
          if (query.cluster) {
            status.nodes = (await liveNodes()).map((n) => ({ nodeId: n.nodeId, connections: n.connections, lastHeartbeat: n.lastHeartbeat, version: n.version }));
          }
          return { body: status };
        },
      }),
      defineRoute({
        method: "get",
        path: "/v1/connections",
        auth: SERVICE_ROLES,
        summary: "Connections per node, cluster-wide, as of each node's last heartbeat",
        responses: { 200: { description: "The counts", body: connectionsSchema } },
        handler: async () => {
          const nodes = (await liveNodes()).map((n) => ({ nodeId: n.nodeId, connections: n.connections }));
          return { body: { total: nodes.reduce((sum, n) => sum + n.connections, 0), nodes } };
        },
      }),
    ],
  };
}
