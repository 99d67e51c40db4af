// A Node process holding about MIB MiB of live V8 heap (argv[2]), answering
// timing requests over IPC for bench/run.mjs's heap-independence section.
// The heap is real JS data, not an ArrayBuffer: arrays of small objects,
// strings and number arrays, all reachable until exit.
import { ALL7, cpOnce, loadNsjs, nsjsOnce, repeat, which } from './common.mjs';

const mib = Number(process.argv[2] || 0);
const nsjs = loadNsjs();
const UNSHARE = which('unshare');
const keep = [];

function fill(targetBytes) {
  let i = 0;
  while (process.memoryUsage().heapUsed < targetBytes) {
    // ~8 MiB per step, in three shapes.
    const objs = new Array(50_000);
    for (let j = 0; j < objs.length; j++) objs[j] = { id: i * 1e6 + j, name: `obj-${i}-${j}`, tags: [j, j + 1], parent: null };
    const nums = new Array(200_000);
    for (let j = 0; j < nums.length; j++) nums[j] = j * 1.5;
    keep.push(objs, nums);
    i++;
  }
}
if (mib > 0) fill(mib * 2 ** 20);

const ALL = { namespaces: ALL7, user: 'root', stdio: 'inherit' };
// Map ranges make nsjs clone fork-style (the parent writes the maps).
const RANGES = {
  namespaces: ALL7,
  user: { uidMap: [{ inside: 0, outside: 100000, count: 65536 }], gidMap: [{ inside: 0, outside: 100000, count: 65536 }] },
  stdio: 'inherit',
};
const kinds = {
  nsjs: () => nsjsOnce(nsjs, '/bin/true', [], ALL),
  nsjsRange: () => nsjsOnce(nsjs, '/bin/true', [], RANGES),
  cp: () => cpOnce('/bin/true', []),
  unshare: () => cpOnce(UNSHARE, ['-Upmuin', '-C', '-r', '--fork', '/bin/true']),
};

process.on('message', async (m) => {
  try {
    if (m.cmd === 'ready') {
      const u = process.memoryUsage();
      process.send({ heapUsed: u.heapUsed, rss: u.rss, objects: keep.length });
    } else if (m.cmd === 'batch') {
      process.send({ times: await repeat(m.n, kinds[m.kind]) });
    }
  } catch (err) {
    process.send({ error: String(err.message || err) });
  }
});
process.on('disconnect', () => process.exit(0));
