"use strict";
/**
 * `npm run bench` (BENCH_SUITES=leaderboard): live leaderboard score updates against 1000
 * subscribers, and the broadcasts they cause.
 *
 * Its own redis-server on a free port, 3 Switchboard nodes (server/dist/main.js) on 127.0.0.1,
 * 1000 subscribers (one user each) spread round-robin over the nodes, all following one
 * leaderboard (`leaderboard:subscribe { top: 10 }`). Score writers increment random users'
 * scores (10 000 users) at stepped rates, first through the emitter (@switchboard/emitter, straight
 * into Redis), then through REST (`POST /v1/leaderboards/:id/scores`, spread over the nodes, at most
 * 64 requests open at once; queued writes count as backlog). Every
 * step is bounded in time (warm-up + measured window + drain) and aborted early when the write
 * backlog explodes; higher steps of that path are then skipped.
 *
 * Per step: score updates/s sustained (acked writes in the window), broadcasts/s (distinct
 * `leaderboard:update`s, cluster-wide) and deliveries/s (updates received by all subscribers), the
 * closest two consecutive updates were computed (must be >= the interval), the delivery delay of an
 * update (receipt - its `ts`), and whether every subscriber's view (its subscribe answer with every
 * update applied) equals the live top 10 read over REST after the step.
 *
 * Env knobs: BENCH_LB_EMITTER_RATES (scores/s, default 1000,2000,4000,8000,16000),
 * BENCH_LB_REST_RATES (default 500,1000,2000,4000), BENCH_STEP_MS (default 5000),
 * BENCH_WARMUP_MS (default 1000), BENCH_DRAIN_MS (default 1500), BENCH_LB_SUBSCRIBERS (default 1000),
 * BENCH_LB_INTERVAL_MS (the nodes' LEADERBOARD_UPDATE_INTERVAL_MS, default 250).
 * Output: tables on stdout and bench/results-leaderboard.json.
 */
const { rmSync, writeFileSync } = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { createProgress } = require("../scripts/progress");

const NODES = 3;
const SUBSCRIBERS = Number(process.env.BENCH_LB_SUBSCRIBERS || 1000);
const USERS = 10_000;
const TOP = 10;
const INTERVAL_MS = Number(process.env.BENCH_LB_INTERVAL_MS || 250);
const list = (v, d) => (v || d).split(",").map(Number).filter((n) => n > 0);
const EMITTER_RATES = list(process.env.BENCH_LB_EMITTER_RATES, "1000,2000,4000,8000,16000");
const REST_RATES = list(process.env.BENCH_LB_REST_RATES, "500,1000,2000,4000");
const STEP_MS = Number(process.env.BENCH_STEP_MS || 5000);
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS || 1000);
const DRAIN_MS = Number(process.env.BENCH_DRAIN_MS || 1500);
const TICK_MS = 5;
const REST_IN_FLIGHT = 64; // REST requests open at once (keep-alive connections); the rest queue, and count as backlog
const MAX_PER_TICK = 400; // bounds each timer tick's burst
const GLOBAL_TIMEOUT_MS = 8 * 60 * 1000;

const { ROOT, SECRET, sockets, limitRun, sleep, stopChild, startRedis, startNodes, token, connect, ack, inBatches, percentile, runMain } = require("./lib");

limitRun(GLOBAL_TIMEOUT_MS);
const progress = createProgress({ label: "leaderboard" });

function startCluster(redisUrl) {
  return startNodes(NODES, (i) => ({
    nodeId: `lb-bench-${i + 1}`,
    env: {
      REDIS_URL: redisUrl,
      JWT_SECRET: SECRET,
      LOG_LEVEL: "warn",
      RATE_LIMIT_POINTS: "1000000",
      LEADERBOARD_UPDATE_INTERVAL_MS: String(INTERVAL_MS),
    },
  }));
}

function round(n, d = 0) {
  if (!Number.isFinite(n)) return null;
  const f = 10 ** d;
  return Math.round(n * f) / f;
}

async function metricSum(nodes, name) {
  let total = 0;
  for (const node of nodes) {
    const text = await (await fetch(`${node.url}/metrics`)).text();
    for (const line of text.split("\n")) {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
      if (m && m[1] === name) total += Number(m[3]);
    }
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// a subscriber's view: its subscribe answer with every update applied in seq order (an update
// that arrives before its predecessor waits for it, as a client would; what still waits at the end
// of a step is a gap)

class View {
  constructor(answer) {
    this.rows = new Map(answer.top.map((e) => [e.userId, { rank: e.rank, score: e.score }]));
    this.seq = answer.seq;
    this.waiting = new Map();
    this.reordered = 0;
  }

  get gaps() {
    return this.waiting.size;
  }

  apply(u) {
    if (u.seq <= this.seq) return;
    if (u.seq !== this.seq + 1) {
      this.reordered++;
      this.waiting.set(u.seq, u);
      return;
    }
    for (let next = u; next; next = this.waiting.get(this.seq + 1)) {
      this.waiting.delete(next.seq);
      this.seq = next.seq;
      for (const c of next.changes) this.rows.set(c.userId, { rank: c.rank, score: c.score });
      for (const id of next.removed) this.rows.delete(id);
    }
  }

  top() {
    return [...this.rows]
      .filter(([, e]) => e.rank <= TOP)
      .sort((a, b) => a[1].rank - b[1].rank)
      .map(([userId, e]) => `${e.rank}:${userId}:${e.score}`)
      .join(",");
  }
}

// ---------------------------------------------------------------------------------------------

async function main() {
  console.log(
    `leaderboard bench: ${NODES} nodes, ${SUBSCRIBERS} subscribers of one leaderboard (top ${TOP}), ${USERS} users scored, ` +
      `update interval ${INTERVAL_MS} ms; emitter rates ${EMITTER_RATES.join(", ")}/s, REST rates ${REST_RATES.join(", ")}/s; ` +
      `${WARMUP_MS} ms warm-up + ${STEP_MS} ms measured + <=${DRAIN_MS} ms drain per step; ${os.cpus().length} CPUs`,
  );
  const started = Date.now();
  const redis = await startRedis();
  const nodes = await startCluster(redis.url);
  const runId = Date.now().toString(36);
  const board = `bench-${runId}`;
  const svc = await token("bench-svc", ["service"]);
  const { SwitchboardEmitter } = require(path.join(ROOT, "emitter-client"));
  const emitter = new SwitchboardEmitter({ redis: redis.url });

  // measurement state, shared by every subscriber's handler
  const state = { windowOpen: false, deliveries: 0, seqs: new Map(), delays: [], writes: 0 };
  const views = [];
  const subs = await inBatches(Array.from({ length: SUBSCRIBERS }, (_, i) => i), 50, async (i) => {
    const s = await connect(nodes[i % NODES].url, { token: await token(`bench-sub-${runId}-${i}`), deviceId: "bench" });
    const pending = [];
    let view;
    s.on("leaderboard:update", (u) => {
      if (view) view.apply(u);
      else pending.push(u);
      if (!state.windowOpen) return;
      state.deliveries++;
      if (!state.seqs.has(u.seq)) state.seqs.set(u.seq, u.ts);
      if (i % 10 === 0) state.delays.push(Date.now() - u.ts);
    });
    view = new View(await ack(s, "leaderboard:subscribe", { id: board, top: TOP }));
    for (const u of pending.sort((a, b) => a.seq - b.seq)) view.apply(u);
    views.push(view);
    return s;
  });
  console.log(`${subs.length} subscribers connected over ${NODES} nodes`);

  let restTurn = 0;
  let restOpen = 0;
  const restQueue = [];
  const restSlot = () => (restOpen < REST_IN_FLIGHT ? (restOpen++, Promise.resolve()) : new Promise((resolve) => restQueue.push(resolve)));
  const restDone = () => {
    const next = restQueue.shift();
    if (next) next();
    else restOpen--;
  };
  const writers = {
    emitter: (userId, inc) => emitter.leaderboard(board).score(userId, { inc }),
    rest: async (userId, inc) => {
      await restSlot();
      try {
        await restWrite(userId, inc);
      } finally {
        restDone();
      }
    },
  };
  const restWrite = async (userId, inc) => {
    const node = nodes[restTurn++ % NODES];
    const res = await fetch(`${node.url}/v1/leaderboards/${board}/scores`, {
      method: "POST",
      headers: { authorization: `Bearer ${svc}`, "content-type": "application/json" },
      body: JSON.stringify({ userId, inc }),
    });
    if (!res.ok) throw new Error(`REST ${res.status}`);
    await res.arrayBuffer();
  };

  const results = { emitter: [], rest: [] };
  for (const [path_, rates] of [
    ["emitter", EMITTER_RATES],
    ["rest", REST_RATES],
  ]) {
    for (const [i, rate] of rates.entries()) {
      progress.step(`${path_} ${rate} scores/s`, { index: i + 1, of: rates.length, count: () => state.writes, unit: "score writes" });
      const step = await runStep({ path: path_, rate, write: writers[path_], state, nodes, views, board, svc });
      progress.end(step.aborted ? `aborted: ${step.aborted}` : undefined);
      results[path_].push(step);
      console.log(stepLine(path_, step));
      if (step.aborted) {
        console.log(`${path_}: step ${rate}/s aborted (${step.aborted}); skipping higher rates`);
        break;
      }
    }
  }

  console.log(`\n=== results (${((Date.now() - started) / 1000).toFixed(0)} s) ===`);
  printHeader();
  for (const p of ["emitter", "rest"]) for (const s of results[p]) console.log(stepLine(p, s));
  const best = (p) => results[p].filter((s) => !s.aborted && s.viewsOk).reduce((m, s) => (m && m.scoresPerSec >= s.scoresPerSec ? m : s), null);
  const summary = {
    interval: INTERVAL_MS,
    subscribers: SUBSCRIBERS,
    maxBroadcastsPerSecAllowed: round(1000 / INTERVAL_MS, 2),
    emitter: best("emitter") && { scoresPerSec: best("emitter").scoresPerSec, broadcastsPerSec: best("emitter").broadcastsPerSec, deliveriesPerSec: best("emitter").deliveriesPerSec },
    rest: best("rest") && { scoresPerSec: best("rest").scoresPerSec, broadcastsPerSec: best("rest").broadcastsPerSec, deliveriesPerSec: best("rest").deliveriesPerSec },
  };
  console.log(
    `\nsustained (highest step not aborted, every view correct): emitter ${summary.emitter ? summary.emitter.scoresPerSec : "-"} scores/s, ` +
      `REST ${summary.rest ? summary.rest.scoresPerSec : "-"} scores/s; broadcasts stay <= ${summary.maxBroadcastsPerSecAllowed}/s ` +
      `(one per ${INTERVAL_MS} ms) whatever the rate, each delivered to ${SUBSCRIBERS} subscribers`,
  );

  writeFileSync(
    path.join(__dirname, "results-leaderboard.json"),
    JSON.stringify(
      {
        when: new Date().toISOString(),
        config: { nodes: NODES, subscribers: SUBSCRIBERS, users: USERS, top: TOP, intervalMs: INTERVAL_MS, emitterRates: EMITTER_RATES, restRates: REST_RATES, stepMs: STEP_MS, warmupMs: WARMUP_MS, drainMs: DRAIN_MS, cpus: os.cpus().length },
        results,
        summary,
      },
      null,
      2,
    ) + "\n",
  );
  console.log("results written to bench/results-leaderboard.json");

  await emitter.close();
  for (const s of sockets) s.disconnect();
  sockets.length = 0;
  for (const node of nodes) await stopChild(node.child);
  await stopChild(redis.child);
  rmSync(redis.dir, { recursive: true, force: true });
}

async function runStep({ path: writePath, rate, write, state, nodes, views, board, svc }) {
  const counters = { sent: 0, acked: 0, failed: 0, outstanding: 0, maxOutstanding: 0 };
  let measuring = false;
  let aborted = null;

  const writeOne = () => {
    const counted = measuring;
    if (counted) counters.sent++;
    state.writes++;
    counters.outstanding++;
    if (counters.outstanding > counters.maxOutstanding) counters.maxOutstanding = counters.outstanding;
    const userId = `user-${Math.floor(Math.random() * USERS)}`;
    write(userId, 1 + Math.floor(Math.random() * 10)).then(
      () => {
        counters.outstanding--;
        if (counted) counters.acked++;
      },
      () => {
        counters.outstanding--;
        if (counted) counters.failed++;
      },
    );
  };

  const runPhase = (durationMs) =>
    new Promise((resolve) => {
      const t0 = performance.now();
      let sentHere = 0;
      let lastCheck = t0;
      const tick = () => {
        const now = performance.now();
        const elapsed = now - t0;
        const due = Math.min(Math.floor((rate * Math.min(elapsed, durationMs)) / 1000), Math.ceil((rate * durationMs) / 1000));
        let n = 0;
        while (sentHere < due && n < MAX_PER_TICK) {
          writeOne();
          sentHere++;
          n++;
        }
        if (now - lastCheck >= 250) {
          lastCheck = now;
          if (counters.outstanding > Math.max(1000, rate)) aborted = `${counters.outstanding} writes awaiting an answer`;
        }
        if (aborted || elapsed >= durationMs) resolve();
        else setTimeout(tick, TICK_MS);
      };
      tick();
    });

  const broadcastsBefore = await metricSum(nodes, "switchboard_leaderboard_broadcasts_total");
  await runPhase(WARMUP_MS);
  let windowMs = 0;
  if (!aborted) {
    state.deliveries = 0;
    state.seqs = new Map();
    state.delays = [];
    state.windowOpen = true;
    measuring = true;
    const t0 = performance.now();
    await runPhase(STEP_MS);
    windowMs = performance.now() - t0;
    measuring = false;
    state.windowOpen = false;
  }
  const drainEnd = performance.now() + DRAIN_MS;
  while (performance.now() < drainEnd && counters.outstanding > 0) await sleep(50);
  await sleep(3 * INTERVAL_MS); // the last writes' update
  const broadcastsAfter = await metricSum(nodes, "switchboard_leaderboard_broadcasts_total");

  // every subscriber's view must be the live top
  const res = await fetch(`${nodes[1].url}/v1/leaderboards/${board}?top=${TOP}`, { headers: { authorization: `Bearer ${svc}` } });
  const live = (await res.json()).top.map((e) => `${e.rank}:${e.userId}:${e.score}`).join(",");
  const correct = views.filter((v) => v.top() === live).length;
  const gaps = views.reduce((a, v) => a + v.gaps, 0);
  const reordered = views.reduce((a, v) => a + v.reordered, 0);

  const windowSec = (windowMs || 1) / 1000;
  const ts = [...state.seqs.entries()].sort((a, b) => a[0] - b[0]).map(([, t]) => t);
  let minGap = Infinity;
  for (let i = 1; i < ts.length; i++) minGap = Math.min(minGap, ts[i] - ts[i - 1]);
  const delays = Float64Array.from(state.delays).sort();
  return {
    path: writePath,
    targetRate: rate,
    windowMs: Math.round(windowMs),
    written: counters.sent,
    acked: counters.acked,
    failed: counters.failed,
    scoresPerSec: round(counters.acked / windowSec),
    broadcasts: state.seqs.size,
    broadcastsPerSec: round(state.seqs.size / windowSec, 2),
    deliveriesPerSec: round(state.deliveries / windowSec),
    broadcastsFromMetrics: broadcastsAfter - broadcastsBefore,
    minGapMs: Number.isFinite(minGap) ? minGap : null,
    delayP50: round(percentile(delays, 50), 1),
    delayP95: round(percentile(delays, 95), 1),
    viewsCorrect: correct,
    viewsOk: correct === views.length && gaps === 0,
    seqGaps: gaps,
    reordered,
    maxOutstanding: counters.maxOutstanding,
    aborted,
  };
}

const fmt = (v, w) => String(v === null || v === undefined ? "-" : v).padStart(w);
function printHeader() {
  console.log(
    `${"path".padEnd(8)}${fmt("target/s", 9)}${fmt("scores/s", 9)}${fmt("bcast/s", 8)}${fmt("deliv/s", 9)}${fmt("minGap", 7)}${fmt("dly p50", 8)}${fmt("dly p95", 8)}${fmt("failed", 7)}  views / note`,
  );
}
function stepLine(p, s) {
  return (
    `${p.padEnd(8)}${fmt(s.targetRate, 9)}${fmt(s.scoresPerSec, 9)}${fmt(s.broadcastsPerSec, 8)}${fmt(s.deliveriesPerSec, 9)}${fmt(s.minGapMs, 7)}` +
    `${fmt(s.delayP50, 8)}${fmt(s.delayP95, 8)}${fmt(s.failed, 7)}  views ${s.viewsCorrect}/${SUBSCRIBERS}${s.seqGaps ? ` gaps ${s.seqGaps}` : ""}${s.aborted ? ` ABORTED: ${s.aborted}` : ""}`
  );
}

printHeader();
runMain(main);
