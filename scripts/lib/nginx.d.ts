/** Types of scripts/lib/nginx.js, for the TypeScript tests that use it. */
export interface NginxNode {
  host?: string;
  port: number;
}
export interface RenderOptions {
  nodes: NginxNode[];
  /** `host:port` the public server block listens on. */
  listen: string;
  workers?: number | string;
  /** A file for the access log; null or absent turns it off. */
  accessLog?: string | null;
  /** More listeners, each proxying only to its own nodes. */
  extraServers?: { listen: string; nodes: NginxNode[] }[];
  template?: string;
}
export function findNginx(): string | undefined;
export function renderNginxConf(options: RenderOptions): string;
export const TEMPLATE_PATH: string;
