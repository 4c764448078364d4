/** nodes: names, images, environment, interfaces (interfaces.ts) and the services they listen on. */

import type { z } from 'zod';
import { MAX_OBJECT_NAME } from '../../names.js';
import type { nodeSchema } from '../schema.js';
import type { LabNode } from '../types.js';
import type { PathSeg, ValidateContext } from './context.js';
import { IMAGE_HINT, isImageRef } from './image.js';
import { validateInterfaces } from './interfaces.js';
import { nameIssue } from './suggest.js';

type NodeDoc = z.output<typeof nodeSchema>;

const ENV_KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LISTEN_RE = /^(tcp|udp)\/(\d{1,5})$/;

export function validateNodes(ctx: ValidateContext): LabNode[] {
  const { doc, add } = ctx;
  const routerNames = new Set(Object.keys(doc.routers));
  if (ctx.nodeNames.length === 0)
    add(['nodes'], 'the lab has no nodes', 'add at least one node under nodes:', true);
  /** explicit MAC -> node.iface holding it, across the whole lab */
  const macs = new Map<string, string>();
  const nodes: LabNode[] = [];
  for (const [name, n] of Object.entries(doc.nodes)) {
    const p = ['nodes', name];
    const bad = nameIssue(name, MAX_OBJECT_NAME);
    if (bad) add(p, `node name "${name}" ${bad}`, undefined, true);
    if (routerNames.has(name))
      add(p, `node "${name}" has the same name as a router`, 'rename one of them', true);
    // A node built from its own context gets its own image name unless it gives one.
    const image =
      n.image ?? (n.build !== undefined ? `labctl/${doc.name}/${name}:latest` : doc.defaults.image);
    // A bad defaults.image is reported once, at defaults.image (top.ts).
    if (n.image !== undefined && !isImageRef(n.image))
      add([...p, 'image'], `image "${n.image}" is not a valid image reference`, IMAGE_HINT);
    const env = validateEnv(ctx, n, p);
    const interfaces = validateInterfaces(ctx, name, n.interfaces, p, macs);
    const listen = validateListen(ctx, n, p);
    if (listen.length && interfaces.length === 0)
      add([...p, 'listen'], `node ${name} listens but has no interfaces`, 'attach it to a network', true);
    const node: LabNode = { name, image, env, interfaces, listen };
    if (n.build !== undefined) node.build = typeof n.build === 'string' ? { context: n.build } : n.build;
    if (n.cmd !== undefined) node.cmd = typeof n.cmd === 'string' ? ['/bin/sh', '-c', n.cmd] : n.cmd;
    nodes.push(node);
  }
  return nodes;
}

function validateEnv({ add }: ValidateContext, n: NodeDoc, p: PathSeg[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(n.env ?? {})) {
    if (!ENV_KEY_RE.test(k))
      add(
        [...p, 'env', k],
        `environment variable name "${k}" is not valid`,
        'use letters, digits and _',
        true,
      );
    env[k] = String(v);
  }
  return env;
}

function validateListen({ add }: ValidateContext, n: NodeDoc, p: PathSeg[]): LabNode['listen'] {
  const listen: LabNode['listen'] = [];
  n.listen.forEach((l, i) => {
    const m = LISTEN_RE.exec(l.trim());
    const port = m ? Number(m[2]) : 0;
    if (!m || port < 1 || port > 65535) {
      add(
        [...p, 'listen', i],
        `listen entry "${l}" is not proto/port`,
        'e.g. tcp/80 or udp/53 (port 1-65535)',
      );
      return;
    }
    listen.push({ proto: m[1] as 'tcp' | 'udp', port });
  });
  return listen;
}
