/**
 * The per-turn bookkeeping of server/src/connections/turn-writes.ts (which sockets are corked
 * until the turn ends) leaves no garbage in V8's old generation, however long the node has run:
 * measured in a process of its own, with minor GCs forced between the turns.
 */
import { execFileSync } from "node:child_process";

const TURN_WRITES = require.resolve("@switchboard/server/dist/connections/turn-writes");

describe("turn writes", () => {
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
