// cli/oci/: a failure of the runtime, the one line that goes to stderr and
// to --log. Its own module: light.ts's commands must not load config.ts,
// which loads the index.

export class OciError extends Error {}
