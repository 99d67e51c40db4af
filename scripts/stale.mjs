// For the check scripts: whether a build output is older than its sources.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The latest mtime among paths, directories walked. */
function newest(paths) {
  let t = 0;
  for (const p of paths) {
    const st = fs.statSync(p);
    if (st.isDirectory()) t = Math.max(t, newest(fs.readdirSync(p).map((e) => path.join(p, e))));
    else t = Math.max(t, st.mtimeMs);
  }
  return t;
}

/** True when target is missing or older than any of sources. */
export const stale = (target, sources) => !fs.existsSync(target) || fs.statSync(target).mtimeMs < newest(sources);
