"use strict";
/**
 * `npm run bench`: cross-node fan-out, Switchboard vs a bare Socket.IO + @socket.io/redis-adapter
 * server (bench/bare-server.js), in one run.
 *
 * Per system: its own redis-server on a free port, 3 nodes on 127.0.0.1, 300 subscribers (one user
 * each) in 30 rooms of 10, spread round-robin over the nodes, one publisher on node 1 publishing
 * round-robin over the 30 rooms at stepped rates. Both systems are up for the whole suite and
 * take each rate in turn, one system's step right after the other's (which one goes first
 * alternates from rate to rate), so a change in the machine's speed falls on both at the same
 * rates; the system that waits is idle. Every step is bounded in time (warm-up + measured
 * window + drain) and aborted early when latency or the ack backlog explodes; that system's higher
 * steps are then skipped. Deliveries/s is the steady-state rate: every delivery received in the window, of the
 * window's or the warm-up's publishes (the publisher does not pause between the two); latency,
 * losses and the history check are those of the window's publishes. For Switchboard every acked
 * publish of every measured step is looked up in the room's history (room:history), and a room's
 * history is read once more at the end through REST.
 *
 * Env knobs: BENCH_RATES (publishes/s, comma list; default 200,400,800,1200,1600,2400,3200,4000,4800,6400,8000,9600,11200,12800,14400,16000), BENCH_STEP_MS
 * (measured window, default 5000), BENCH_WARMUP_MS (default 2000: a step starts on a system that sat
 * idle through the other's step, and its nodes take about a second to settle, see README), BENCH_DRAIN_MS (default 1500),
 * BENCH_SYSTEMS (default "switchboard,bare").
 * The nodes keep a room history long enough for a whole step of the highest rate. "nodes" and
 * "redis" are the CPU (in cores) of the system's 3 nodes and of its redis-server over the measured
 * window. "gen CPU" is the
 * bench process's own CPU (publisher and all subscribers, in cores) over the measured window: near
 * a whole core, the load generator limits the step as much as the servers do.
 * Output: tables on stdout and bench/results.json, with the comparison the goals read (bench/fanout-compare.js),
 * and bench/fanout.svg, its chart (bench/chart.js). While it runs, scripts/progress.js shows the
 * step, its deliveries/s and the time elapsed (a status line on a terminal, plain lines otherwise).
 */
const { rmSync, writeFileSync } = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { createProgress } = require("../scripts/progress");
const { fanoutChart } = require("./chart");

const NODES = 3;
const ROOMS = 30;
const PER_ROOM = 10;
const SUBSCRIBERS = ROOMS * PER_ROOM;
const RATES = (process.env.BENCH_RATES || "200,400,800,1200,1600,2400,3200,4000,4800,6400,8000,9600,11200,12800,14400,16000").split(",").map(Number).filter((n) => n > 0);
const STEP_MS = Number(process.env.BENCH_STEP_MS || 5000);
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS || 2000);
const DRAIN_MS = Number(process.env.BENCH_DRAIN_MS || 1500);
const SYSTEMS = (process.env.BENCH_SYSTEMS || "switchboard,bare").split(",").map((s) => s.trim()).filter(Boolean);
const ABORT_LATENCY_MS = 2000; // a delivery slower than this aborts the step
const GLOBAL_TIMEOUT_MS = 8 * 60 * 1000;
/** Room history long enough to hold a whole step (warm-up + window) of the highest rate, so every acked publish can be looked up. */
const HISTORY_SIZE = Math.max(1000, Math.ceil((Math.max(...RATES) * (WARMUP_MS + STEP_MS)) / 1000 / ROOMS / 100) * 100 + 200);

const { compare, P99_TARGET_MS, RATIO_TARGET } = require("./fanout-compare");
const { sockets, limitRun, sleep, stopChild, startRedis, startNodes, systemNode, authFor, token, connect, ack, inBatches, percentile, round, pace, cpuMeter, runMain } = require("./lib");

limitRun(GLOBAL_TIMEOUT_MS);
const progress = createProgress({ label: "fanout" });

function startCluster(system, redisUrl) {
  return startNodes(NODES, (i) => systemNode(system, `${system}-${i + 1}`, redisUrl, { RATE_LIMIT_POINTS: "1000000", HISTORY_SIZE: String(HISTORY_SIZE) }));
}

// ---------------------------------------------------------------------------------------------
// one system: set up (startSystem), one step at a time (stepSystem), check and tear down (finishSystem)

async function startSystem(system) {
  console.log(`\n=== ${system}: starting redis + ${NODES} nodes ===`);
  const firstSocket = sockets.length;
  const redis = await startRedis();
  const nodes = await startCluster(system, redis.url);
  const runId = Date.now().toString(36);
  const roomIds = Array.from({ length: ROOMS }, (_, r) => `bench-${runId}-r${r}`);
  const isSb = system === "switchboard";

  const auth = (userId) => authFor(system, userId);

  // publisher on node 1; it creates (Switchboard) or joins (bare) every room, so it is a member
  const pub = await connect(nodes[0].url, await auth(`bench-pub-${runId}`));
  for (const room of roomIds) {
    if (isSb) await ack(pub, "room:create", { id: room, name: room });
    else await ack(pub, "room:join", { room });
  }

  // measurement state, shared by every subscriber's handler
  // (`deliveries` counts every delivery of a step, warm-up included, for the progress line; it is never reset)
  // A step's publishes carry its warm-up tag or its window tag. Every delivery of the step received
  // while the window is open counts for deliveries/s, whichever phase published it: the publisher
  // goes on from warm-up into the window without a pause, so that is the steady-state rate (counting
  // only the window's own publishes that arrive before it closes would leave out the last
  // latency's worth of them, and so charge a system's latency to its throughput). That count still
  // moves with the deliveries in flight at the window's two ends: 25 ms more of them at its end
  // than at its start take 0.5 % off a 5 s window. Below saturation, where both systems deliver
  // what is offered, a step also counts every delivery of the window's own publishes, however late
  // within the drain, per second of the window (deliveredPerSec; goal 1 compares it). Latency and
  // losses are those of the window's publishes.
  const state = { tag: "idle", warmTag: "idle", lat: [], recvInWindow: 0, recvTotal: 0, windowOpen: false, maxRecentLat: 0, stale: 0, deliveries: 0 };
  const onMessage = (msg) => {
    const d = msg && msg.data;
    if (!d || (d.g !== state.tag && d.g !== state.warmTag)) {
      state.stale++;
      return;
    }
    const l = performance.now() - d.t;
    state.deliveries++;
    if (state.windowOpen) state.recvInWindow++;
    if (l > state.maxRecentLat) state.maxRecentLat = l;
    if (d.g !== state.tag) return;
    state.recvTotal++;
    state.lat.push(l);
  };

  // subscribers: one user each, round-robin over nodes, room = index / 10
  let joined = 0;
  progress.step(`${system}: subscribers joining`, { count: () => joined, total: SUBSCRIBERS, unit: "joined" });
  const subs = await inBatches(Array.from({ length: SUBSCRIBERS }, (_, i) => i), 30, async (i) => {
    const s = await connect(nodes[i % NODES].url, await auth(`bench-sub-${runId}-${i}`));
    await ack(s, "room:join", { room: roomIds[Math.floor(i / PER_ROOM)] });
    s.on("room:message", onMessage);
    joined++;
    return s;
  });
  progress.end();
  console.log(`${system}: ${subs.length} subscribers connected over ${NODES} nodes, ${ROOMS} rooms; publisher on ${nodes[0].nodeId}`);
  let seq = 0;
  return { system, redis, nodes, pub, roomIds, state, isSb, nextSeq: () => ++seq, steps: [], fellBehind: false, sockets: sockets.slice(firstSocket) };
}

/** Runs one step of a system that has not fallen behind yet; a step that falls behind ends its run. */
async function stepSystem(run, i, rate) {
  const { system, redis, nodes, pub, roomIds, state, isSb, nextSeq } = run;
  const cpuGroups = { nodes: nodes.map((n) => n.child.pid), redis: [redis.child.pid], generator: [process.pid] };
  progress.step(`${system} ${rate} publishes/s`, { index: i + 1, of: RATES.length, count: () => state.deliveries, unit: "deliveries" });
  const step = await runStep({ system, rate, pub, roomIds, state, isSb, nextSeq, cpuGroups });
  progress.end(step.aborted ? `aborted: ${step.aborted}` : `p99 ${step.p99} ms`);
  run.steps.push(step);
  printStep(system, step);
  if (step.aborted) {
    run.fellBehind = true;
    console.log(`${system}: step ${rate}/s aborted (${step.aborted}); skipping higher rates`);
  }
}

async function finishSystem(run) {
  const { system, redis, nodes, roomIds, isSb, steps } = run;
  // final REST check of one room's history with a service token (Switchboard only)
  let restHistory = null;
  if (isSb) {
    const svc = await token("bench-svc", ["service"]);
    const room = roomIds[0];
    // page newest-first through the room's history over REST (bounded to 10 pages of 500)
    const ids = new Set();
    let res;
    let body = {};
    let before;
    for (let page = 0; page < 10; page++) {
      const qs = `limit=500${before === undefined ? "" : `&before=${encodeURIComponent(before)}`}`;
      res = await fetch(`${nodes[1].url}/v1/rooms/${encodeURIComponent(room)}/messages?${qs}`, { headers: { authorization: `Bearer ${svc}` } });
      body = await res.json();
      const msgs = body.messages || [];
      for (const m of msgs) ids.add(m.id);
      if (!res.ok || !body.hasMore || msgs.length === 0) break;
      before = msgs[0].id;
    }
    const last = steps[steps.length - 1];
    const expectIds = (last && last.ackIdsByRoom && last.ackIdsByRoom[0]) || [];
    const present = expectIds.filter((id) => ids.has(id)).length;
    restHistory = { room, httpStatus: res.status, returned: ids.size, hasMore: body.hasMore, lastStepAckedInRoom: expectIds.length, lastStepPresent: present };
    console.log(
      `${system}: REST GET /v1/rooms/${room}/messages (service token, via ${nodes[1].nodeId}) -> ${res.status}, ${ids.size} messages in history` +
        `${body.hasMore ? " (more)" : ""} (HISTORY_SIZE=${HISTORY_SIZE}); last step's ${expectIds.length} acked publishes to this room: ${present} present`,
    );
  }
  for (const st of steps) delete st.ackIdsByRoom;

  for (const s of run.sockets) {
    s.disconnect();
    sockets.splice(sockets.indexOf(s), 1);
  }
  for (const node of nodes) await stopChild(node.child);
  await stopChild(redis.child);
  rmSync(redis.dir, { recursive: true, force: true });
  return { system, steps, restHistory };
}

async function runStep({ system, rate, pub, roomIds, state, isSb, nextSeq, cpuGroups }) {
  const tag = `${system}-${rate}`;
  const warmTag = `${tag}-warm`;
  const ackIdsByRoom = roomIds.map(() => []);
  const counters = { sent: 0, acked: 0, failed: 0, outstanding: 0, maxOutstanding: 0 };
  let curTag = warmTag;
  let measuring = false;
  let aborted = null;

  state.tag = tag;
  state.warmTag = warmTag;
  state.lat = [];
  state.recvInWindow = 0;
  state.recvTotal = 0;
  state.windowOpen = false;
  state.maxRecentLat = 0;

  const publishOne = () => {
    const s = nextSeq();
    const r = s % roomIds.length;
    const counted = measuring;
    if (counted) counters.sent++;
    counters.outstanding++;
    if (counters.outstanding > counters.maxOutstanding) counters.maxOutstanding = counters.outstanding;
    pub.emit("room:publish", { room: roomIds[r], data: { g: curTag, t: performance.now(), s } }, (res) => {
      counters.outstanding--;
      if (!counted) return;
      if (res && res.ok) {
        counters.acked++;
        if (isSb) ackIdsByRoom[r].push(res.id);
      } else counters.failed++;
    });
  };

  // at each tick send what the target rate says is due; every 250 ms check the step keeps up
  const check = () => {
    let reason = null;
    if (state.maxRecentLat > ABORT_LATENCY_MS) reason = `delivery latency ${state.maxRecentLat.toFixed(0)} ms > ${ABORT_LATENCY_MS} ms`;
    else if (counters.outstanding > Math.max(500, rate)) reason = `${counters.outstanding} publishes awaiting ack`;
    state.maxRecentLat = 0;
    return reason;
  };
  const runPhase = async (durationMs) => {
    const res = await pace({ rate, durationMs, send: publishOne, check });
    aborted = res.aborted;
    return res;
  };

  await runPhase(WARMUP_MS);
  if (!aborted) {
    // straight on: the warm-up's publishes still in flight land in the window, as the window's
    // last ones land after it
    curTag = tag;
    state.maxRecentLat = 0;
    measuring = true;
    state.windowOpen = true;
    var meter = cpuMeter(cpuGroups);
    const t0 = performance.now();
    await runPhase(STEP_MS);
    state.windowOpen = false;
    var cpu = meter.stop().cores;
    measuring = false;
    var windowMs = performance.now() - t0;  
    // drain: wait for acks and deliveries of this step, bounded
    const drainEnd = performance.now() + DRAIN_MS;
    while (performance.now() < drainEnd && (counters.outstanding > 0 || state.recvTotal < counters.acked * PER_ROOM)) await sleep(50);
  }

  const lat = Float64Array.from(state.lat).sort();
  const windowSec = (windowMs || 1) / 1000;
  const expected = counters.acked * PER_ROOM;
  const step = {
    targetRate: rate,
    windowMs: Math.round(windowMs || 0),
    published: counters.sent,
    acked: counters.acked,
    failedPublishes: counters.failed,
    unackedPublishes: Math.max(0, counters.sent - counters.acked - counters.failed),
    publishesPerSec: round(counters.sent / windowSec),
    deliveriesPerSec: round(state.recvInWindow / windowSec),
    deliveredPerSec: round(state.recvTotal / windowSec),
    delivered: state.recvTotal,
    expectedDeliveries: expected,
    lostDeliveries: Math.max(0, counters.sent * PER_ROOM - state.recvTotal),
    p50: round(percentile(lat, 50), 2),
    p95: round(percentile(lat, 95), 2),
    p99: round(percentile(lat, 99), 2),
    max: round(lat.length ? lat[lat.length - 1] : NaN, 2),
    maxOutstandingAcks: counters.maxOutstanding,
    cpu: cpu || null,
    aborted,
    ackIdsByRoom,
  };
  state.tag = "idle";
  state.warmTag = "idle";

  if (isSb && !aborted) step.history = await verifyHistory(pub, roomIds, ackIdsByRoom);
  return step;
}

/** Every acked publish of the step must be in its room's history (room:history, paged newest-first). */
async function verifyHistory(pub, roomIds, ackIdsByRoom) {
  let checked = 0;
  let missing = 0;
  for (let r = 0; r < roomIds.length; r++) {
    const want = new Set(ackIdsByRoom[r]);
    checked += want.size;
    let before;
    for (let page = 0; page < 10 && want.size > 0; page++) {
      const res = await ack(pub, "room:history", before === undefined ? { room: roomIds[r], limit: 500 } : { room: roomIds[r], before, limit: 500 });
      for (const m of res.messages) want.delete(m.id);
      if (!res.hasMore || res.messages.length === 0) break;
      before = res.messages[0].id; // oldest first
    }
    missing += want.size;
  }
  return { checked, missing, ok: missing === 0 };
}

const fmt = (v, w) => String(v === null || v === undefined ? "-" : v).padStart(w);
function printHeader() {
  console.log(
    "deliv/s: deliveries received while the window was open (goal 2); window/s: deliveries of the window's own publishes, however late within the drain, per second of the window (goal 1)",
  );
  console.log(
    `${"system".padEnd(12)}${fmt("target/s", 9)}${fmt("pub/s", 8)}${fmt("deliv/s", 9)}${fmt("window/s", 9)}${fmt("p50 ms", 8)}${fmt("p95 ms", 8)}${fmt("p99 ms", 8)}${fmt("max ms", 8)}${fmt("lost", 6)}${fmt("pubFail", 8)}${fmt("gen CPU", 8)}${fmt("nodes", 6)}${fmt("redis", 6)}  history / note`,
  );
}
function stepLine(system, s) {
  const hist = s.history ? `history ${s.history.checked - s.history.missing}/${s.history.checked}` : "";
  return `${system.padEnd(12)}${fmt(s.targetRate, 9)}${fmt(s.publishesPerSec, 8)}${fmt(s.deliveriesPerSec, 9)}${fmt(s.deliveredPerSec, 9)}${fmt(s.p50, 8)}${fmt(s.p95, 8)}${fmt(s.p99, 8)}${fmt(s.max, 8)}${fmt(s.lostDeliveries, 6)}${fmt(s.failedPublishes + s.unackedPublishes, 8)}${fmt(s.cpu ? s.cpu.generator : null, 8)}${fmt(s.cpu ? s.cpu.nodes : null, 6)}${fmt(s.cpu ? s.cpu.redis : null, 6)}  ${hist}${s.aborted ? ` ABORTED: ${s.aborted}` : ""}`;
}
function printStep(system, s) {
  console.log(stepLine(system, s));
}

function printComparison(summary) {
  if (summary.referenceRate === null) console.log(`\nbare server did not keep p99 < ${P99_TARGET_MS} ms at the first step; no reference rate`);
  else {
    console.log(
      `\nsteps up to ${summary.referenceRate} publishes/s (bare keeps p99 < ${P99_TARGET_MS} ms up to there): Switchboard / bare deliveries/s of the window's publishes (target >= ${RATIO_TARGET.toFixed(1)}x, compared rounded to 2 decimals)`,
    );
    for (const s of summary.steps) {
      const sb = s.switchboard;
      const hist = sb && sb.history ? `${sb.history.checked - sb.history.missing}/${sb.history.checked} in history` : "history not verified";
      console.log(
        `  ${s.rate}/s: ${sb ? sb.deliveredPerSec : 0} / ${s.bare.deliveredPerSec} = ${s.ratio.toFixed(3)}x; Switchboard p99 ${sb ? sb.p99 : "-"} ms, ` +
          `lost ${sb ? sb.lostDeliveries : "-"}, ${hist} -> ${s.met ? "PASS" : "FAIL"}`,
      );
    }
  }
  const sat = summary.saturation;
  if (sat) {
    console.log(
      `at bare's saturation rate ${sat.rate}/s${sat.reached ? "" : " (bare did not saturate within the rates run)"}` +
        `${sat.generatorBound ? ` (the bench process used ${sat.generatorCores} cores there: the load generator limits that step too)` : ""}: Switchboard ${sat.switchboard ? sat.switchboard.deliveriesPerSec : 0}` +
        `${sat.switchboard && sat.switchboard.bestBelow ? ` (its best, at ${sat.switchboard.atRate}/s: it fell behind below bare's saturation rate)` : ""} ` +
        `vs bare ${sat.bare.deliveriesPerSec} deliveries/s = ${sat.ratio.toFixed(3)}x -> ${sat.met ? "PASS" : "FAIL"}`,
    );
  }
  console.log(`highest rate with p99 < ${P99_TARGET_MS} ms and no loss: bare ${summary.bareMaxRateP99Under50 ?? "none"}/s, Switchboard ${summary.switchboardMaxRateP99Under50 ?? "none"}/s`);
}

// ---------------------------------------------------------------------------------------------

async function main() {
  console.log(
    `fan-out bench: ${NODES} nodes, ${SUBSCRIBERS} subscribers in ${ROOMS} rooms of ${PER_ROOM}, 1 publisher; rates ${RATES.join(", ")} publishes/s ` +
      `(x${PER_ROOM} deliveries); ${WARMUP_MS} ms warm-up + ${STEP_MS} ms measured + <=${DRAIN_MS} ms drain per step; ${os.cpus().length} CPUs`,
  );
  printHeader();
  const started = Date.now();
  // Both systems stay up, and each rate runs on one and then the other (which goes first
  // alternates from step to step), so a change in the machine's speed during the suite falls on
  // both at the same rates.
  const runs = [];
  for (const system of SYSTEMS) runs.push(await startSystem(system));
  for (const [i, rate] of RATES.entries()) {
    const order = i % 2 === 0 ? runs : [...runs].reverse();
    for (const run of order) if (!run.fellBehind) await stepSystem(run, i, rate);
  }
  const results = {};
  for (const run of runs) results[run.system] = await finishSystem(run);

  console.log(`\n=== results (${((Date.now() - started) / 1000).toFixed(0)} s) ===`);
  printHeader();
  for (const system of SYSTEMS) for (const s of results[system].steps) console.log(stepLine(system, s));

  const summary = results.switchboard && results.bare ? compare(results.switchboard.steps, results.bare.steps, PER_ROOM) : null;
  if (summary) printComparison(summary);

  const out = {
    when: new Date().toISOString(),
    config: { nodes: NODES, rooms: ROOMS, perRoom: PER_ROOM, subscribers: SUBSCRIBERS, rates: RATES, stepMs: STEP_MS, warmupMs: WARMUP_MS, drainMs: DRAIN_MS, cpus: os.cpus().length },
    results,
    summary,
  };
  writeFileSync(path.join(__dirname, "results.json"), JSON.stringify(out, null, 2) + "\n");
  console.log("results written to bench/results.json");
  writeFileSync(path.join(__dirname, "fanout.svg"), fanoutChart(out));
  console.log("chart written to bench/fanout.svg (deliveries/s and p99 per step; node bench/chart.js draws it again from bench/results.json)");
}

runMain(main);
