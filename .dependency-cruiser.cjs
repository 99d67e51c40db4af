// The dependency rule of lib/ (shared/DESIGN.md, "Rooms"), checked by
// `npm run lint:deps` and .ci/run: arrows point down only.
//
//   core                     imports nothing of ours
//   ns, fs, policy, cgroup,  core (and their own room)
//   terminal
//   net                      core, ns (its public functions take Namespace handles)
//   spawn                    the rooms above
//   sandbox                  spawn and below
//   features                 anything but cli and index
//   cli                      index and anything below
//   cli/oci                  the public names (from the files the index re-exports) and core
//                            only (nsjs-oci), and policy's OCI seccomp door
//   index                    anything but cli
//
// Type-only imports obey the same arrows (none needs to run up), and no
// cycle is allowed, not even through type-only imports. cgroup/ and sandbox/
// are written down before they exist, so that the issues that add them find
// their arrows here.
const below = (...rooms) => `^lib/(?!(${rooms.join('|')})/)`;

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import cycle, however it is made (a late require() counts, a type-only import too).',
      severity: 'error',
      from: { path: '^lib/' },
      to: { circular: true },
    },
    {
      name: 'core',
      comment: 'core/ imports nothing of ours.',
      severity: 'error',
      from: { path: '^lib/core/' },
      to: { path: below('core') },
    },
    {
      name: 'ns-fs-policy-cgroup-terminal',
      comment: 'ns/, fs/, policy/, cgroup/ and terminal/ import core/ and their own room only.',
      severity: 'error',
      from: { path: '^lib/(ns|fs|policy|cgroup|terminal)/' },
      to: { path: '^lib/', pathNot: '^lib/(core|$1)/' },
    },
    {
      name: 'net',
      comment: 'net/ imports core/ and ns/ (the Namespace its public functions take) only.',
      severity: 'error',
      from: { path: '^lib/net/' },
      to: { path: below('core', 'ns', 'net') },
    },
    {
      name: 'spawn',
      comment: 'spawn/ imports the rooms below it, never sandbox/, features/, cli/ or the index.',
      severity: 'error',
      from: { path: '^lib/spawn/' },
      to: { path: below('core', 'ns', 'fs', 'policy', 'cgroup', 'terminal', 'net', 'spawn') },
    },
    {
      name: 'sandbox',
      comment: 'sandbox/ imports spawn/ and below, never features/, cli/ or the index.',
      severity: 'error',
      from: { path: '^lib/sandbox/' },
      to: { path: below('core', 'ns', 'fs', 'policy', 'cgroup', 'terminal', 'net', 'spawn', 'sandbox') },
    },
    {
      name: 'features',
      comment: 'features/ sits on the rooms, under cli/ and the index.',
      severity: 'error',
      from: { path: '^lib/features/' },
      to: { path: '^lib/(cli/|index\\.ts$)' },
    },
    {
      name: 'cli-on-top',
      comment: 'Nothing but cli/ imports cli/: the index never does (bin/nsjs.js runs it by path).',
      severity: 'error',
      from: { path: '^lib/', pathNot: '^lib/cli/' },
      to: { path: '^lib/cli/' },
    },
    {
      name: 'cli-oci',
      comment: 'cli/oci/ (nsjs-oci) stands on the public names and core/ only (and policy/oci-seccomp.ts, the compiler\'s door for linux.seccomp): not on nsjs\'s own verbs, and no other module of the rooms. It imports the public names from the files the index re-exports them from, never from the index, which loads ten more modules (Sandbox, features, net/, sys) that create does not use, ~12 ms of CPU per create (bench --sections oci).',
      severity: 'error',
      from: { path: '^lib/cli/oci/' },
      to: { path: '^lib/', pathNot: '^lib/(core/|cli/oci/|policy/oci-seccomp\\.ts$|policy/options\\.ts$|ns/namespace\\.ts$|fs/options\\.ts$|spawn/(spawn|run|process|options)\\.ts$)' },
    },
    {
      name: 'index-on-top',
      comment: 'The index is the public names; only cli/ builds on it.',
      severity: 'error',
      from: { path: '^lib/', pathNot: '^lib/cli/' },
      to: { path: '^lib/index\\.ts$' },
    },
    {
      name: 'in-a-room',
      comment: 'Every file of lib/ but the index lives in a room.',
      severity: 'error',
      from: {},
      to: { path: '^lib/[^/]+$', pathNot: '^lib/index\\.ts$' },
    },
    {
      name: 'no-late-import',
      comment: 'No require() or import() of our own modules: an import cycle hidden behind one is still a cycle.',
      severity: 'error',
      from: { path: '^lib/' },
      to: { path: '^lib/', dependencyTypes: ['require', 'dynamic-import'] },
    },
    {
      name: 'one-binding-loader',
      comment: 'core/native.ts is the only module that loads the addon.',
      severity: 'error',
      from: { path: '^lib/', pathNot: '^lib/core/native\\.ts$' },
      to: { path: '(^|/)node_modules/node-gyp-build/' },
    },
    {
      name: 'resolvable',
      comment: 'Every import resolves (a typo in a path would hide an arrow).',
      severity: 'error',
      from: { path: '^lib/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    skipAnalysisNotInRules: true,
  },
};
