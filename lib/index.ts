export { NsError } from './errors';
export type { NsErrorDetails } from './errors';
export type { NamespaceType } from './validate';
import * as sys from './sys';
export { sys };
export { Namespace } from './namespace';
export type { NamespaceInfo } from './namespace';
export { Process, waitpid } from './process';
export type { ExitStatus, WaitpidOptions } from './process';
