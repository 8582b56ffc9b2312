"use strict";
/**
 * What the bench reads of processes from /proc (Linux only), with no side effects, so tests can
 * load it: CPU time of a process or of its threads, resident memory, the machine's CPU.
 */
const { readdirSync, readFileSync } = require("node:fs");

const CLK_TCK = 100; // USER_HZ, 100 on Linux

/** CPU seconds (user + system) process `pid` (or thread `pid/task/tid`) used so far; 0 once it is gone. */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields[0] is field 3 (state)
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/**
 * CPU seconds process `pid` used so far, split into its main thread (`main`: a node's JavaScript)
 * and its other threads (`helpers`: a node's V8 compiler and GC threads, libuv's pool).
 */
function threadCpuSeconds(pid) {
  let main = 0;
  let helpers = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const used = cpuSeconds(`${pid}/task/${tid}`);
      if (tid === String(pid)) main = used;
      else helpers += used;
    }
  } catch {
    /* gone */
  }
  return { main, helpers };
}

/** Resident set size of process `pid`, in bytes. */
function rssBytes(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** The machine's CPU time so far: `{ busy, total }` in seconds over every core. */
function machineCpu() {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = f[3] + f[4]; // idle + iowait
  return { busy: (total - idle) / CLK_TCK, total: total / CLK_TCK };
}

module.exports = { CLK_TCK, cpuSeconds, threadCpuSeconds, rssBytes, machineCpu };
