// Issue 13, item 8, as it was run: a getter that answers undefined to the
// namespace check and a name to the plan made sethostname run in the
// caller's uts namespace (and setdomainname likewise), as root. The options
// are read once now, so the plan sees what the check saw. Run in a
// throw-away `unshare --uts` child, so that a failure renames only that.
import { spawnSync } from 'node:child_process';

import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';
import { withLib } from '../../helpers/node';

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

test.each(['hostname', 'domainname'])("a getter for %s that changes its answer leaves the caller's name alone, and is called once", (key) => {
  const body = `
    const fs = require('fs');
    const name = () => fs.readFileSync('/proc/sys/kernel/${key}', 'utf8').trim();
    (async () => {
      const was = name();
      let calls = 0;
      const options = { namespaces: ['pid'] };
      Object.defineProperty(options, '${key}', { enumerable: true, get: () => (calls++ ? 'pwned' : undefined) });
      let outcome;
      try {
        const p = await nsjs.spawnIsolated('true', [], options);
        outcome = JSON.stringify(await p.wait());
      } catch (e) {
        outcome = 'rejected: ' + e.message;
      }
      process.stdout.write(JSON.stringify({ was, now: name(), calls, outcome }));
    })();
  `;
  const r = spawnSync('unshare', ['--uts', '--', process.execPath, '-e', withLib(body)], { encoding: 'utf8', timeout: 20000 });
  expect(r.stderr).toBe('');
  const { was, now, calls, outcome } = JSON.parse(r.stdout);
  expect(outcome).toBe('{"code":0,"signal":null}');
  expect(now).toBe(was);
  expect(now).not.toBe('pwned');
  expect(calls).toBe(1);
});
