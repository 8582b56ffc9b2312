"use strict";
/**
 * Progress of the long runs: `npm run bench`, `npm run load`, `npm run cluster`.
 *
 * On a terminal (the stream is a TTY and TERM is not "dumb") one status line at the bottom is
 * rewritten in place (`\r`, clear line) about twice a second: the current step and its position,
 * a running count and its rate over the last seconds, the time spent in the step and in the whole
 * run. Whatever else is written meanwhile, to the stream or to stderr, lands above it: the status
 * line is cleared before the write and drawn again once the line is complete. When the step ends
 * the status line is cleared and nothing of it stays.
 *
 * Anywhere else (a pipe, a file, CI) it prints plain lines instead: one when a step starts and one
 * when it ends (its time, count and average rate), never a control character.
 *
 *   const progress = createProgress({ label: "fanout" });
 *   progress.step("switchboard 800/s", { index: 3, of: 14, count: () => delivered, unit: "deliveries" });
 *   …
 *   progress.end("p99 4.2 ms");
 */

const CLEAR_LINE = "\r\x1b[2K";

/** Whether `stream` gets the rewritten status line rather than plain lines. */
function isInteractive(stream, env = process.env) {
  return Boolean(stream && stream.isTTY) && env.TERM !== "dumb";
}

/** 0.4 s, 12.3 s, 2 m 05 s, 1 h 02 m. */
function formatDuration(ms) {
  const s = Math.max(0, ms) / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} m ${String(Math.floor(s % 60)).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} m`;
}

/** A whole number with its thousands apart: 12 345. */
function formatCount(n) {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, " ");
}

function endsLine(chunk) {
  if (typeof chunk === "string") return chunk.length === 0 ? null : chunk.endsWith("\n");
  if (chunk && typeof chunk.length === "number") return chunk.length === 0 ? null : chunk[chunk.length - 1] === 0x0a;
  return null;
}

/**
 * `label`: the prefix of every line (`[label] `). `stream`: where it writes (process.stdout).
 * `stderr`: another stream on the same terminal whose writes must not land inside the status
 * line (process.stderr when `stream` is process.stdout and it is a TTY). `intervalMs`: how often
 * the status line is redrawn; `rateWindowMs`: the span the rate is measured over; `now`: the clock
 * in ms (tests pass their own).
 */
function createProgress({ label, stream = process.stdout, stderr, env = process.env, intervalMs = 500, rateWindowMs = 3000, now = () => performance.now() } = {}) {
  const interactive = isInteractive(stream, env);
  const other = stderr !== undefined ? stderr : stream === process.stdout ? process.stderr : null;
  const others = interactive && other && other !== stream && other.isTTY ? [other] : [];
  const prefix = label ? `[${label}] ` : "";
  const runStart = now();
  const originals = new Map(); // stream -> its own write, while a step is shown
  const open = new Set(); // streams whose last write left a line unfinished
  let current = null;
  let shown = false;
  let timer = null;

  const write = (text) => (originals.get(stream) || stream.write).call(stream, text);

  function clearStatus() {
    if (!shown) return;
    shown = false;
    write(CLEAR_LINE);
  }

  function fit(text) {
    const columns = Number(stream.columns) || 80;
    const chars = [...text];
    return chars.length < columns ? text : `${chars.slice(0, Math.max(1, columns - 2)).join("")}…`;
  }

  const position = (s) => (s.index !== undefined ? ` (${s.index}${s.of !== undefined ? `/${s.of}` : ""})` : "");

  /** What the step's counter grew by since the step started. */
  const readCount = (s) => (Number(s.count()) || 0) - s.origin;

  function sample(s) {
    if (!s.count) return;
    const t = now();
    s.samples.push({ t, c: readCount(s) });
    while (s.samples.length > 2 && t - s.samples[1].t >= rateWindowMs) s.samples.shift();
  }

  function recentRate(s) {
    if (s.samples.length < 2) return null;
    const a = s.samples[0];
    const b = s.samples[s.samples.length - 1];
    return b.t - a.t >= 250 ? ((b.c - a.c) * 1000) / (b.t - a.t) : null;
  }

  const unitOf = (s) => (s.unit ? ` ${s.unit}` : "");
  const countText = (s, c) => `${formatCount(c)}${s.total !== undefined ? `/${formatCount(s.total)}` : ""}${unitOf(s)}`;

  /** The status line's text (no prefix): step, position, count, rate, time in the step and in the run. */
  function statusText() {
    const s = current;
    const t = now();
    const parts = [`${s.name}${position(s)}`];
    if (s.count) {
      parts.push(countText(s, readCount(s)));
      const rate = s.rate ? recentRate(s) : null;
      if (rate !== null) parts.push(`${formatCount(rate)}/s`);
    }
    parts.push(formatDuration(t - s.start));
    if (s.start - runStart >= 1000) parts.push(`run ${formatDuration(t - runStart)}`);
    return parts.join(" · ");
  }

  function draw() {
    if (!interactive || !current || open.size > 0) return;
    write(`${CLEAR_LINE}${fit(prefix + statusText())}`);
    shown = true;
  }

  function tick() {
    if (!current) return;
    sample(current);
    draw();
  }

  function hook(target) {
    if (originals.has(target)) return;
    const own = target.write;
    originals.set(target, own);
    target.write = function writeAboveStatus(chunk, ...rest) {
      clearStatus();
      const result = own.call(target, chunk, ...rest);
      const ended = endsLine(chunk);
      if (ended === false) open.add(target);
      else if (ended === true) open.delete(target);
      draw();
      return result;
    };
  }

  function unhook() {
    for (const [target, own] of originals) target.write = own;
    originals.clear();
    open.clear();
  }

  if (interactive) {
    process.once("exit", () => {
      if (shown) write(CLEAR_LINE);
    });
  }

  const api = {
    /** True when the status line is drawn (a TTY), false when plain lines are printed. */
    interactive,

    /**
     * Starts a step (ending the one before). `index`/`of`: its position; `count()`: a counter that
     * only grows (e.g. deliveries so far), shown as its growth since the step started, with `unit`
     * its name and `total` its goal, if any; `rate: false` leaves the rate out.
     */
    step(name, { index, of, count, unit, total, rate = true } = {}) {
      if (current) api.end();
      current = { name, index, of, count, unit, total, rate: rate !== false, start: now(), samples: [], origin: 0 };
      if (count) current.origin = Number(count()) || 0;
      if (!interactive) {
        write(`${prefix}${name}${position(current)}: started\n`);
        return;
      }
      hook(stream);
      for (const target of others) hook(target);
      sample(current);
      draw();
      timer = setInterval(tick, intervalMs);
      timer.unref();
    },

    /** Ends the current step: clears the status line, or prints its plain line (time, count, average rate, `note`). */
    end(note) {
      finish(note, "done in");
    },

    /** Ends the current step as failed: the same as end(), its plain line says "failed after". */
    fail(note) {
      finish(note, "failed after");
    },

    /** Redraws the status line now (the timer does it every `intervalMs`). */
    render: tick,

    /** The status line's text as it would be drawn now, or null without a step. */
    status: () => (current ? prefix + statusText() : null),
  };

  function finish(note, verb) {
    const s = current;
    if (!s) return;
    if (interactive) {
      clearInterval(timer);
      timer = null;
      clearStatus();
      unhook();
      current = null;
      return;
    }
    current = null;
    const elapsed = now() - s.start;
    const parts = [`${verb} ${formatDuration(elapsed)}`];
    if (s.count) {
      const c = readCount(s);
      parts.push(countText(s, c));
      if (s.rate && elapsed > 0) parts.push(`${formatCount((c * 1000) / elapsed)}/s`);
    }
    if (note) parts.push(note);
    write(`${prefix}${s.name}${position(s)}: ${parts.join(", ")}\n`);
  }
  return api;
}

module.exports = { createProgress, isInteractive, formatDuration, formatCount, CLEAR_LINE };
