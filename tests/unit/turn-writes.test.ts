/**
 * The per-turn bookkeeping of server/src/connections/turn-writes.ts (which sockets are corked
 * until the turn ends) leaves no garbage in V8's old generation, however long the node has run:
 * measured in a process of its own, with minor GCs forced between the turns. What runs before the
 * turn's writes leave (beforeTurnWritesLeave) runs once per turn, after every callback of the
 * turn, and its writes leave with the turn's.
 */
import { execFileSync } from "node:child_process";

const TURN_WRITES = require.resolve("@switchboard/server/dist/connections/turn-writes");

describe("turn writes", () => {
  it("run the tasks of a turn after its callbacks and before its writes leave, with them", () => {
    const script = `
      const { writeOncePerTurn, beforeTurnWritesLeave } = require(${JSON.stringify(TURN_WRITES)});
      const events = [];
      class Connection {
        constructor() { this.held = []; this.corked = 0; }
        cork() { this.corked++; }
        uncork() { this.corked--; events.push("leave " + this.held.splice(0).join("+")); }
        write(chunk) { if (this.corked > 0) this.held.push(chunk); else events.push("leave " + chunk); return true; }
      }
      const redis = new Connection();
      writeOncePerTurn(redis);
      // Three callbacks of one turn (immediates queued together run in one check phase; the end of
      // the turn the first write asks for is queued behind them): each writes, two ask for tasks.
      setImmediate(() => { redis.write("a"); beforeTurnWritesLeave(() => { events.push("task 1"); redis.write("t1"); }); });
      setImmediate(() => { redis.write("b"); beforeTurnWritesLeave(() => { events.push("task 2"); beforeTurnWritesLeave(() => { events.push("task 3"); redis.write("t3"); }); }); });
      setImmediate(() => redis.write("c"));
      setImmediate(() => setImmediate(() => setImmediate(() => {
        // A later turn with a task and no write: it runs all the same.
        beforeTurnWritesLeave(() => events.push("task 4"));
        setImmediate(() => setImmediate(() => process.stdout.write(JSON.stringify(events))));
      })));
    `;
    expect(JSON.parse(execFileSync(process.execPath, ["-e", script], { encoding: "utf8" }))).toEqual(["task 1", "task 2", "task 3", "leave a+b+c+t1+t3", "task 4"]);
  });

  it("cork each connection once per turn and leave nothing in the old generation, turn after turn", () => {
    const script = `
      const v8 = require("node:v8");
      const { writeOncePerTurn } = require(${JSON.stringify(TURN_WRITES)});
      const counts = { cork: 0, uncork: 0, write: 0 };
      class Connection { cork() { counts.cork++; } uncork() { counts.uncork++; } write() { counts.write++; return true; } }
      const connections = Array.from({ length: 50 }, () => { const c = new Connection(); writeOncePerTurn(c); return c; });
      const oldGeneration = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === "old_space").space_used_size;
      const turn = () => new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
      (async () => {
        for (let i = 0; i < 50; i++) { for (const c of connections) c.write("x"); await turn(); }
        // A node idle for two minor GCs: what its bookkeeping holds now has outlived the young generation.
        gc({ type: "minor" });
        gc({ type: "minor" });
        const before = oldGeneration();
        for (let i = 0; i < 2000; i++) {
          for (const c of connections) { c.write("x"); c.write("y"); }
          await turn();
          if (i % 2) gc({ type: "minor" });
        }
        process.stdout.write(JSON.stringify({ grownKiB: (oldGeneration() - before) / 1024, ...counts }));
      })();
    `;
    const result = JSON.parse(execFileSync(process.execPath, ["--expose-gc", "-e", script], { encoding: "utf8" }));
    const turns = 50 + 2000;
    expect(result).toMatchObject({ cork: turns * 50, uncork: turns * 50, write: (50 + 2 * 2000) * 50 });
    // With one set cleared every turn, its tables went to the old generation: about 5 MiB here.
    expect(result.grownKiB).toBeLessThan(512);
  });
});
