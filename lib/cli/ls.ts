// `nsjs ls`: Namespace.list() printed as lsns(8) prints it: the same columns,
// the same table (numbers right-aligned, the last column unpadded), the same
// JSON keys and layout (libsmartcols': three-space indent, `},{` between rows).
import * as fs from 'node:fs';

import type { NamespaceInfo, NamespaceType } from '../index';
import { UsageError, parseCommandLine, type OptionSpecs } from './args';
import { readPasswd, unsignedArg } from './ids';
import type { Parsed } from './run';

export const LS_OPTIONS: OptionSpecs = {
  json: { short: 'J', arg: 'none' },
  list: { short: 'l', arg: 'none' },
  noheadings: { short: 'n', arg: 'none' },
  output: { short: 'o', arg: 'required' },
  'output-all': { arg: 'none' },
  task: { short: 'p', arg: 'required' },
  raw: { short: 'r', arg: 'none' },
  notruncate: { short: 'u', arg: 'none' },
  nowrap: { short: 'W', arg: 'none' },
  type: { short: 't', arg: 'required' },
  tree: { short: 'T', arg: 'optional' },
  help: { short: 'h', arg: 'none' },
  version: { short: 'V', arg: 'none' },
};

export const LS_HELP = `
Usage:
 nsjs ls [options]

List system namespaces, as lsns(8).

Options:
 -J, --json             use JSON output format
 -l, --list             use list format output
 -n, --noheadings       don't print headings
 -o, --output <list>    define which output columns to use
     --output-all       output all columns
 -p, --task <pid>       print process namespaces
 -r, --raw              use the raw output format
 -u, --notruncate       don't truncate text in columns (nsjs never truncates)
 -W, --nowrap           don't use multi-line representation
 -t, --type <name>      namespace type (mnt, net, ipc, user, pid, uts, cgroup, time)
 -T, --tree[=<rel>]     use tree format (parent, owner, or process; default owner)

 -h, --help             display this help
 -V, --version          display version

Available output columns:
          NS  namespace identifier (inode number)
        TYPE  kind of namespace
        PATH  path to the namespace
      NPROCS  number of processes in the namespace
         PID  lowest PID in the namespace
        PPID  PPID of the PID
     COMMAND  command line of the PID
         UID  UID of the PID
        USER  username of the PID
        NSFS  nsfs mountpoint (usually used network subsystem)
         PNS  parent namespace identifier (inode number)
         ONS  owner namespace identifier (inode number)
`;

const COLUMNS = ['NS', 'TYPE', 'PATH', 'NPROCS', 'PID', 'PPID', 'COMMAND', 'UID', 'USER', 'NSFS', 'PNS', 'ONS'] as const;
type Column = (typeof COLUMNS)[number];
const NUMERIC = new Set<Column>(['NS', 'NPROCS', 'PID', 'PPID', 'UID', 'PNS', 'ONS']);
const TYPES: NamespaceType[] = ['mnt', 'net', 'ipc', 'user', 'pid', 'uts', 'cgroup', 'time'];

export interface LsRequest {
  columns: Column[];
  json: boolean;
  raw: boolean;
  list: boolean;
  headings: boolean;
  types: NamespaceType[];
  task?: number;
  tree?: 'parent' | 'owner' | 'process';
}

export function parseLs(argv: readonly string[]): Parsed<LsRequest> {
  const { options: given, operands } = parseCommandLine(argv, LS_OPTIONS);
  const r: LsRequest = { columns: [], json: false, raw: false, list: false, headings: true, types: [] };
  let output: string | undefined;
  let all = false;
  for (const { name, value } of given) {
    switch (name) {
      case 'help':
        return { help: true };
      case 'version':
        return { version: true };
      case 'json':
        r.json = true;
        break;
      case 'list':
        r.list = true;
        break;
      case 'raw':
        r.raw = true;
        break;
      case 'noheadings':
        r.headings = false;
        break;
      case 'output':
        output = output === undefined ? value : `${output},${value}`;
        break;
      case 'output-all':
        all = true;
        break;
      case 'task':
        r.task = unsignedArg(value!, 'PID', 0x3fffffff);
        break;
      case 'type':
        if (!TYPES.includes(value as NamespaceType)) throw new UsageError(`unknown namespace type: ${value}`);
        if (!r.types.includes(value as NamespaceType)) r.types.push(value as NamespaceType);
        break;
      case 'tree':
        if (value !== undefined && value !== 'parent' && value !== 'owner' && value !== 'process')
          throw new UsageError(`invalid tree relation: '${value}'`);
        r.tree = (value ?? 'owner') as LsRequest['tree'];
        break;
    }
  }
  if (operands.length) throw new UsageError(`listing the processes of one namespace ('${operands[0]}') is not supported yet`);
  if (all) r.columns = [...COLUMNS];
  else if (output !== undefined) {
    const list = output.startsWith('+') ? [...defaults(r.types), ...output.slice(1).split(',')] : output.split(',');
    r.columns = list.map((c) => {
      const col = c.toUpperCase();
      if (!(COLUMNS as readonly string[]).includes(col)) throw new UsageError(`unknown column: ${c}`);
      return col as Column;
    });
  } else r.columns = defaults(r.types);
  return r;
}

function defaults(types: NamespaceType[]): Column[] {
  // lsns adds NSFS (and NETNSID, which needs netlink, not listed by nsjs) for -t net.
  return types.length === 1 && types[0] === 'net'
    ? ['NS', 'TYPE', 'NPROCS', 'PID', 'USER', 'NSFS', 'COMMAND']
    : ['NS', 'TYPE', 'NPROCS', 'PID', 'USER', 'COMMAND'];
}

/** nsfs mount points by namespace inode, from our mountinfo (`/run/netns/blue` for `ip netns add blue`). */
function nsfsMounts(): Map<number, string> {
  const out = new Map<number, string>();
  let text = '';
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!post?.startsWith('nsfs ')) continue;
    const f = pre.split(' ');
    const m = /\[(\d+)\]$/.exec(f[3]);
    const target = f[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (m && !out.has(Number(m[1]))) out.set(Number(m[1]), target);
  }
  return out;
}

interface Row {
  info: NamespaceInfo;
  children: Row[];
}

/** The rows to print, as a forest when a tree was asked for. */
export function select(list: NamespaceInfo[], r: LsRequest): Row[] {
  let shown = list;
  if (r.types.length) shown = shown.filter((n) => r.types.includes(n.type));
  if (r.task !== undefined) shown = shown.filter((n) => n.pids.includes(r.task!));
  // -l without -T: lsns's table without the tree, in inode order.
  if (r.list && r.tree === undefined) return shown.map((info) => ({ info, children: [] }));
  const rows = new Map(shown.map((info) => [info.inode, { info, children: [] as Row[] }]));
  const roots: Row[] = [];
  if ((r.tree ?? 'process') === 'process') {
    // lsns's default: a row hangs under the row last printed for the parent
    // process of its pid (proc->parent->outline), in print order.
    const lastRowOf = new Map<number, Row>();
    for (const row of rows.values()) {
      const p = row.info.ppid !== undefined ? lastRowOf.get(row.info.ppid) : undefined;
      (p ? p.children : roots).push(row);
      lastRowOf.set(row.info.pid, row);
    }
    return roots;
  }
  // lsns prints the user namespaces first in these trees, so that owners come before what they own.
  const ordered = [...rows.values()].sort((a, b) => Number(b.info.type === 'user') - Number(a.info.type === 'user'));
  for (const row of ordered) {
    const parent = r.tree === 'owner' ? row.info.owner : row.info.parent;
    const p = parent !== undefined && parent !== row.info.inode ? rows.get(parent) : undefined;
    (p ? p.children : roots).push(row);
  }
  return roots;
}

function cell(col: Column, n: NamespaceInfo, users: Map<number, string>, nsfs: Map<number, string>): string | number | null {
  switch (col) {
    case 'NS':
      return n.inode;
    case 'TYPE':
      return n.type;
    case 'PATH':
      return `/proc/${n.pid}/ns/${n.type}`;
    case 'NPROCS':
      return n.nprocs;
    case 'PID':
      return n.pid;
    case 'PPID':
      return n.ppid ?? null;
    case 'COMMAND':
      return n.command;
    case 'UID':
      return n.uid;
    case 'USER':
      return users.get(n.uid) ?? String(n.uid);
    case 'NSFS':
      return nsfs.get(n.inode) ?? null;
    case 'PNS':
      return n.parent ?? 0;
    case 'ONS':
      return n.owner ?? 0;
  }
}

/**
 * Characters lsns will not print as they are (glibc's !iswprint in a UTF-8
 * locale): controls (C0, DEL, C1), line and paragraph separators,
 * unassigned code points and lone surrogates.
 */
const NON_PRINTABLE = /[\p{Cc}\p{Cn}\p{Cs}\p{Zl}\p{Zp}]/u;

const hexBytes = (ch: string) => Array.from(Buffer.from(ch, 'utf8'), (b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');

/** Whether lsns would run in a UTF-8 locale here (setlocale(LC_ALL, "") reads these, in this order). */
export function utf8Locale(env: NodeJS.ProcessEnv = process.env): boolean {
  const locale = env.LC_ALL || env.LC_CTYPE || env.LANG || '';
  return /utf-?8/i.test(locale);
}

/**
 * A text cell as lsns prints it in a table or list (util-linux
 * mbs_safe_encode): each byte of a character the terminal would act on
 * rather than show becomes \xNN, and so does the backslash of a literal
 * "\x", so that what a process put in its command line (ESC and OSC
 * sequences: colours, titles, hyperlinks, clipboard writes) reaches the
 * admin's terminal as text. Outside a UTF-8 locale every byte above 0x7f
 * too, as lsns's mbrtowc fails there (a UTF-8 byte may be a C1 control on
 * an 8-bit terminal). Invalid UTF-8 in a command line reached us as U+FFFD
 * (lsns shows those bytes as \xNN).
 */
export function safeText(s: string, utf8: boolean): string {
  if (/^[\x20-\x7e]*$/.test(s) && !s.includes('\\x')) return s;
  const chars = Array.from(s);
  return chars
    .map((ch, i) => {
      const escape = NON_PRINTABLE.test(ch) || (!utf8 && ch.codePointAt(0)! > 0x7f) || (ch === '\\' && chars[i + 1] === 'x');
      return escape ? hexBytes(ch) : ch;
    })
    .join('');
}

/** A cell as lsns -r prints it (libsmartcols' raw output): every byte that is not a visible ASCII character, and the backslash, as \xNN. */
export function rawText(s: string): string {
  if (/^[\x21-\x5b\x5d-\x7e]*$/.test(s)) return s;
  return Array.from(Buffer.from(s, 'utf8'), (b) => (b > 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('');
}

/** A JSON string as lsns -J writes it (C0 controls as \u00XX or \t and the like), with the other non-printable characters escaped as \uXXXX too. */
function jsonText(s: string): string {
  return JSON.stringify(s).replace(new RegExp(NON_PRINTABLE.source, 'gu'), (ch) => Array.from({ length: ch.length }, (_, i) => `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`).join(''));
}

export function render(list: NamespaceInfo[], r: LsRequest, users = readPasswd(), nsfs = nsfsMounts(), utf8 = utf8Locale()): string {
  const rows = select(list, r);
  if (r.json) return json(rows, r, users, nsfs);
  const text = r.raw ? rawText : (s: string) => safeText(s, utf8);
  const lines: { prefix: string; cells: string[] }[] = [];
  const walk = (row: Row, prefix: string, branch: string) => {
    lines.push({ prefix: prefix + branch, cells: r.columns.map((c) => text(String(cell(c, row.info, users, nsfs) ?? ''))) });
    row.children.forEach((child, i) => {
      const last = i === row.children.length - 1;
      walk(child, prefix + (branch === '' ? '' : branch === '├─' ? '│ ' : '  '), last ? '└─' : '├─');
    });
  };
  for (const row of rows) walk(row, '', '');
  if (r.raw) {
    const out = r.headings ? [r.columns.join(' ')] : [];
    for (const l of lines) out.push(l.cells.join(' '));
    return out.map((l) => `${l}\n`).join('');
  }
  // The tree column carries the branches and is left-aligned: NS for the
  // owner and parent trees, COMMAND for lsns's default process tree.
  const treeCol = r.tree === 'owner' || r.tree === 'parent' ? 0 : r.columns.indexOf('COMMAND');
  const table = lines.map((l) => l.cells.map((c, i) => (i === treeCol ? l.prefix + c : c)));
  const header = r.headings ? [r.columns.map(String)] : [];
  const all = [...header, ...table];
  // libsmartcols counts the header in the widths even when it is not printed.
  // A loop, not Math.max(...): a host may have more namespaces than a call takes arguments.
  const widths = r.columns.map((c, i) => all.reduce((w, row) => Math.max(w, row[i].length), c.length));
  return all
    .map((row) =>
      row
        .map((c, i) => {
          if (NUMERIC.has(r.columns[i]) && i !== treeCol) return c.padStart(widths[i]);
          return i === row.length - 1 ? c : c.padEnd(widths[i]);
        })
        .join(' '),
    )
    .map((l) => `${l}\n`)
    .join('');
}

function json(rows: Row[], r: LsRequest, users: Map<number, string>, nsfs: Map<number, string>): string {
  const value = (v: string | number | null) => (v === null ? 'null' : typeof v === 'number' ? String(v) : jsonText(v));
  const object = (row: Row, indent: string): string => {
    const inner = `${indent}   `;
    const fields = r.columns.map((c) => `${inner}"${c.toLowerCase()}": ${value(cell(c, row.info, users, nsfs))}`);
    if (row.children.length) fields.push(`${inner}"children": [\n${array(row.children, `${inner}   `)}\n${inner}]`);
    return `${indent}{\n${fields.join(',\n')}\n${indent}}`;
  };
  const array = (list: Row[], indent: string) =>
    list.length ? list.map((row, i) => (i === 0 ? object(row, indent) : object(row, indent).slice(indent.length))).join(',') : '';
  return `{\n   "namespaces": [\n${array(rows, '      ')}\n   ]\n}\n`;
}
