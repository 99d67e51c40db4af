// The faults project tests the fault-injection build (npm run build:test),
// unless the caller picked another test build (sanitize, which has it too).
process.env.NSJS_TEST_ADDON ??= 'test';
