/**
 * The Docker/nginx deployment files (docker-compose.cluster.yml, nginx.conf, .env.example, and
 * the monitoring profile's Prometheus and Grafana files under deploy/): their structure, a real
 * `docker compose config` and `promtool check config` where installed, and the real nginx, both
 * `nginx -t` and a live run in front of three stand-in nodes on 127.0.0.1.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type IncomingHttpHeaders, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Duplex } from "node:stream";
import { parse } from "yaml";
import { dashboardExpressions, dashboardMetricNames, metricNamesOf, readDashboard } from "../helpers/dashboard";
import { freePort, sleep } from "../helpers/ports";

const ROOT = resolve(__dirname, "../..");
const COMPOSE_FILE = "docker-compose.cluster.yml";
const NODES = ["node1", "node2", "node3"] as const;

/** PROTOCOL §1's variables, plus NODE_ENV (§7) and Node's own NODE_EXTRA_CA_CERTS (§1). */
const PROTOCOL_VARIABLES = new Set([
  "PORT", "HOST", "NODE_ID", "REDIS_URL", "REDIS_CLUSTER_NODES",
  "JWT_SECRET", "JWT_JWKS_URL", "JWT_ISSUER", "JWT_AUDIENCE",
  "CORS_ORIGINS", "MAX_CONNECTIONS", "MAX_DEVICES_PER_USER",
  "ROOM_MAX_SIZE", "ROOM_MAX_SIZE_LIMIT", "MAX_MESSAGE_BYTES",
  "HISTORY_SIZE", "HISTORY_TTL_S", "SESSION_TTL_S", "CONFLICT_STRATEGY",
  "HEARTBEAT_INTERVAL_MS", "HEARTBEAT_TIMEOUT_MS", "LOG_LEVEL",
  "RATE_LIMIT_POINTS", "RATE_LIMIT_DURATION_S", "REDIS_KEY_PREFIX",
  "NOTIFY_ACK_GRACE_MS", "NOTIFY_RETRY_ATTEMPTS", "NOTIFY_RETRY_DELAY_MS", "NOTIFY_CLAIM_IDLE_MS",
  "FCM_SERVICE_ACCOUNT", "FCM_API_URL",
  "APNS_KEY", "APNS_KEY_ID", "APNS_TEAM_ID", "APNS_TOPIC", "APNS_HOST", "APNS_PORT", "APNS_PRODUCTION",
  "VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY", "VAPID_SUBJECT",
  "ADMIN_UI", "ADMIN_UI_USERNAME", "ADMIN_UI_PASSWORD_HASH", "ADMIN_UI_MODE", "ADMIN_UI_READONLY",
  "NODE_ENV", "NODE_EXTRA_CA_CERTS",
]);

/** What the brief of .env.example promises to document. */
const DOCUMENTED = [
  "JWT_SECRET", "NODE_ENV", "LOG_LEVEL", "CORS_ORIGINS", "MAX_CONNECTIONS", "MAX_DEVICES_PER_USER",
  "HEARTBEAT_INTERVAL_MS", "HEARTBEAT_TIMEOUT_MS", "RATE_LIMIT_POINTS", "RATE_LIMIT_DURATION_S", "REDIS_KEY_PREFIX",
];

interface ComposeService {
  image?: string;
  profiles?: string[];
  command?: string | string[];
  environment?: Record<string, string | number | null> | string[];
  env_file?: string | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  restart?: string;
  healthcheck?: { test?: string | string[] };
  volumes?: string[];
  ports?: string[];
}
interface ComposeFile {
  version?: unknown;
  services: Record<string, ComposeService>;
}

const read = (file: string) => readFileSync(join(ROOT, file), "utf8");
const has = (bin: string) => spawnSync("sh", ["-c", `command -v ${bin}`]).status === 0;
const list = (value: string | string[] | undefined) => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

function environmentOf(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((entry) => [entry.split("=")[0]!, entry.slice(entry.indexOf("=") + 1)]));
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? "" : String(v)]));
}

function conditionsOf(service: ComposeService): Record<string, string | undefined> {
  const deps = service.depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((d) => [d, undefined]));
  return Object.fromEntries(Object.entries(deps).map(([name, dep]) => [name, dep.condition]));
}

/** KEY=value lines of an env file; anything else but comments and blanks is an error. */
function parseEnvFile(text: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!match) throw new Error(`.env.example line ${i + 1} is not VAR=value: ${raw}`);
    if (vars.has(match[1]!)) throw new Error(`.env.example sets ${match[1]} twice`);
    vars.set(match[1]!, match[2]!);
  }
  return vars;
}

/** nginx durations as seconds ("75s", "2m", "75"). */
function seconds(value: string): number {
  const match = /^(\d+)(ms|s|m|h)?$/.exec(value);
  if (!match) throw new Error(`not an nginx duration: ${value}`);
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600 }[match[2] ?? "s"]!;
  return Number(match[1]) * unit;
}

/** The body of the first `location <spec> { ... }` (these blocks hold no nested braces). */
function locationBlock(conf: string, spec: string): string {
  const escaped = spec.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  const match = new RegExp(`location\\s+${escaped}\\s*\\{([^{}]*)\\}`).exec(conf);
  if (!match) throw new Error(`nginx.conf has no location ${spec}`);
  return match[1]!;
}

function nginxBinary(): string | undefined {
  if (has("nginx")) return "nginx";
  // Non-root PATHs on Debian often lack /usr/sbin, where the package puts it.
  return ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"].find((p) => existsSync(p));
}

const compose = parse(read(COMPOSE_FILE), { merge: true }) as ComposeFile;
const envExample = parseEnvFile(read(".env.example"));
const nginxConf = read("nginx.conf");

describe(".env.example", () => {
  it("documents the cluster's settings, each a PROTOCOL §1 variable", () => {
    for (const name of envExample.keys()) expect([name, PROTOCOL_VARIABLES.has(name)]).toEqual([name, true]);
    for (const name of DOCUMENTED) expect([name, envExample.has(name)]).toEqual([name, true]);
  });

  it("leaves per-node settings to the compose file and says so", () => {
    for (const name of ["REDIS_URL", "NODE_ID", "PORT"]) expect(envExample.has(name)).toBe(false);
    expect(read(".env.example")).toMatch(/REDIS_URL, NODE_ID and PORT/);
  });

  it("ships a JWT_SECRET placeholder that a node refuses, and says how to make a real one", () => {
    // Under 32 bytes: a copied but unedited .env stops the nodes instead of running on a public secret.
    expect(Buffer.byteLength(envExample.get("JWT_SECRET") ?? "")).toBeLessThan(32);
    expect(read(".env.example")).toContain("openssl rand -base64 48");
  });

  it("is the template of a git-ignored .env", () => {
    expect(read(".gitignore").split("\n").map((l) => l.trim())).toContain(".env");
  });
});

describe("docker-compose.cluster.yml", () => {
  it("uses the Compose spec (no version key) with redis, three nodes and nginx, and monitoring under a profile", () => {
    expect(compose.version).toBeUndefined();
    const named = (keep: (service: ComposeService) => boolean) => Object.entries(compose.services).filter(([, service]) => keep(service)).map(([name]) => name).sort();
    expect(named((service) => service.profiles === undefined)).toEqual(["nginx", "node1", "node2", "node3", "redis"]);
    expect(named((service) => service.profiles !== undefined)).toEqual(["grafana", "prometheus"]);
    for (const name of ["grafana", "prometheus"]) expect([name, compose.services[name]!.profiles]).toEqual([name, ["monitoring"]]);
  });

  it("runs an ephemeral redis with a health check", () => {
    const redis = compose.services.redis!;
    expect(redis.image).toMatch(/^redis:7/);
    const command = list(redis.command).join(" ");
    expect(command).toMatch(/--save ("")?/);
    expect(command).toContain("--appendonly no");
    expect(list(redis.healthcheck?.test).join(" ")).toContain("redis-cli ping");
  });

  it.each(NODES)("%s joins the cluster through redis and reports readiness", (name) => {
    const node = compose.services[name]!;
    const env = environmentOf(node);
    expect(env.REDIS_URL).toMatch(/^redis:\/\/redis:6379/);
    expect(env.NODE_ID).toBe(name);
    expect(env.PORT).toBe("3000");
    expect(list(node.command).join(" ")).toContain("server/dist/main.js");
    expect(list(node.env_file)).toEqual([".env"]);
    expect(node.restart).toBe("unless-stopped");
    expect(conditionsOf(node)).toEqual({ redis: "service_healthy" });
    const check = list(node.healthcheck?.test).join(" ");
    expect(check).toContain("http://127.0.0.1:3000/health/ready");
    expect(check).not.toContain("curl");
    for (const key of Object.keys(env)) expect([key, PROTOCOL_VARIABLES.has(key)]).toEqual([key, true]);
  });

  it("gives every node a distinct NODE_ID", () => {
    const ids = NODES.map((name) => environmentOf(compose.services[name]!).NODE_ID);
    expect(new Set(ids).size).toBe(NODES.length);
  });

  it("starts nginx with nginx.conf once all nodes are healthy", () => {
    const nginx = compose.services.nginx!;
    expect(nginx.image).toMatch(/^nginx:/);
    expect(nginx.volumes).toContain("./nginx.conf:/etc/nginx/nginx.conf:ro");
    expect(nginx.ports).toContain("8080:8080");
    expect(nginx.restart).toBe("unless-stopped");
    expect(conditionsOf(nginx)).toEqual(Object.fromEntries(NODES.map((n) => [n, "service_healthy"])));
    // Its own health: readiness of a node, asked through nginx (busybox wget: no curl in alpine).
    expect(list(nginx.healthcheck?.test).join(" ")).toMatch(/wget .*http:\/\/127\.0\.0\.1:8080\/health\/ready/);
  });

  it("gives every service a health check and a restart policy", () => {
    for (const [name, service] of Object.entries(compose.services)) {
      expect([name, service.restart]).toEqual([name, "unless-stopped"]);
      expect([name, list(service.healthcheck?.test).length > 0]).toEqual([name, true]);
    }
  });

  it("interpolates only variables that .env.example provides", () => {
    // $$ is a literal dollar; ${VAR:-x} / ${VAR-x} carry their own default.
    const text = read(COMPOSE_FILE).replace(/\$\$/g, "");
    const refs = [...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g)];
    for (const ref of refs) {
      const [name, rest] = ref[1] ? [ref[1], ref[2] ?? ""] : [ref[3]!, ""];
      if (/^:?-/.test(rest)) continue;
      expect([name, envExample.has(name)]).toEqual([name, true]);
    }
  });

  it("is accepted by docker compose, where a client is installed", () => {
    const client = spawnSync("docker", ["compose", "version"], { stdio: "ignore" }).status === 0
      ? ["docker", "compose"]
      : has("docker-compose") ? ["docker-compose"] : undefined;
    if (!client) {
      console.log("docker compose / docker-compose not installed: `config -q` check not run");
      return;
    }
    // A copy, so the work tree's own .env (if any) is neither used nor touched.
    const dir = mkdtempSync(join(tmpdir(), "sb-compose-"));
    try {
      copyFileSync(join(ROOT, COMPOSE_FILE), join(dir, COMPOSE_FILE));
      copyFileSync(join(ROOT, "nginx.conf"), join(dir, "nginx.conf"));
      copyFileSync(join(ROOT, ".env.example"), join(dir, ".env"));
      for (const profile of [[], ["--profile", "monitoring"]]) {
        const run = spawnSync(client[0]!, [...client.slice(1), "-f", COMPOSE_FILE, ...profile, "config", "-q"], {
          cwd: dir,
          encoding: "utf8",
          timeout: 60000,
        });
        expect({ profile, status: run.status, output: `${run.stdout}${run.stderr}` }).toEqual({ profile, status: 0, output: expect.any(String) });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** `host:container[:mode]` bind mounts of a service, host paths relative to the repository. */
function bindMounts(service: ComposeService): Map<string, string> {
  return new Map(list(service.volumes).filter((v) => v.startsWith("./")).map((v) => [v.split(":")[1]!, v.split(":")[0]!]));
}

describe("monitoring profile (deploy/)", () => {
  const prometheus = compose.services.prometheus!;
  const grafana = compose.services.grafana!;
  const prometheusConf = parse(read("deploy/prometheus/prometheus.yml")) as {
    scrape_configs: { job_name: string; metrics_path?: string; static_configs: { targets: string[] }[] }[];
  };
  const datasources = parse(read("deploy/grafana/provisioning/datasources/prometheus.yml")) as {
    datasources: { uid: string; type: string; url: string; isDefault?: boolean }[];
  };
  const providers = parse(read("deploy/grafana/provisioning/dashboards/switchboard.yml")) as {
    providers: { type: string; options: { path: string } }[];
  };
  const dashboard = readDashboard();

  it("mounts files that exist in the repository", () => {
    for (const service of [prometheus, grafana]) {
      const mounts = bindMounts(service);
      expect(mounts.size).toBeGreaterThan(0);
      for (const host of mounts.values()) expect([host, existsSync(join(ROOT, host))]).toEqual([host, true]);
    }
    expect(bindMounts(prometheus).get("/etc/prometheus/prometheus.yml")).toBe("./deploy/prometheus/prometheus.yml");
    expect(bindMounts(grafana).get("/etc/grafana/provisioning")).toBe("./deploy/grafana/provisioning");
  });

  it("has Prometheus scrape /metrics of every node of the compose file, on the nodes' port", () => {
    const [job, ...others] = prometheusConf.scrape_configs;
    expect(others).toEqual([]);
    expect(job!.metrics_path ?? "/metrics").toBe("/metrics");
    const port = environmentOf(compose.services.node1!).PORT;
    expect(job!.static_configs.flatMap((c) => c.targets).sort()).toEqual(NODES.map((node) => `${node}:${port}`));
  });

  it("provisions Grafana with that Prometheus and the dashboard's directory", () => {
    const [source] = datasources.datasources;
    const port = /^127\.0\.0\.1:\d+:(\d+)$/.exec(list(prometheus.ports)[0] ?? "")?.[1];
    expect(source).toMatchObject({ type: "prometheus", url: `http://prometheus:${port}`, isDefault: true });
    const [provider] = providers.providers;
    expect(provider!.type).toBe("file");
    expect(bindMounts(grafana).get(provider!.options.path)).toBe("./deploy/grafana/dashboards");
    expect(environmentOf(grafana).GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBe(`${provider!.options.path}/switchboard.json`);
    expect(conditionsOf(grafana)).toEqual({ prometheus: "service_healthy" });
  });

  it("publishes Prometheus and Grafana on the loopback address only", () => {
    for (const service of [prometheus, grafana]) for (const port of list(service.ports)) expect(port).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
  });

  it("has a dashboard whose every panel queries the dashboard's Prometheus data source", () => {
    expect(dashboard.uid).toBe("switchboard");
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const source = dashboard.templating.list.find((v) => v.name === "datasource");
    expect(source).toMatchObject({ type: "datasource", query: "prometheus" });
    const panels = dashboard.panels.filter((p) => p.type !== "row");
    expect(panels.length).toBeGreaterThan(10);
    for (const panel of panels) {
      expect([panel.title, panel.datasource?.uid, panel.targets?.length]).toEqual([panel.title, "${datasource}", expect.any(Number)]);
      for (const target of panel.targets!) {
        expect([panel.title, target.datasource?.uid, metricNamesOf(target.expr).length > 0]).toEqual([panel.title, "${datasource}", true]);
      }
      // Panels tile a 24-column grid.
      expect(panel.gridPos.x + panel.gridPos.w).toBeLessThanOrEqual(24);
    }
  });

  it("charts what an operator watches", () => {
    const expressions = dashboardExpressions(dashboard);
    const queried = (pattern: RegExp) => expressions.some((expr) => pattern.test(expr));
    const watched: [string, RegExp][] = [
      ["connections", /switchboard_connected_sockets/],
      ["command rate per command", /sum by \(command\) \(rate\(switchboard_commands_total/],
      ["command p99 per command", /histogram_quantile\(0\.99, sum by \(command, le\) \(rate\(switchboard_command_duration_seconds_bucket/],
      ["publish rate", /rate\(switchboard_messages_published_total/],
      ["delivery rate", /rate\(switchboard_messages_delivered_total/],
      ["redis up", /switchboard_redis_up/],
      ["redis errors", /rate\(switchboard_redis_errors_total/],
      ["notification outcomes", /sum by \(channel, outcome\) \(rate\(switchboard_notifications_total/],
      ["event loop lag", /switchboard_nodejs_eventloop_lag_p99_seconds/],
    ];
    for (const [what, pattern] of watched) expect([what, queried(pattern)]).toEqual([what, true]);
    expect(dashboardMetricNames(dashboard).every((name) => name.startsWith("switchboard_"))).toBe(true);
  });

  it("is accepted by promtool, where installed", () => {
    if (!has("promtool")) {
      console.log("promtool not installed: `promtool check config` not run");
      return;
    }
    const run = spawnSync("promtool", ["check", "config", join(ROOT, "deploy/prometheus/prometheus.yml")], { encoding: "utf8", timeout: 30000 });
    expect({ status: run.status, output: `${run.stdout}${run.stderr}` }).toEqual({ status: 0, output: expect.stringContaining("SUCCESS") });
  });
});

describe("nginx.conf (text)", () => {
  it("has the top-level blocks and no user directive", () => {
    for (const directive of [/^worker_processes\s/m, /^pid\s/m, /^events\s*\{/m, /^http\s*\{/m]) expect(nginxConf).toMatch(directive);
    expect(nginxConf).not.toMatch(/^\s*user\s/m);
  });

  it("balances three nodes stickily and skips failing ones", () => {
    expect(nginxConf).toContain("hash $remote_addr consistent;");
    for (const node of NODES) expect(nginxConf).toMatch(new RegExp(`server\\s+${node}:3000\\s[^;]*max_fails=\\d+[^;]*fail_timeout=\\d+s`));
  });

  it("upgrades Socket.IO to WebSocket and outlasts its heartbeat", () => {
    const block = locationBlock(nginxConf, "/socket.io/");
    expect(block).toMatch(/proxy_http_version\s+1\.1;/);
    expect(block).toMatch(/proxy_set_header\s+Upgrade\s+\$http_upgrade;/);
    expect(block).toMatch(/proxy_set_header\s+Connection\s+\$connection_upgrade;/);
    expect(block).toMatch(/proxy_buffering\s+off;/);
    for (const header of ["Host", "X-Forwarded-For", "X-Forwarded-Proto"]) expect(block).toMatch(new RegExp(`proxy_set_header\\s+${header}\\s`));
    // A quiet socket must be ended by Socket.IO's ping (interval + timeout), never by nginx first.
    const heartbeatS = (Number(envExample.get("HEARTBEAT_INTERVAL_MS") ?? 25000) + Number(envExample.get("HEARTBEAT_TIMEOUT_MS") ?? 20000)) / 1000;
    for (const directive of ["proxy_read_timeout", "proxy_send_timeout"]) {
      const value = new RegExp(`${directive}\\s+(\\S+);`).exec(block)?.[1];
      expect([directive, value]).toEqual([directive, expect.any(String)]);
      expect(seconds(value!)).toBeGreaterThanOrEqual(Math.max(46, heartbeatS + 1));
    }
    expect(nginxConf).toMatch(/map\s+\$http_upgrade\s+\$connection_upgrade\s*\{/);
  });

  it("fails over passively: quick connect timeout, next node on connect errors only", () => {
    expect(nginxConf).toMatch(/proxy_connect_timeout\s+\d+s;/);
    expect(seconds(/proxy_connect_timeout\s+(\S+);/.exec(nginxConf)![1]!)).toBeLessThanOrEqual(10);
    // Never http_5xx or non_idempotent: a request that reached a node is not replayed elsewhere.
    expect(/proxy_next_upstream\s+([^;]+);/.exec(nginxConf)?.[1]?.split(/\s+/).sort()).toEqual(["error", "timeout"]);
  });

  it("keeps /metrics off the public side", () => {
    expect(locationBlock(nginxConf, "= /metrics").trim()).toBe("return 404;");
  });
});

/** Stand-in nodes: /health names the node, /metrics answers 200 (so a 404 proves nginx), upgrades echo. */
interface FakeNode {
  name: string;
  port: number;
  server: Server;
  seen: IncomingHttpHeaders[];
  ready: boolean;
  /** Upgraded sockets leave the HTTP server's bookkeeping; closed by hand at the end. */
  upgraded: Set<Duplex>;
}

async function startFakeNode(name: string): Promise<FakeNode> {
  const port = await freePort();
  const node: FakeNode = { name, port, server: createServer(), seen: [], ready: true, upgraded: new Set() };
  node.server.on("request", (req, res) => {
    node.seen.push(req.headers);
    const path = (req.url ?? "/").split("?")[0]!;
    const json = (status: number, body: object) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    if (path === "/health") json(200, { status: "ok", nodeId: name });
    else if (path === "/health/ready") json(node.ready ? 200 : 503, { status: node.ready ? "ready" : "unavailable", nodeId: name });
    else if (path.toLowerCase().replace(/\/$/, "") === "/metrics") res.writeHead(200).end("switchboard_connected_sockets 0\n");
    else json(200, { nodeId: name, path });
  });
  node.server.on("upgrade", (req, socket) => {
    node.seen.push(req.headers);
    socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    node.upgraded.add(socket);
    socket.on("data", (chunk: Buffer) => socket.write(`${name}:${chunk.toString()}`));
    // HTTP servers allow half-open sockets: end our side when nginx ends its side.
    socket.on("end", () => socket.end());
    socket.on("error", () => socket.destroy());
    socket.on("close", () => node.upgraded.delete(socket));
  });
  await new Promise<void>((done) => node.server.listen(port, "127.0.0.1", done));
  return node;
}

interface Reply {
  status: number;
  body: string;
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((done, fail) => {
    const req = request({ host: "127.0.0.1", port, path, headers, agent: false, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => done({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on("error", fail);
    req.end();
  });
}

/** Opens an upgraded connection through nginx, sends `message`, returns the first echo. */
function upgradeEcho(port: number, message: string): Promise<string> {
  return new Promise((done, fail) => {
    const req = request({
      host: "127.0.0.1",
      port,
      path: "/socket.io/?EIO=4&transport=websocket",
      headers: { Connection: "Upgrade", Upgrade: "websocket" },
      agent: false,
      timeout: 5000,
    });
    req.on("upgrade", (_res, socket) => {
      socket.once("data", (chunk: Buffer) => {
        socket.destroy();
        done(chunk.toString());
      });
      socket.write(message);
    });
    req.on("response", (res) => fail(new Error(`no upgrade: HTTP ${res.statusCode}`)));
    req.on("timeout", () => req.destroy(new Error("upgrade timed out")));
    req.on("error", fail);
    req.end();
  });
}

describe("nginx.conf with the real nginx", () => {
  const nginx = nginxBinary();
  const nodes: FakeNode[] = [];
  let prefix = "";
  let confPath = "";
  let listenPort = 0;
  let logPath = "";
  let master: ChildProcess | undefined;

  beforeAll(async () => {
    for (const name of NODES) nodes.push(await startFakeNode(name));
    listenPort = await freePort();
    // A private prefix, so pid, temp dirs and the rendered config never meet another run.
    prefix = mkdtempSync(join(tmpdir(), "sb-nginx-"));
    // Workers drop to nobody when the master runs as root; they must reach the temp dirs.
    chmodSync(prefix, 0o755);
    let rendered = nginxConf
      .replace(/^worker_processes\s+\S+;/m, "worker_processes 1;")
      .replace(/^(\s*)listen\s+8080;/m, `$1listen 127.0.0.1:${listenPort};`);
    for (const node of nodes) rendered = rendered.replace(new RegExp(`server\\s+${node.name}:3000`), `server 127.0.0.1:${node.port}`);
    expect(rendered).not.toMatch(/node\d:3000|listen\s+8080/);
    confPath = join(prefix, "nginx.conf");
    writeFileSync(confPath, rendered);
    logPath = join(prefix, "output.log");
  });

  /** nginx's stdout must be a file: `access_log /dev/stdout` cannot open a socket (node's pipes). */
  function withLogFile<T>(run: (fd: number) => T): T {
    const fd = openSync(logPath, "a");
    try {
      return run(fd);
    } finally {
      closeSync(fd);
    }
  }
  const nginxOutput = () => (existsSync(logPath) ? readFileSync(logPath, "utf8") : "");

  afterAll(async () => {
    if (master && master.exitCode === null && master.signalCode === null) {
      const exited = new Promise<void>((done) => master!.once("exit", () => done()));
      master.kill("SIGTERM"); // fast shutdown: the master stops its workers, then exits
      const timer = setTimeout(() => master?.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    for (const node of nodes) {
      node.server.closeAllConnections();
      for (const socket of node.upgraded) socket.destroy();
      await new Promise<void>((done) => node.server.close(() => done()));
    }
    if (prefix) rmSync(prefix, { recursive: true, force: true });
  });

  function requireNginx(): string {
    if (!nginx) throw new Error("nginx is not installed; the deployment tests need it: apt-get install -y nginx");
    return nginx;
  }

  it("passes nginx -t with a relative prefix and no root paths", () => {
    const run = withLogFile((fd) =>
      spawnSync(requireNginx(), ["-t", "-c", confPath, "-p", `${prefix}/`, "-e", "stderr"], {
        stdio: ["ignore", fd, "pipe"],
        encoding: "utf8",
        timeout: 10000,
      }),
    );
    expect({ status: run.status, output: run.stderr }).toEqual({ status: 0, output: expect.stringContaining("test is successful") });
  });

  it("proxies to the nodes stickily, upgrades sockets and hides /metrics", async () => {
    const bin = requireNginx();
    // In the foreground, so the child is the master and afterAll can stop it by its pid.
    master = withLogFile((fd) => spawn(bin, ["-c", confPath, "-p", `${prefix}/`, "-e", "stderr", "-g", "daemon off;"], { stdio: ["ignore", fd, fd] }));
    for (const deadline = Date.now() + 10000; ; await sleep(100)) {
      if (master.exitCode !== null) throw new Error(`nginx exited with ${master.exitCode}:\n${nginxOutput()}`);
      const up = await get(listenPort, "/health").then((r) => r.status === 200, () => false);
      if (up) break;
      if (Date.now() > deadline) throw new Error(`nginx did not answer /health within 10 s:\n${nginxOutput()}`);
    }

    // One client address, one node: the same node answers every time.
    const answers: string[] = [];
    for (let i = 0; i < 5; i++) {
      const reply = await get(listenPort, "/health");
      expect(reply.status).toBe(200);
      answers.push((JSON.parse(reply.body) as { nodeId: string }).nodeId);
    }
    expect(new Set(answers).size).toBe(1);
    const sticky = nodes.find((n) => n.name === answers[0])!;
    expect(sticky).toBeDefined();

    expect(await get(listenPort, "/health/ready")).toMatchObject({ status: 200 });
    for (const path of ["/metrics", "/metrics?x=1", "/METRICS", "/metrics/", "//metrics"]) {
      expect([path, (await get(listenPort, path)).status]).toEqual([path, 404]);
    }
    // The stand-ins would have answered 200: the 404s are nginx's own.
    expect((await get(sticky.port, "/metrics")).status).toBe(200);

    // Long-polling request: forwarded headers reach the node.
    sticky.seen.length = 0;
    const poll = await get(listenPort, "/socket.io/?EIO=4&transport=polling", { Host: "switchboard.test" });
    expect(poll.status).toBe(200);
    expect(sticky.seen[0]).toMatchObject({
      host: "switchboard.test",
      "x-forwarded-for": "127.0.0.1",
      "x-forwarded-proto": "http",
      connection: "close",
    });

    // WebSocket-style upgrade is passed through and stays on the same node.
    expect(await upgradeEcho(listenPort, "ping")).toBe(`${sticky.name}:ping`);
    expect(sticky.seen.at(-1)).toMatchObject({ upgrade: "websocket", connection: "upgrade" });
  });

  it("has a node health check that follows /health/ready", async () => {
    // Runs the compose file's own `node -e` check against a stand-in node (its port, not 3000).
    // Asynchronously: the stand-in lives in this process and must keep answering.
    const [kind, bin, flag, code] = list(compose.services.node1!.healthcheck?.test);
    expect([kind, bin, flag]).toEqual(["CMD", "node", "-e"]);
    const node = nodes[0]!;
    const check = () =>
      new Promise<number | null>((done) => {
        const child = spawn(process.execPath, ["-e", code!.replace("127.0.0.1:3000", `127.0.0.1:${node.port}`)], {
          stdio: "ignore",
          timeout: 10000,
        });
        child.on("exit", (status) => done(status));
      });
    node.ready = true;
    expect(await check()).toBe(0);
    node.ready = false;
    expect(await check()).toBe(1);
    node.ready = true;
  });
});
