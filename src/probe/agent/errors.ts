/** How a socket error reads as a probe outcome. */
import type { Outcome, ProbeResult } from '../protocol.js';
import type { Ctx } from './node.js';

export function classifyErrno(code: string | undefined): Outcome {
  switch (code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'ENETDOWN':
      return 'unreachable';
    case 'ETIMEDOUT':
      return 'timeout';
    default:
      return 'error';
  }
}

export function noSocket(ctx: Ctx, proto: string): ProbeResult {
  return {
    outcome: 'error',
    ms: 0,
    code: 'ENOSOCK',
    detail: `no unused ${proto} socket left for ${ctx.node}`,
  };
}
