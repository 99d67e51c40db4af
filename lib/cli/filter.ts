// `nsjs ls -Q EXPR`: libsmartcols' filter language (scols-filter(5)), as
// lsns 2.41 takes it. The grammar (filter-parser.y): `||` and `&&` share the
// lowest level and `!`, the comparisons and `=~`/`!~` the one above, each
// left-associative, so `a || b && c` is `(a || b) && c`. A column is a
// holder whose type is its JSON type (number or string); a comparison casts
// both sides to the literal's type, so `NETNSID == '5'` compares strings and
// `NS == 4026531836` numbers. An empty cell (no process: PID) makes a
// numeric comparison false and sorts below every string.
import { UsageError } from './args';

export type Cell = string | number | null;

type Literal = { kind: 'number'; value: number } | { kind: 'float'; value: number } | { kind: 'string'; value: string } | { kind: 'bool'; value: boolean };
type Node =
  | Literal
  | { kind: 'holder'; name: string }
  | { kind: 'not'; arg: Node }
  | { kind: 'op'; op: string; left: Node; right: Node };

/** A parsed filter: the columns it reads, and whether a row passes. */
export interface Filter {
  columns: string[];
  matches(cell: (column: string) => Cell): boolean;
}

const WORDS: Record<string, string> = {
  and: '&&', AND: '&&', or: '||', OR: '||', not: '!', NOT: '!',
  eq: '==', EQ: '==', ne: '!=', NE: '!=', lt: '<', LT: '<', le: '<=', LE: '<=', gt: '>', GT: '>', ge: '>=', GE: '>=',
};
const UNITS = 'KMGTPEZY';

function tokenize(expr: string): (string | Node)[] {
  const out: (string | Node)[] = [];
  let i = 0;
  const fail = () => new UsageError(`failed to parse "${expr}": syntax error`);
  while (i < expr.length) {
    const rest = expr.slice(i);
    let m: RegExpExecArray | null;
    if ((m = /^[ \t\n]+/.exec(rest))) i += m[0].length;
    else if ((m = /^(&&|\|\||==|!=|<=|>=|=~|!~|<|>|!|\(|\))/.exec(rest))) {
      out.push(m[0]);
      i += m[0].length;
    } else if ((m = /^([0-9]+)\.([0-9]+)/.exec(rest))) {
      out.push({ kind: 'float', value: Number(m[0]) });
      i += m[0].length;
    } else if ((m = /^([0-9]+)(?:([KMGTPEZY])(iB)?)?/.exec(rest))) {
      const unit = m[2] ? 1024 ** (UNITS.indexOf(m[2]) + 1) : 1;
      out.push({ kind: 'number', value: Number(m[1]) * unit });
      i += m[0].length;
    } else if ((m = /^"([^"\n]*)"|^'([^'\n]*)'/.exec(rest))) {
      out.push({ kind: 'string', value: m[1] ?? m[2] });
      i += m[0].length;
    } else if ((m = /^[a-zA-Z][a-zA-Z_.%:/\-0-9]*/.exec(rest))) {
      const w = m[0];
      if (WORDS[w]) out.push(WORDS[w]);
      else if (w === 'true' || w === 'TRUE' || w === 'false' || w === 'FALSE') out.push({ kind: 'bool', value: w.toLowerCase() === 'true' });
      else out.push({ kind: 'holder', name: w.toUpperCase() });
      i += w.length;
    } else throw fail();
  }
  return out;
}

function parse(expr: string): Node {
  if (Buffer.byteLength(expr) > 1024) throw new UsageError(`failed to parse "${expr}": expression too long`);
  const tokens = tokenize(expr);
  let pos = 0;
  const fail = (): never => {
    throw new UsageError(`failed to parse "${expr}": syntax error, unexpected ${pos < tokens.length ? 'token' : 'end of file'}`);
  };
  const logical = (): Node => {
    let left = compare();
    while (tokens[pos] === '&&' || tokens[pos] === '||') {
      const op = tokens[pos++] as string;
      left = { kind: 'op', op, left, right: compare() };
    }
    return left;
  };
  const compare = (): Node => {
    let left = unary();
    while (typeof tokens[pos] === 'string' && ['==', '!=', '<', '<=', '>', '>=', '=~', '!~'].includes(tokens[pos] as string)) {
      const op = tokens[pos++] as string;
      left = { kind: 'op', op, left, right: unary() };
    }
    return left;
  };
  const unary = (): Node => {
    const t = tokens[pos++];
    if (t === '!') return { kind: 'not', arg: unary() };
    if (t === '(') {
      const inner = logical();
      if (tokens[pos++] !== ')') fail();
      return inner;
    }
    if (t === undefined || typeof t === 'string') return fail();
    return t;
  };
  const root = logical();
  if (pos !== tokens.length) fail();
  return root;
}

function holders(n: Node, out: Set<string>): Set<string> {
  if (n.kind === 'holder') out.add(n.name);
  else if (n.kind === 'not') holders(n.arg, out);
  else if (n.kind === 'op') {
    holders(n.left, out);
    holders(n.right, out);
  }
  return out;
}

/** Thrown while a row is evaluated: lsns's "failed to apply filter". */
export class FilterError extends Error {}

/**
 * Parses `expr` against the known `columns` (name → whether its JSON type is
 * a number). Throws a UsageError with lsns's messages.
 */
export function parseFilter(expr: string, columns: ReadonlyMap<string, boolean>): Filter {
  const root = parse(expr);
  const used = [...holders(root, new Set())];
  const unknown = used.filter((c) => !columns.has(c));
  if (unknown.length) throw new UsageError([...unknown.map((c) => `unknown column: ${c}`), 'failed to initialize filter'].join('\nnsjs: '));
  type Type = 'number' | 'float' | 'string' | 'bool';
  const typeOf = (n: Node): Type => (n.kind === 'holder' ? (columns.get(n.name) ? 'number' : 'string') : n.kind === 'not' || n.kind === 'op' ? 'bool' : n.kind);
  return {
    columns: used,
    matches(cell) {
      const raw = (n: Node): Cell | boolean => {
        if (n.kind === 'holder') {
          const v = cell(n.name);
          return typeof v === 'string' ? v.trim() || null : v;
        }
        if (n.kind === 'not' || n.kind === 'op') return evaluate(n);
        return n.value;
      };
      const cast = (v: Cell | boolean, type: Type): Cell | boolean => {
        if (v === null) return null;
        if (type === 'bool') return typeof v === 'string' ? v === '1' || v.toLowerCase() === 'true' || v.toLowerCase() === 'yes' : Boolean(v);
        if (type === 'string') return typeof v === 'boolean' ? String(Number(v)) : String(v);
        if (typeof v === 'string') {
          if (!(type === 'float' ? /^[0-9]+(\.[0-9]+)?$/ : /^[0-9]+$/).test(v)) throw new FilterError('Invalid argument');
          return Number(v);
        }
        return Number(v);
      };
      const truthy = (n: Node): boolean => {
        const v = raw(n);
        return v !== null && v !== false && v !== 0 && v !== '';
      };
      const evaluate = (n: Node): boolean => {
        if (n.kind === 'not') return !truthy(n.arg);
        if (n.kind !== 'op') return truthy(n);
        if (n.op === '&&') return truthy(n.left) && truthy(n.right);
        if (n.op === '||') return truthy(n.left) || truthy(n.right);
        if (n.op === '=~' || n.op === '!~') {
          if (n.right.kind !== 'string') throw new FilterError('Invalid argument');
          const left = cast(raw(n.left), 'string');
          if (left === null) return false;
          const hit = new RegExp(n.right.value).test(String(left));
          return n.op === '=~' ? hit : !hit;
        }
        const lt = typeOf(n.left);
        const rt = typeOf(n.right);
        const type: Type =
          lt === rt ? lt : lt === 'bool' || rt === 'bool' ? 'bool' : n.left.kind === 'holder' ? rt : n.right.kind === 'holder' ? lt : lt === 'string' || rt === 'string' ? 'string' : 'float';
        const a = cast(raw(n.left), type);
        const b = cast(raw(n.right), type);
        if (a === null || b === null) {
          if (type !== 'string') return false;
          // NULL sorts below every string
          const c = a === b ? 0 : a === null ? -1 : 1;
          return compare(n.op, c);
        }
        return compare(n.op, a < b ? -1 : a > b ? 1 : 0);
      };
      return evaluate(root.kind === 'op' || root.kind === 'not' ? root : { kind: 'op', op: '&&', left: root, right: { kind: 'bool', value: true } });
    },
  };
}

function compare(op: string, c: number): boolean {
  switch (op) {
    case '==':
      return c === 0;
    case '!=':
      return c !== 0;
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    default:
      return c >= 0;
  }
}
