// jest --testSequencer for the lanes of scripts/test-sanitize.mjs: --shard=i/n
// takes the i-th of n lanes of about equal time, where jest's own shard()
// cuts the files sorted by a hash of their path into n equal counts (309 s
// beside 240 s for two lanes of the root suite). Each file weighs what
// scripts/sanitize-durations.json measured for it; one it does not know
// (a new file) the median of those it does. Longest first, each to the lane
// with the least so far, ties to the lower lane and then by path: every lane's
// jest, given the same files, makes the same split, so each file runs once.
// Order within a lane is jest's own (sort()).
'use strict';
const path = require('node:path');

const { default: Sequencer } = require(require.resolve('@jest/test-sequencer', { paths: [path.dirname(require.resolve('jest/package.json'))] }));
const { seconds } = require('./sanitize-durations.json');

const known = Object.values(seconds).sort((a, b) => a - b);
const median = known.length ? known[Math.floor(known.length / 2)] : 1;

class LaneSequencer extends Sequencer {
  shard(tests, { shardIndex, shardCount }) {
    const weighed = tests.map((test) => {
      const file = path.relative(test.context.config.rootDir, test.path).split(path.sep).join('/');
      return { test, file, weight: seconds[file] ?? median };
    });
    weighed.sort((a, b) => b.weight - a.weight || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
    const lanes = Array.from({ length: shardCount }, () => ({ total: 0, tests: [] }));
    for (const w of weighed) {
      const lane = lanes.reduce((least, l) => (l.total < least.total ? l : least));
      lane.total += w.weight;
      lane.tests.push(w.test);
    }
    return lanes[shardIndex - 1].tests;
  }
}

module.exports = LaneSequencer;
