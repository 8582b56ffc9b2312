export * from "./errors";
export * from "./events";
export * from "./keys";
export * from "./rooms";
export * from "./schemas";
