// The kernel-policy flags of `nsjs run` and `nsjs exec` (issue 15 item 5): both keep
// util-linux's defaults (nested namespaces, the caller's terminal, no
// no_new_privs, capabilities as unshare and nsenter leave them, only the TIOCSTI rule);
// `--sandbox` turns on every secure default of the API, and each flag here
// one of them.
import * as fs from 'node:fs';

import type { CapabilityName, SeccompPolicy, SpawnOptions } from '../index';
import { UsageError, type OptionSpecs } from './args';

export const POLICY_OPTIONS: OptionSpecs = {
  sandbox: { arg: 'none' },
  seccomp: { arg: 'required' },
  'allow-userns': { arg: 'none' },
  'disable-userns': { arg: 'none' },
  'cap-add': { arg: 'required' },
  'cap-drop': { arg: 'required' },
  'landlock-read': { arg: 'required' },
  'landlock-write': { arg: 'required' },
};

export const POLICY_HELP = `
Kernel policy (nsjs's own; by default, as unshare and nsenter, none of it):
 --sandbox                 the API's secure defaults: a new session, no_new_privs,
                             no capabilities outside a user namespace, the default
                             seccomp profile, no nested user namespaces
 --seccomp default|none|<file.json>
                           the default profile, no filter at all, or a policy
                             { base, allow, deny, errno } from a JSON file
 --disable-userns          refuse nested user namespaces (even with --seccomp none)
 --allow-userns            allow them (with --sandbox)
 --cap-add <cap>[,<cap>]   keep only these capabilities (CAP_NET_ADMIN or net_admin)
 --cap-drop <cap>[,<cap>]  drop these from what would be kept
 --landlock-read <path>    Landlock: read and execute only below these paths...
 --landlock-write <path>   ...and write only below these (both may repeat)
`;

/** What the flags asked for, in order; applied over the rest of the options at the end. */
export interface PolicyFlags {
  sandbox?: boolean;
  seccomp?: SpawnOptions['seccomp'];
  userns?: boolean;
  add: string[];
  drop: string[];
  read: string[];
  write: string[];
}

export const policyFlags = (): PolicyFlags => ({ add: [], drop: [], read: [], write: [] });

function seccompArg(v: string): SpawnOptions['seccomp'] {
  if (v === 'default') return 'default';
  if (v === 'none') return false;
  let text: string;
  try {
    text = fs.readFileSync(v, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read seccomp policy ${v}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text) as SeccompPolicy;
  } catch (e) {
    throw new UsageError(`seccomp policy ${v} is not JSON: ${(e as Error).message}`);
  }
}

/** Takes one of POLICY_OPTIONS; false for any other option. */
export function policyFlag(name: string, value: string | undefined, f: PolicyFlags): boolean {
  const v = value ?? '';
  switch (name) {
    case 'sandbox':
      f.sandbox = true;
      return true;
    case 'seccomp':
      f.seccomp = seccompArg(v);
      return true;
    case 'allow-userns':
    case 'disable-userns':
      f.userns = name === 'allow-userns';
      return true;
    case 'cap-add':
    case 'cap-drop':
      (name === 'cap-add' ? f.add : f.drop).push(...v.split(',').filter(Boolean));
      return true;
    case 'landlock-read':
    case 'landlock-write':
      (name === 'landlock-read' ? f.read : f.write).push(v);
      return true;
    default:
      return false;
  }
}

/** The flags over the options that unshare's defaults made; spawnIsolated checks the names and paths. */
export function applyPolicy(o: SpawnOptions, f: PolicyFlags): void {
  if (f.sandbox) {
    delete o.noNewPrivileges;
    delete o.newSession;
    delete o.seccomp;
    delete o.capabilities;
    o.allowUserNamespaces = false;
  }
  if (f.seccomp !== undefined) o.seccomp = f.seccomp;
  if (f.userns !== undefined) o.allowUserNamespaces = f.userns;
  const caps = (list: string[]) => list as CapabilityName[];
  if (f.add.length) o.capabilities = { ...o.capabilities, keep: caps(f.add) };
  if (f.drop.length) o.capabilities = { ...o.capabilities, drop: caps(f.drop) };
  if (f.read.length || f.write.length) o.landlock = { read: f.read, write: f.write };
}
