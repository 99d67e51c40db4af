#!/usr/bin/env python3
"""CPU per spawn, by thread and by call, from a perf recording of
`node bench/profile.mjs 0 seq` (see the comment there for the commands).

usage: perf-summary.py PERF_SCRIPT_TXT MAIN_PID SPAWNS SAMPLE_HZ

Prints: µs of CPU per spawn for each thread of the Node process; for the main
(event-loop) thread, µs per spawn with each JS function / nsjs C++ function /
syscall on the stack (inclusive); for the busy other threads (the libuv pool,
where clone runs), µs per spawn by the syscall they were in.
"""
import re, collections, sys
# argv: perf-script file, main pid, spawns, freq
txt = open(sys.argv[1]).read().split('\n\n')
main = sys.argv[2]
spawns = int(sys.argv[3])
us = 1e6 / float(sys.argv[4]) / spawns
threads = collections.Counter()
incl = collections.Counter()
pool = collections.Counter()
mainn = 0
for s in txt:
    lines = [l.strip() for l in s.strip().split('\n') if l.strip()]
    if not lines:
        continue
    m = re.search(r'(\d+)/(\d+)', lines[0])
    if not m or m.group(1) != main:
        continue
    tid = m.group(2)
    frames = [l.split(' ', 1)[1] if ' ' in l else l for l in lines[1:]]
    threads[tid] += 1
    if tid == main:
        mainn += 1
        seen = set()
        for f in frames:
            key = None
            mm = re.search(r'JS:\S?(\S+) (\S+?):\d+:\d+', f)
            if mm:
                key = 'JS ' + mm.group(1) + ' ' + mm.group(2).replace('/work/main/', '')
            elif re.match(r'__(x64|do|se)_sys_', f):
                key = 'syscall ' + re.sub(r'^__(x64|do|se)_sys_', '', f)
            elif 'nsjs::' in f:
                key = 'C++ ' + re.sub(r'\(.*', '', f.replace('(anonymous namespace)::', ''))
            elif f.startswith('uv__') or f.startswith('uv_'):
                key = 'libuv ' + f
            elif 'v8::internal::Heap::' in f and ('CollectGarbage' in f):
                key = 'V8 GC'
            if key and key not in seen:
                seen.add(key)
                incl[key] += 1
    else:
        k = 'user space / scheduling'
        for f in frames:
            if re.match(r'__(x64|do|se)_sys_', f):
                k = 'syscall ' + re.sub(r'^__(x64|do|se)_sys_', '', f)
                break
        pool[(tid, k)] += 1
print(f'µs of CPU per spawn by thread (spawns={spawns})')
for t, v in threads.most_common(12):
    print(f'  {"main" if t == main else t}: {v*us:7.1f}')
print('main thread, inclusive, µs per spawn')
for k, v in incl.most_common(40):
    print(f'  {v*us:7.1f} {k}')
agg = collections.Counter()
for (t, k), v in pool.items():
    if threads[t] > 0.05 * sum(threads.values()):
        agg[k] += v
print('busy non-main threads (pool), by syscall, µs per spawn')
for k, v in agg.most_common(12):
    print(f'  {v*us:7.1f} {k}')
