/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/tests"],
  testMatch: ["**/*.test.ts"],
  // tests/load has its own node_modules (artillery, ~600 MB, installed by `npm run load`): never crawl it.
  modulePathIgnorePatterns: ["<rootDir>/tests/load/"],
  transform: {
    "^.+\\.ts$": ["ts-jest", { tsconfig: "<rootDir>/tests/tsconfig.json" }],
  },
  // Tests talk to real processes; a slow CI machine gets room, a hung test still ends.
  testTimeout: 30000,
  reporters: ["default", "<rootDir>/tests/helpers/summary-reporter.js"],
};
