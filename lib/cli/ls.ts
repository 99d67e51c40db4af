// `nsjs ls`: Namespace.list() printed as lsns(8) prints it: the same columns,
// the same table (numbers right-aligned, the last column unpadded), the same
// JSON keys and layout (libsmartcols': three-space indent, `},{` between rows).
import * as fs from 'node:fs';

import type { NamespaceInfo, NamespaceType } from '../index';
import { UsageError, parseCommandLine, type OptionSpecs } from './args';
import { FilterError, parseFilter, type Filter } from './filter';
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
  persistent: { short: 'P', arg: 'none' },
  filter: { short: 'Q', arg: 'required' },
  'list-columns': { short: 'H', arg: 'none' },
  help: { short: 'h', arg: 'none' },
  version: { short: 'V', arg: 'none' },
};

export const LS_HELP = `
Usage:
 nsjs ls [options] [<namespace>]

List system namespaces, as lsns(8).

Options:
 -J, --json             use JSON output format
 -l, --list             use list format output
 -n, --noheadings       don't print headings
 -o, --output <list>    define which output columns to use
     --output-all       output all columns
 -p, --task <pid>       print process namespaces
 -P, --persistent       namespaces without processes
 -Q, --filter <expr>    apply display filter
 -r, --raw              use the raw output format
 -u, --notruncate       don't truncate text in columns (nsjs never truncates)
 -W, --nowrap           don't use multi-line representation
 -t, --type <name>      namespace type (mnt, net, ipc, user, pid, uts, cgroup, time)
 -T, --tree[=<rel>]     use tree format (parent, owner, or process; default owner)
 -H, --list-columns     list the available columns

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
     NETNSID  namespace ID as used by network subsystem
        NSFS  nsfs mountpoint (usually used network subsystem)
         PNS  parent namespace identifier (inode number)
         ONS  owner namespace identifier (inode number)
`;

const COLUMNS = ['NS', 'TYPE', 'PATH', 'NPROCS', 'PID', 'PPID', 'COMMAND', 'UID', 'USER', 'NETNSID', 'NSFS', 'PNS', 'ONS'] as const;
type Column = (typeof COLUMNS)[number];
/** lsns's descriptions, for -H. */
const DESCRIPTIONS: Record<Column, string> = {
  NS: 'namespace identifier (inode number)',
  TYPE: 'kind of namespace',
  PATH: 'path to the namespace',
  NPROCS: 'number of processes in the namespace',
  PID: 'lowest PID in the namespace',
  PPID: 'PPID of the PID',
  COMMAND: 'command line of the PID',
  UID: 'UID of the PID',
  USER: 'username of the PID',
  NETNSID: 'namespace ID as used by network subsystem',
  NSFS: 'nsfs mountpoint (usually used network subsystem)',
  PNS: 'parent namespace identifier (inode number)',
  ONS: 'owner namespace identifier (inode number)',
};
const NUMERIC = new Set<Column>(['NS', 'NPROCS', 'PID', 'PPID', 'UID', 'PNS', 'ONS']);
/** Right-aligned though a string (lsns's SCOLS_FL_RIGHT). */
const RIGHT = new Set<Column>([...NUMERIC, 'NETNSID']);
/** lsns's width hints (colinfo.whint): a column is widened to its hint when its cells are wider than its header but narrower than the hint. */
const HINTS: Partial<Record<Column, number>> = { NS: 10, TYPE: 5, NPROCS: 5, PID: 5, PPID: 5, PNS: 10, ONS: 10 };
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
  /** -W (or -r): NSFS on one line, `,`-joined. */
  nowrap: boolean;
  /** -P: only namespaces without processes. */
  persistent: boolean;
  filter?: Filter;
  /** The positional <namespace>: one row per process in it. */
  namespace?: number;
  /** -H: print the columns and nothing else. */
  listColumns?: boolean;
}

export function parseLs(argv: readonly string[]): Parsed<LsRequest> {
  const { options: given, operands } = parseCommandLine(argv, LS_OPTIONS);
  const r: LsRequest = { columns: [], json: false, raw: false, list: false, headings: true, types: [], nowrap: false, persistent: false };
  let output: string | undefined;
  let all = false;
  let filter: string | undefined;
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
        r.nowrap = true;
        break;
      case 'nowrap':
        r.nowrap = true;
        break;
      case 'persistent':
        r.persistent = true;
        break;
      case 'filter':
        filter = value;
        break;
      case 'list-columns':
        r.listColumns = true;
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
  if (operands.length) {
    if (!/^[0-9]+$/.test(operands[0])) throw new UsageError(`invalid namespace argument: '${operands[0]}'`);
    r.namespace = Number(operands[0]);
    if (r.task !== undefined) throw new UsageError('--task is mutually exclusive with <namespace>');
  }
  if (r.persistent && r.task !== undefined) throw new UsageError('options --persistent and --task cannot be combined');
  if (r.json && r.raw) throw new UsageError('options --json and --raw cannot be combined');
  if (all) r.columns = [...COLUMNS];
  else if (output !== undefined) {
    const list = output.startsWith('+') ? [...defaults(r.types), ...output.slice(1).split(',')] : output.split(',');
    r.columns = list.map((c) => {
      const col = c.toUpperCase();
      if (!(COLUMNS as readonly string[]).includes(col)) throw new UsageError(`unknown column: ${c}`);
      return col as Column;
    });
  } else r.columns = r.namespace !== undefined ? ['PID', 'PPID', 'USER', 'COMMAND'] : defaults(r.types);
  // --output-all draws no tree: lsns fills its columns before it picks the default tree.
  if (all && r.tree === undefined) r.list = true;
  if (filter !== undefined) r.filter = parseFilter(filter, new Map(COLUMNS.map((c) => [c, NUMERIC.has(c)])));
  return r;
}

function defaults(types: NamespaceType[]): Column[] {
  // lsns adds NETNSID and NSFS whenever -t net is among the types.
  return types.includes('net')
    ? ['NS', 'TYPE', 'NPROCS', 'PID', 'USER', 'NETNSID', 'NSFS', 'COMMAND']
    : ['NS', 'TYPE', 'NPROCS', 'PID', 'USER', 'COMMAND'];
}

/** -H: the columns as lsns lists them (name right-aligned, its JSON type, the description). */
export function listColumns(r: LsRequest): string {
  const type = (c: Column) => (NUMERIC.has(c) ? '<integer>' : '<string>');
  if (r.json)
    return `{\n   "lsns-columns": [\n${COLUMNS.map((c) => `      {\n         "holder": "${c}",\n         "type": "${type(c).slice(1, -1)}",\n         "description": "${DESCRIPTIONS[c]}"\n      }`).join(',\n')}\n   ]\n}\n`;
  if (r.raw) return COLUMNS.map((c) => `${c} ${type(c)} ${rawText(DESCRIPTIONS[c])}\n`).join('');
  const w = Math.max(...COLUMNS.map((c) => c.length));
  return COLUMNS.map((c) => `${c.padStart(w)} ${type(c).padEnd(9)} ${DESCRIPTIONS[c]}\n`).join('');
}

/** One process of the positional <namespace>, for its rows. */
export interface ProcessRow {
  pid: number;
  ppid?: number;
  uid: number;
  command: string;
}

/** The processes in namespace `inode` (`info.pids`), read from /proc as lsns shows them. */
export function processesOf(info: NamespaceInfo): ProcessRow[] {
  const out: ProcessRow[] = [];
  for (const pid of info.pids) {
    try {
      const uid = fs.statSync(`/proc/${pid}`).uid;
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      let command = fs.readFileSync(`/proc/${pid}/cmdline`).subarray(0, 8192);
      if (command.length === 0) command = fs.readFileSync(`/proc/${pid}/comm`);
      for (let i = 0; i < command.length; i++) if (command[i] === 0) command[i] = 0x20;
      out.push({ pid, ppid, uid, command: command.subarray(0, command.length - 1).toString('utf8') });
    } catch {
      // gone since the scan
    }
  }
  return out;
}

interface Row {
  info: NamespaceInfo;
  children: Row[];
}

/** The rows to print, as a forest when a tree was asked for. */
export function select(list: NamespaceInfo[], r: LsRequest, users: Map<number, string> = new Map()): Row[] {
  const typed = r.types.length ? list.filter((n) => r.types.includes(n.type)) : list;
  let shown = typed;
  if (r.task !== undefined) shown = shown.filter((n) => n.pids.includes(r.task!));
  if (r.persistent) shown = shown.filter((n) => n.nprocs === 0);
  const f = r.filter;
  const matches = (n: NamespaceInfo) => {
    try {
      return !f || f.matches((c) => cell(c as Column, n, users, r.nowrap));
    } catch (e) {
      if (e instanceof FilterError) throw new UsageError(`failed to apply filter: ${e.message}`);
      throw e;
    }
  };
  if (r.tree === 'owner' || r.tree === 'parent') return relationTree(typed, shown, r.tree, matches);
  shown = shown.filter(matches);
  // -l without -T: lsns's table without the tree, in inode order.
  if (r.list && r.tree === undefined) return shown.map((info) => ({ info, children: [] }));
  // A list, not a map by inode: the rows of a positional <namespace> share one.
  const all = shown.map((info) => ({ info, children: [] as Row[] }));
  const roots: Row[] = [];
  // lsns's default: a row hangs under the row last printed for the parent
  // process of its pid (proc->parent->outline), in print order.
  const lastRowOf = new Map<number, Row>();
  for (const row of all) {
    const p = row.info.ppid !== undefined ? lastRowOf.get(row.info.ppid) : undefined;
    (p ? p.children : roots).push(row);
    if (row.info.pid !== undefined) lastRowOf.set(row.info.pid, row);
  }
  return roots;
}

/**
 * -T owner|parent as lsns's show_namespace builds them: the namespaces in
 * inode order, each one's owner (for `parent`: its parent, or where it has
 * none its owner, unattached) printed first if it has no line yet, even
 * one -p or -P left out; then its line, under the owner's or parent's line.
 * So children come in inode order, whatever their type. A row the filter
 * drops has no line: its children hang at the top.
 */
function relationTree(typed: NamespaceInfo[], shown: NamespaceInfo[], tree: 'owner' | 'parent', matches: (n: NamespaceInfo) => boolean): Row[] {
  const byInode = new Map(typed.map((n) => [n.inode, n]));
  const lineOf = new Map<number, Row>();
  const visiting = new Set<number>();
  const roots: Row[] = [];
  const related = (inode: number | undefined, self: NamespaceInfo) => (inode !== undefined && inode !== self.inode ? byInode.get(inode) : undefined);
  const show = (info: NamespaceInfo) => {
    visiting.add(info.inode);
    const owner = related(info.owner, info);
    const parent = tree === 'parent' ? related(info.parent, info) : undefined;
    const first = tree === 'owner' ? owner : (parent ?? owner);
    if (first && !lineOf.has(first.inode) && !visiting.has(first.inode)) show(first);
    visiting.delete(info.inode);
    if (!matches(info)) return;
    const above = tree === 'owner' ? owner : parent;
    const row: Row = { info, children: [] };
    const p = above ? lineOf.get(above.inode) : undefined;
    (p ? p.children : roots).push(row);
    lineOf.set(info.inode, row);
  };
  for (const info of [...shown].sort((a, b) => a.inode - b.inode)) if (!lineOf.has(info.inode)) show(info);
  return roots;
}

function cell(col: Column, n: NamespaceInfo, users: Map<number, string>, nowrap: boolean): string | number | null {
  switch (col) {
    case 'NS':
      return n.inode;
    case 'TYPE':
      return n.type;
    case 'PATH':
      return n.pid !== undefined ? `/proc/${n.pid}/ns/${n.type}` : null;
    case 'NPROCS':
      return n.nprocs;
    case 'PID':
      return n.pid ?? null;
    case 'PPID':
      return n.ppid ?? null;
    case 'COMMAND':
      return n.command ?? null;
    case 'UID':
      return n.uid;
    case 'USER':
      return users.get(n.uid) ?? String(n.uid);
    case 'NETNSID':
      return n.type !== 'net' || n.netnsid === undefined ? null : n.netnsid < 0 ? 'unassigned' : String(n.netnsid);
    case 'NSFS':
      return n.nsfs.length ? n.nsfs.join(nowrap ? ',' : '\n') : null;
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

/** The rows of the positional <namespace>: one per process in it, with that process's PID, PPID, UID and COMMAND. */
function processRows(list: NamespaceInfo[], r: LsRequest): NamespaceInfo[] {
  const ns = list.find((n) => n.inode === r.namespace && (r.types.length === 0 || r.types.includes(n.type)));
  if (!ns) throw new UsageError(`not found namespace: ${r.namespace}`);
  return processesOf(ns).map((p) => ({ ...ns, ...p }));
}

export function render(list: NamespaceInfo[], r: LsRequest, users = readPasswd(), utf8 = utf8Locale()): string {
  if (r.listColumns) return listColumns(r);
  const rows = r.namespace !== undefined ? select(processRows(list, r), { ...r, types: [], task: undefined, persistent: false, filter: undefined }, users) : select(list, r, users);
  if (r.json) return json(rows, r, users);
  if (rows.length === 0) return ''; // libsmartcols prints no header for an empty table
  const text = r.raw ? rawText : (s: string) => safeText(s, utf8);
  // libsmartcols draws ASCII branches outside a UTF-8 locale.
  const [mid, last, bar] = utf8 ? ['├─', '└─', '│ '] : ['|-', '`-', '| '];
  // The tree column carries the branches and is left-aligned: NS for the
  // owner and parent trees, COMMAND for lsns's default process tree.
  const treeCol = r.tree === 'owner' || r.tree === 'parent' ? 0 : r.list ? -1 : r.columns.indexOf('COMMAND');
  const lines: { prefix: string; cells: string[] }[] = [];
  const walk = (row: Row, prefix: string, branch: string) => {
    const cells = r.columns.map((c, i) => {
      const value = String(cell(c, row.info, users, r.nowrap) ?? '');
      // raw escapes the branches too, byte by byte, as lsns -r does
      if (r.raw && i === treeCol) return text(prefix + branch + value);
      return value.split('\n').map(text).join('\n');
    });
    lines.push({ prefix: prefix + branch, cells });
    row.children.forEach((child, i) => {
      walk(child, prefix + (branch === '' ? '' : branch === mid ? bar : '  '), i === row.children.length - 1 ? last : mid);
    });
  };
  for (const row of rows) walk(row, '', '');
  if (r.raw) {
    const out = r.headings ? [r.columns.join(' ')] : [];
    for (const l of lines) out.push(l.cells.join(' '));
    return out.map((l) => `${l}\n`).join('');
  }
  const table = lines.map((l) => l.cells.map((c, i) => (i === treeCol ? l.prefix + c : c)));
  const header = r.headings ? [r.columns.map(String)] : [];
  const all = [...header, ...table];
  // libsmartcols' count_column_width (util-linux 2.39+, not on a terminal):
  // at least the header (1 without headings), else the widest cell (a
  // multi-line cell, NSFS, by its widest line), widened to the hint when that
  // is wider than both; an empty column without a header takes no room.
  // A loop, not Math.max(...): a host may have more namespaces than a call takes arguments.
  const widths = r.columns.map((c, i) => {
    const widest = table.reduce((w, row) => row[i].split('\n').reduce((m, part) => Math.max(m, part.length), w), 0);
    const min = r.headings ? c.length : 1;
    const hint = HINTS[c] ?? 0;
    if (widest <= min) return widest === 0 && !r.headings ? 0 : min;
    return hint >= 1 && widest < hint && min < hint ? hint : widest;
  });
  const pad = (c: string, i: number, n: number) => (RIGHT.has(r.columns[i]) && i !== treeCol ? c.padStart(widths[i]) : i === n - 1 ? c : c.padEnd(widths[i]));
  const out: string[] = [];
  for (const row of all) {
    const parts = row.map((c) => c.split('\n'));
    out.push(parts.map((p, i) => pad(p[0], i, row.length)).join(' '));
    // Further lines of a multi-line cell: blank under the other columns.
    const height = Math.max(...parts.map((p) => p.length));
    for (let k = 1; k < height; k++) out.push(parts.map((p, i) => pad(p[k] ?? '', i, row.length)).join(' ').trimEnd());
  }
  return out.map((l) => `${l}\n`).join('');
}

function json(rows: Row[], r: LsRequest, users: Map<number, string>): string {
  const value = (v: string | number | null) => (v === null ? 'null' : typeof v === 'number' ? String(v) : jsonText(v));
  const object = (row: Row, indent: string): string => {
    const inner = `${indent}   `;
    const fields = r.columns.map((c) => `${inner}"${c.toLowerCase()}": ${value(cell(c, row.info, users, r.nowrap))}`);
    if (row.children.length) fields.push(`${inner}"children": [\n${array(row.children, `${inner}   `)}\n${inner}]`);
    return `${indent}{\n${fields.join(',\n')}\n${indent}}`;
  };
  const array = (list: Row[], indent: string) =>
    list.length ? list.map((row, i) => (i === 0 ? object(row, indent) : object(row, indent).slice(indent.length))).join(',') : '';
  return `{\n   "namespaces": [\n${array(rows, '      ')}\n   ]\n}\n`;
}
