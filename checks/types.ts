/**
 * The doctor's contract (Check, CheckResult, Status, Layer, the cause codes), for the checks: defined in
 * src/doctor/types.ts and src/doctor/causes.ts, which src/probe and src/host use too without depending on checks/.
 */
export type { Cause, FixAction } from '../src/doctor/causes.js';
export { CAUSES } from '../src/doctor/causes.js';
export type { Check, CheckContext, CheckResult, Layer, Status } from '../src/doctor/types.js';
export { LAYERS } from '../src/doctor/types.js';
