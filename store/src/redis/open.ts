/**
 * Every Redis store on one client, as a node's Redis engine and the emitter both open them, so a
 * store added here reaches both.
 */
import type { KeyLayout } from "@switchboard/shared";
import type { Delivery } from "../delivery";
import type { RedisClient } from "../script";
import { RedisDocStore } from "./docs";
import { RedisLeaderboards } from "./leaderboards";
import { RedisNodeRegistry } from "./node-registry";
import { RedisNotificationInbox, RedisNotificationQueue, RedisPushDevices } from "./notifications";
import { RedisPresenceRegistry } from "./presence";
import { RedisRoomHistory, RedisRoomRegistry } from "./rooms";
import { RedisLiveStreams } from "./streams";
import { RedisSyncStore } from "./sync";
import { RedisAgents, RedisWorkspaces } from "./workspaces";

export interface RedisStoreOptions {
  /** True on a Redis Cluster: the Socket.IO rooms of rooms and documents carry their keys' hash tag. */
  cluster: boolean;
  /** A connection of its own for the notification queue's blocking reads (a node's); without one the queue is only appended to. */
  openBlocking?: () => RedisClient;
  /** Where the stores that reach sockets (history, documents) deliver; else set later with their deliverThrough. */
  delivery?: Delivery;
  /**
   * Calls a function once the event loop's current turn is done with its I/O callbacks, before
   * their writes leave (a node's turn-writes): the presence registry groups the handshakes and
   * the departures of a turn's reads with it. Without it, only those of one callback are
   * (process.nextTick).
   */
  endOfTurn?: (flush: () => void) => void;
}

export function openRedisStores(redis: RedisClient, keys: KeyLayout, { cluster, openBlocking, delivery, endOfTurn }: RedisStoreOptions) {
  const stores = {
    nodes: new RedisNodeRegistry(redis, keys),
    presence: new RedisPresenceRegistry(redis, keys, cluster, endOfTurn),
    sync: new RedisSyncStore(redis, keys),
    notifications: new RedisNotificationQueue(redis, keys, openBlocking),
    inbox: new RedisNotificationInbox(redis, keys),
    pushDevices: new RedisPushDevices(redis, keys),
    rooms: new RedisRoomRegistry(redis, keys),
    history: new RedisRoomHistory(redis, keys, cluster),
    workspaces: new RedisWorkspaces(redis, keys),
    agents: new RedisAgents(redis, keys),
    leaderboards: new RedisLeaderboards(redis, keys),
    streams: new RedisLiveStreams(redis, keys),
    docs: new RedisDocStore(redis, keys, cluster),
  };
  if (delivery) for (const store of [stores.history, stores.docs]) store.deliverThrough(delivery);
  return stores;
}

export type RedisStores = ReturnType<typeof openRedisStores>;
