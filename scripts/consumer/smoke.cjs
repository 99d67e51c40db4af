// The consumer smoke, CommonJS half (see smoke.mjs): require('nsjs') from a
// CommonJS file and one spawn through it.
'use strict';
const assert = require('node:assert/strict');
const { runIsolated, sys } = require('nsjs');

assert.equal(typeof sys, 'object');
runIsolated('sh', ['-c', 'echo cjs']).then((r) => {
  assert.equal(r.stdout, 'cjs\n');
  console.log('  ok  require from CommonJS and runIsolated');
});
