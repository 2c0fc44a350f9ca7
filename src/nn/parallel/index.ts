export * from "./shard.js";
export * from "./layers.js";
