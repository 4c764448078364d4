/**
 * What the section validators share: the document, the issue collector, and the lookups earlier sections build
 * for later ones (networks before routers, routers before nodes, …). validate.ts runs the sections in that order,
 * which is also the order issues are reported in at one position.
 */
import type { LabDoc } from '../schema.js';
import type { LabNetwork } from '../types.js';
import { AddressBook, AddressBook6 } from './addresses.js';

export type PathSeg = string | number;

export interface Issue {
  path: PathSeg[];
  message: string;
  hint?: string;
  /** point at the key of the last path segment rather than its value */
  atKey?: boolean;
}

export type AddIssue = (path: PathSeg[], message: string, hint?: string, atKey?: boolean) => void;

/** The address nodes of a network route via: a linking router's, or else the network's own gateway. */
export interface NextHop {
  ip: string;
  by: 'router' | 'gateway';
}

export interface ValidateContext {
  readonly doc: LabDoc;
  readonly issues: Issue[];
  readonly add: AddIssue;
  readonly networkNames: string[];
  readonly nodeNames: string[];
  /** networks whose subnet is valid (the others are reported and left out of address checks) */
  readonly netByName: Map<string, LabNetwork>;
  /** explicit and reserved addresses per network, for duplicates and for counting free ones */
  readonly addresses: AddressBook;
  /** per network; the first router that links it wins */
  readonly nextHops: Map<string, NextHop>;
  /** the IPv6 twins (docs/ipv6.md): explicit and router IPv6 addresses, IPv6 next hops, pending allocations */
  readonly addresses6: AddressBook6;
  readonly nextHops6: Map<string, NextHop>;
  readonly pendingAlloc6: Map<string, PathSeg[][]>;
  /** interfaces without an explicit address, per network in file order: compile allocates them one each */
  readonly pendingAlloc: Map<string, PathSeg[][]>;
}

export function createContext(doc: LabDoc): ValidateContext {
  const issues: Issue[] = [];
  const add: AddIssue = (path, message, hint, atKey = false) => issues.push({ path, message, hint, atKey });
  return {
    doc,
    issues,
    add,
    networkNames: Object.keys(doc.networks),
    nodeNames: Object.keys(doc.nodes),
    netByName: new Map(),
    addresses: new AddressBook(add),
    nextHops: new Map(),
    pendingAlloc: new Map(),
    addresses6: new AddressBook6(add),
    nextHops6: new Map(),
    pendingAlloc6: new Map(),
  };
}
