// Small C programs a test builds and runs inside a sandbox, for attacks that
// need a syscall no shell tool makes (TIOCSTI, open_by_handle_at, mknod).
// Built once per source with cc into a directory any uid can read, so that
// a sandbox with other ids or another root (bound in) can run them.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const DIR = path.join(os.tmpdir(), `nsjs-probes-${process.getuid!()}`);

/** The path of `source` compiled (cached by its hash); `name` is for the reader of a failure. */
export function cProbe(name: string, source: string): string {
  fs.mkdirSync(DIR, { recursive: true, mode: 0o755 });
  fs.chmodSync(DIR, 0o755);
  const bin = path.join(DIR, `${name}-${createHash('sha256').update(source).digest('hex').slice(0, 12)}`);
  if (fs.existsSync(bin)) return bin;
  const src = `${bin}.c`;
  fs.writeFileSync(src, source);
  execFileSync('cc', ['-O1', '-Wall', '-o', `${bin}.tmp`, src], { stdio: 'inherit' });
  fs.renameSync(`${bin}.tmp`, bin);
  fs.chmodSync(bin, 0o755);
  return bin;
}

/** The errno's name (glibc's strerrorname_np), for probes that print what a call said. */
export const ERRNO_NAME = '#define _GNU_SOURCE\n#include <errno.h>\n#include <string.h>\n#define ERR() (strerrorname_np(errno) ? strerrorname_np(errno) : "E?")\n';
