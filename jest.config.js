/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/tests"],
  testMatch: ["**/*.test.ts"],
  transform: {
    "^.+\\.ts$": ["ts-jest", { tsconfig: "<rootDir>/tests/tsconfig.json" }],
  },
  // Tests talk to real processes; a slow CI machine gets room, a hung test still ends.
  testTimeout: 30000,
  reporters: ["default", "<rootDir>/tests/helpers/summary-reporter.js"],
};
