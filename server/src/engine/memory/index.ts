/**
 * The memory engine: one node, no Redis. Small and faithful to the Redis engine's semantics.
 */
import { RateLimiterMemory } from "rate-limiter-flexible";
import type { Server } from "socket.io";
import type { Engine, RateLimiterOptions } from "../types";
import { Availability } from "../availability";
import { MemoryDeviceRegistry } from "./device-registry";
import { MemoryNodeRegistry } from "./node-registry";
import { MemoryRooms } from "./rooms";

export class MemoryEngine implements Engine {
  readonly kind = "memory" as const;
  readonly adapter = undefined;
  readonly nodes = new MemoryNodeRegistry();
  readonly devices = new MemoryDeviceRegistry();
  private readonly roomStore = new MemoryRooms();
  readonly rooms = this.roomStore;
  readonly history = this.roomStore;
  private readonly availability = new Availability(true);

  attach(io: Server): void {
    this.roomStore.attach(io);
  }

  createRateLimiter(options: RateLimiterOptions): RateLimiterMemory {
    return new RateLimiterMemory({ keyPrefix: options.name, points: options.points, duration: options.durationS });
  }

  isAvailable(): boolean {
    return this.availability.available;
  }

  onAvailabilityChange(listener: (available: boolean) => void): () => void {
    return this.availability.onChange(listener);
  }

  waitUntilAvailable(timeoutMs: number): Promise<boolean> {
    return this.availability.waitUntilAvailable(timeoutMs);
  }

  async close(): Promise<void> {
    this.roomStore.close();
    this.availability.set(false);
  }
}
