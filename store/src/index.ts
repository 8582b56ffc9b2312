export { RedisScript, type ScriptClient } from "./script";
export { classicFrame, shardedBroadcast, shardedChannel, splitClassicFrame, type ClassicFrame, type SplitFrame } from "./frames";
