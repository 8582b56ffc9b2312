"use strict";
/**
 * Collaborative documents benchmark (`npm run bench`, or BENCH_SUITES=docs): 10 editors on ONE text
 * document over 3 Switchboard nodes (child processes of server/dist/main.js) sharing one
 * redis-server, everything on 127.0.0.1 and free ports.
 *
 * Each editor is a real OT client (ot-text-unicode): one op in flight, later edits composed while
 * it travels, remote ops transformed against its own unacknowledged ones. Two phases, each bounded
 * in time (warm-up + measured window + drain):
 *   - saturate: service tokens (exempt from the per-socket op limit); every editor submits its next
 *     edit as soon as the previous op is acknowledged: the most ops/s one document takes.
 *   - paced: user tokens, each editor typing BENCH_DOC_RATE edits/s (default 20, under the limit of
 *     50 ops/s per connection): latency at a human-ish load.
 * Reported per phase: ops/s accepted, op round trip (submit -> ack) p50/p99, submit -> receipt by
 * the other editors p50/p99, append retries (another node appended first), and whether every
 * editor ended with the server's snapshot.
 *
 * Env knobs: BENCH_DOC_MS (measured window per phase, default 10000), BENCH_WARMUP_MS (default 1000),
 * BENCH_DOC_RATE (edits/s per editor in the paced phase, default 20), BENCH_DOC_PHASES (default
 * "saturate,paced"), BENCH_DOC_NODES / BENCH_DOC_EDITORS (default 3 / 10). Output: tables on
 * stdout and bench/results-docs.json.
 */
const { rmSync, writeFileSync } = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { type: text, insert, remove } = require("ot-text-unicode");
const { createProgress } = require("../scripts/progress");

const NODES = Number(process.env.BENCH_DOC_NODES || 3);
const EDITORS = Number(process.env.BENCH_DOC_EDITORS || 10);
const WINDOW_MS = Number(process.env.BENCH_DOC_MS || 10000);
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS || 1000);
const DRAIN_MS = 3000;
const PACED_RATE = Number(process.env.BENCH_DOC_RATE || 20);
const PHASES = (process.env.BENCH_DOC_PHASES || "saturate,paced").split(",").map((s) => s.trim()).filter(Boolean);
const GLOBAL_TIMEOUT_MS = 4 * 60 * 1000;
const MAX_DOC_CHARS = 20000; // editors delete when the text grows past this, so it stays small

const { SECRET, sockets, killAll, limitRun, sleep, stopChild, startRedis, startNodes, token, connect, percentile, rest } = require("./lib");

limitRun(GLOBAL_TIMEOUT_MS);
const progress = createProgress({ label: "docs" });

function startCluster(redisUrl) {
  return startNodes(NODES, (i) => ({
    nodeId: `docs-${i + 1}`,
    env: { REDIS_URL: redisUrl, JWT_SECRET: SECRET, LOG_LEVEL: "warn", RATE_LIMIT_POINTS: "1000000" },
  }));
}

const round = (n) => (Number.isFinite(n) ? Math.round(n * 100) / 100 : null);

// ---------------------------------------------------------------------------------------------
// an OT editor: one op in flight, pending edits composed, remote ops transformed and applied in order

class Editor {
  constructor(socket, docId, name, stats) {
    this.socket = socket;
    this.docId = docId;
    this.name = name;
    this.stats = stats;
    this.version = 0;
    this.text = "";
    this.inflight = undefined;
    this.pending = undefined;
    this.ownAt = undefined;
    this.buffer = new Map();
    this.seq = 0;
    this.errors = [];
    socket.on("doc:op", (e) => {
      if (e.docId !== docId) return;
      const sent = stats.sentAt.get(e.clientOpId);
      if (sent !== undefined && stats.measuring) stats.receipt.push(performance.now() - sent);
      if (e.version > this.version) {
        this.buffer.set(e.version, e);
        this.drain();
      }
    });
  }

  async open() {
    const res = await this.socket.timeout(10000).emitWithAck("doc:open", { docId: this.docId });
    if (!res.ok) throw new Error(`doc:open: ${JSON.stringify(res.error)}`);
    this.version = res.version;
    this.text = res.snapshot;
  }

  get busy() {
    return this.inflight !== undefined || this.pending !== undefined || this.buffer.size > 0;
  }

  /** A random insert (or a delete when the text is long). */
  edit() {
    const length = [...this.text].length;
    const at = Math.floor(Math.random() * (length + 1));
    const op = length > MAX_DOC_CHARS ? remove(Math.min(at, length - 8), 8) : insert(at, `${this.name}${this.seq % 10} `);
    this.text = text.apply(this.text, op);
    this.pending = this.pending === undefined ? op : text.compose(this.pending, op);
    this.flush();
  }

  flush() {
    if (this.inflight || this.pending === undefined) return;
    this.inflight = { op: this.pending, clientOpId: `${this.name}-${++this.seq}` };
    this.pending = undefined;
    this.send();
  }

  send() {
    const sent = this.inflight;
    const t0 = performance.now();
    this.stats.sentAt.set(sent.clientOpId, t0);
    this.socket
      .timeout(10000)
      .emitWithAck("doc:op", { docId: this.docId, version: this.version, op: sent.op, clientOpId: sent.clientOpId })
      .then(
        (res) => {
          if (!this.inflight || this.inflight.clientOpId !== sent.clientOpId) return;
          if (!res.ok) {
            if (res.error.code === "RATE_LIMITED") {
              this.stats.rateLimited++;
              setTimeout(() => this.inflight && this.inflight.clientOpId === sent.clientOpId && this.send(), res.error.details.retryAfterMs + 1);
            } else this.errors.push(res.error);
            return;
          }
          this.stats.ops++;
          if (this.stats.measuring) {
            this.stats.acked++;
            this.stats.rtt.push(performance.now() - t0);
          }
          this.ownAt = res.version;
          this.drain();
        },
        (err) => this.errors.push({ code: "TIMEOUT", message: err.message }),
      );
  }

  drain() {
    for (;;) {
      const next = this.version + 1;
      if (this.ownAt === next) {
        this.version = next;
        this.inflight = this.ownAt = undefined;
        this.stats.onAck(this);
        this.flush();
        continue;
      }
      const entry = this.buffer.get(next);
      if (!entry) return;
      this.buffer.delete(next);
      let op = entry.op;
      if (this.inflight) {
        const mine = this.inflight.op;
        this.inflight.op = text.transform(mine, op, "left");
        op = text.transform(op, mine, "right");
      }
      if (this.pending !== undefined) {
        const mine = this.pending;
        this.pending = text.transform(mine, op, "left");
        op = text.transform(op, mine, "right");
      }
      this.text = text.apply(this.text, op);
      this.version = next;
    }
  }
}

async function retries(nodes) {
  let total = 0;
  for (const node of nodes) {
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    for (const line of metrics.split("\n")) if (line.startsWith("switchboard_doc_append_retries_total")) total += Number(line.split(" ").pop());
  }
  return total;
}

async function runPhase(phase, nodes, workspace, svcToken, position) {
  const docId = `workspace:${workspace}/${phase}.txt`;
  const stats = { measuring: false, ops: 0, acked: 0, rtt: [], receipt: [], sentAt: new Map(), rateLimited: 0, onAck: () => undefined };
  const service = phase === "saturate";
  const editors = [];
  for (let i = 0; i < EDITORS; i++) {
    const auth = { token: await token(service ? `bench-agent-${i}` : `bench-user-${i}`, service ? ["service"] : undefined), deviceId: `ed${i}` };
    const socket = await connect(nodes[i % NODES].url, auth);
    const editor = new Editor(socket, docId, String.fromCharCode(65 + i), stats);
    await editor.open();
    editors.push(editor);
  }
  progress.step(`${phase} phase`, { ...position, count: () => stats.ops, unit: "ops accepted" });
  let running = true;
  if (service) {
    // Closed loop: the next edit as soon as the previous op is acknowledged.
    stats.onAck = (editor) => running && !editor.pending && editor.edit();
    for (const e of editors) e.edit();
  } else {
    const timers = editors.map((e, i) =>
      setTimeout(function tick() {
        if (!running) return;
        e.edit();
        timers[i] = setTimeout(tick, 1000 / PACED_RATE);
      }, Math.random() * (1000 / PACED_RATE)),
    );
  }
  const retriesBefore = await retries(nodes);
  await sleep(WARMUP_MS);
  stats.measuring = true;
  const started = performance.now();
  await sleep(WINDOW_MS);
  stats.measuring = false;
  const seconds = (performance.now() - started) / 1000;
  running = false;
  const drainDeadline = Date.now() + DRAIN_MS * 3;
  while (editors.some((e) => e.busy) && Date.now() < drainDeadline) await sleep(20);
  await sleep(200);

  const server = (await rest(nodes[1 % nodes.length].url, "GET", `/v1/docs/${encodeURIComponent(docId)}`, undefined, svcToken)).body;
  const converged = editors.every((e) => e.version === server.version && e.text === server.snapshot);
  const rtt = stats.rtt.sort((a, b) => a - b);
  const receipt = stats.receipt.sort((a, b) => a - b);
  const result = {
    phase,
    tokens: service ? "service (no per-socket op limit)" : `user (${PACED_RATE} edits/s each)`,
    editors: EDITORS,
    nodes: NODES,
    windowS: round(seconds),
    opsAccepted: stats.acked,
    opsPerSecond: round(stats.acked / seconds),
    rttP50Ms: round(percentile(rtt, 50)),
    rttP99Ms: round(percentile(rtt, 99)),
    receiptP50Ms: round(percentile(receipt, 50)),
    receiptP99Ms: round(percentile(receipt, 99)),
    receipts: receipt.length,
    appendRetries: (await retries(nodes)) - retriesBefore,
    rateLimited: stats.rateLimited,
    finalVersion: server.version,
    finalChars: [...server.snapshot].length,
    converged,
    errors: editors.flatMap((e) => e.errors).slice(0, 5),
  };
  for (const e of editors) e.socket.disconnect();
  progress.end(`converged: ${converged}`);
  return result;
}

function print(results) {
  const cols = ["phase", "opsPerSecond", "rttP50Ms", "rttP99Ms", "receiptP50Ms", "receiptP99Ms", "appendRetries", "rateLimited", "finalVersion", "converged"];
  console.log(`\n${cols.join("\t")}`);
  for (const r of results) console.log(cols.map((c) => String(r[c])).join("\t"));
}

async function main() {
  console.log(`docs bench: ${EDITORS} editors on one document over ${NODES} nodes, ${WINDOW_MS} ms per phase (${PHASES.join(", ")})`);
  const redis = await startRedis();
  const nodes = await startCluster(redis.url);
  const svcToken = await token("bench-svc", ["service"]);
  const workspace = `bench-${Date.now().toString(36)}`;
  const members = Array.from({ length: EDITORS }, (_, i) => `bench-user-${i}`);
  const created = await rest(nodes[0].url, "POST", "/v1/workspaces", { id: workspace, name: "docs bench", members }, svcToken);
  if (created.status !== 201) throw new Error(`workspace: ${JSON.stringify(created.body)}`);

  const results = [];
  for (const [i, phase] of PHASES.entries()) {
    if (phase !== "saturate" && phase !== "paced") throw new Error(`unknown phase ${phase}`);
    const result = await runPhase(phase, nodes, workspace, svcToken, { index: i + 1, of: PHASES.length });
    results.push(result);
    console.log(
      `${phase}: ${result.opsPerSecond} ops/s accepted (${result.opsAccepted} in ${result.windowS}s); round trip p50 ${result.rttP50Ms} ms, p99 ${result.rttP99Ms} ms; ` +
        `receipt by the other editors p50 ${result.receiptP50Ms} ms, p99 ${result.receiptP99Ms} ms; ${result.appendRetries} append retries; converged: ${result.converged}`,
    );
    if (result.errors.length > 0) console.log(`${phase}: errors ${JSON.stringify(result.errors)}`);
  }
  print(results);

  const out = {
    suite: "docs",
    at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0] && os.cpus()[0].model, node: process.version },
    settings: { editors: EDITORS, nodes: NODES, windowMs: WINDOW_MS, warmupMs: WARMUP_MS, pacedRate: PACED_RATE },
    results,
  };
  writeFileSync(path.join(__dirname, "results-docs.json"), `${JSON.stringify(out, null, 2)}\n`);
  console.log("\nwrote bench/results-docs.json");

  for (const s of sockets) s.disconnect();
  sockets.length = 0;
  await Promise.all(nodes.map((n) => stopChild(n.child)));
  await stopChild(redis.child);
  rmSync(redis.dir, { recursive: true, force: true });
  if (results.some((r) => !r.converged)) process.exit(1);
}

main().catch((err) => {
  console.error("bench failed:", err);
  killAll();
  process.exit(1);
});
