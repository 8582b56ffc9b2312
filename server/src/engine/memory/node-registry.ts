import type { NodeInfo, NodeRegistry } from "../types";

export class MemoryNodeRegistry implements NodeRegistry {
  private readonly nodes = new Map<string, NodeInfo>();
  private readonly leases = new Map<string, number>();

  async heartbeat(info: Omit<NodeInfo, "lastHeartbeat">): Promise<number> {
    const now = Date.now();
    this.nodes.set(info.nodeId, { ...info, lastHeartbeat: now });
    return now;
  }

  async live(timeoutMs: number): Promise<NodeInfo[]> {
    const since = Date.now() - timeoutMs;
    return [...this.nodes.values()].filter((n) => n.lastHeartbeat > since).map((n) => ({ ...n }));
  }

  async expired(timeoutMs: number): Promise<string[]> {
    const since = Date.now() - timeoutMs;
    return [...this.nodes.values()].filter((n) => n.lastHeartbeat <= since).map((n) => n.nodeId);
  }

  async claimSweep(nodeId: string, timeoutMs: number, leaseMs: number): Promise<boolean> {
    const node = this.nodes.get(nodeId);
    const now = Date.now();
    if (!node || node.lastHeartbeat > now - timeoutMs) return false;
    if ((this.leases.get(nodeId) ?? 0) > now) return false;
    this.leases.set(nodeId, now + leaseMs);
    return true;
  }

  async remove(nodeId: string): Promise<void> {
    this.nodes.delete(nodeId);
    this.leases.delete(nodeId);
  }
}
