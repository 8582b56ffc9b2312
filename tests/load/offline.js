// Preloaded by `npm run load` (node -r): artillery 2.0.21 sends an anonymized event to PostHog
// even with ARTILLERY_DISABLE_TELEMETRY set, and without internet access that request holds
// the process for about 10 s at exit. The PostHog client is replaced by one that sends nothing.
"use strict";

const Module = require("node:module");

class SilentPostHog {
  capture() {}
  shutdown() {}
  async shutdownAsync() {}
}

const load = Module._load;
Module._load = function loadWithoutTelemetry(request, ...rest) {
  if (request === "posthog-node") return { PostHog: SilentPostHog };
  return load.call(this, request, ...rest);
};
