// getopt_long(3) as util-linux uses it, on top of node:util's parseArgs.
// parseArgs does the tokenizing (bundles, `--opt=v`, `-Rdir`, `--`); what
// util-linux needs beyond it is added here, each in a few lines:
// - POSIX "+" mode: options end at the first non-option, so the command's own
//   options are never read as ours (parseArgs would read on past positionals);
// - optional values (`--mount-proc[=DIR]`, nsenter's `-m[FILE]`), which exist
//   only attached to the option, never as the next argument;
// - unambiguous abbreviations of long options (`--prop private`);
// - getopt's messages ("unrecognized option '--x'", "option requires an
//   argument -- 'R'").
import { parseArgs } from 'node:util';

/** `none`: a flag; `required`: takes a value, attached or next; `optional`: only attached. */
export type ArgKind = 'none' | 'required' | 'optional';

export interface OptionSpec {
  short?: string;
  arg: ArgKind;
  /** The short form is a plain flag even though the long one takes an optional value (unshare's `-U` vs `--user[=FILE]`). */
  shortIsFlag?: boolean;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** One option as given, in order: `value` is `undefined` for a flag or an absent optional value. */
export interface ParsedOption {
  name: string;
  value: string | undefined;
  /** As written (`-U`, `--user`), for messages. */
  as: string;
}

export interface ParsedArgs {
  options: ParsedOption[];
  /** The command and its arguments: everything from the first non-option, or after `--`. */
  operands: string[];
}

/**
 * A bad command line. `getopt`: the message is getopt's own, and the verb's
 * usage hint follows it (util-linux's errtryhelp); a bad value is one line
 * (errx).
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(
    message: string,
    readonly getopt = false,
  ) {
    super(message);
  }
}

function longName(specs: OptionSpecs, written: string): string {
  if (specs[written]) return written;
  // getopt_long accepts any unambiguous prefix of a long option.
  const matches = Object.keys(specs).filter((name) => name.startsWith(written));
  if (matches.length === 1) return matches[0];
  if (matches.length > 1)
    throw new UsageError(`option '--${written}' is ambiguous; possibilities: ${matches.map((m) => `'--${m}'`).join(' ')}`, true);
  throw new UsageError(`unrecognized option '--${written}'`, true);
}

function shortName(specs: OptionSpecs, letter: string): string {
  const name = Object.keys(specs).find((n) => specs[n].short === letter);
  if (!name) throw new UsageError(`invalid option -- '${letter}'`, true);
  return name;
}

/**
 * Parses `argv` (without the verb) in util-linux style. Throws a UsageError
 * for an unknown or ambiguous option, a missing value, or a value given to a
 * flag.
 */
export function parseCommandLine(argv: readonly string[], specs: OptionSpecs): ParsedArgs {
  // Long options written as abbreviations are expanded first, so that
  // parseArgs knows whether `--prop private` takes the next argument. Only up
  // to the first operand: the command's own arguments are left as they are.
  let args = [...argv];
  for (;;) {
    const { tokens, end } = tokenize(args, specs);
    const abbreviated = tokens.find(
      (t) => t.kind === 'option' && t.rawName.startsWith('--') && !specs[t.name] && t.index < end,
    ) as { index: number; name: string; inlineValue?: boolean; value?: string } | undefined;
    if (!abbreviated) return collect(args, tokens, end, specs);
    const full = longName(specs, abbreviated.name);
    args[abbreviated.index] = args[abbreviated.index].replace(`--${abbreviated.name}`, `--${full}`);
    args = [...args];
  }
}

type Token = NonNullable<ReturnType<typeof parseArgs>['tokens']>[number];

function tokenize(args: string[], specs: OptionSpecs): { tokens: Token[]; end: number } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple: boolean }> = {};
  for (const [name, spec] of Object.entries(specs)) {
    options[name] = { type: spec.arg === 'required' ? 'string' : 'boolean', multiple: true };
    if (spec.short) options[name].short = spec.short;
  }
  // strict: false, so that parseArgs tokenizes everything and the checks
  // (with getopt's wording, optional values, abbreviations) are ours.
  const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true });
  const first = tokens.find((t) => t.kind === 'positional' || t.kind === 'option-terminator');
  return { tokens, end: first ? first.index : args.length };
}

function collect(args: string[], tokens: Token[], end: number, specs: OptionSpecs): ParsedArgs {
  const options: ParsedOption[] = [];
  // Characters already consumed of each bundled short group (`-Upf`), by argv index.
  const used = new Map<number, number>();
  for (const t of tokens) {
    if (t.index >= end) break;
    if (t.kind !== 'option') continue;
    const raw = args[t.index];
    const bundled = !raw.startsWith('--') && raw.length > 2;
    if (bundled && (used.get(t.index) ?? 1) >= raw.length) continue; // eaten as an attached value
    const name = t.rawName.startsWith('--') ? longName(specs, t.name) : shortName(specs, t.rawName.slice(1));
    const spec = specs[name];
    const as = t.rawName.startsWith('--') ? `--${name}` : t.rawName;
    let value = t.value;
    if (spec.shortIsFlag && !t.rawName.startsWith('--')) value = undefined;
    if (bundled) {
      const pos = (used.get(t.index) ?? 1) + 1;
      used.set(t.index, pos);
      // An optional value of a short option is the rest of its group (`-mFILE`).
      if (spec.arg === 'optional' && !spec.shortIsFlag && pos < raw.length) {
        value = raw.slice(pos);
        used.set(t.index, raw.length);
      } else if (spec.arg === 'required' && t.inlineValue) used.set(t.index, raw.length);
    }
    if (spec.arg === 'none' && value !== undefined) throw new UsageError(`option '${as}' doesn't allow an argument`, true);
    if (spec.arg === 'required' && value === undefined)
      throw new UsageError(as.startsWith('--') ? `option '${as}' requires an argument` : `option requires an argument -- '${as.slice(1)}'`, true);
    options.push({ name, value, as });
  }
  let rest = args.slice(end);
  if (rest[0] === '--') rest = rest.slice(1);
  return { options, operands: rest };
}
