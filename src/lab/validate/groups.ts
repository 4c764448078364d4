/** groups: named sets of nodes, usable as from/to in policies. */
import { MAX_OBJECT_NAME } from '../../names.js';
import type { ValidateContext } from './context.js';
import { didYouMean, nameIssue } from './suggest.js';

export function validateGroups({ doc, add, nodeNames }: ValidateContext): Record<string, string[]> {
  const groups: Record<string, string[]> = {};
  for (const [name, members] of Object.entries(doc.groups)) {
    const p = ['groups', name];
    const bad = nameIssue(name, MAX_OBJECT_NAME);
    if (bad) add(p, `group name "${name}" ${bad}`, undefined, true);
    // Policies resolve from/to as a node, a group or a network: one name must not mean two of them.
    if (name in doc.nodes || name in doc.networks)
      add(
        p,
        `group "${name}" has the name of a ${name in doc.nodes ? 'node' : 'network'}`,
        'rename the group',
        true,
      );
    members.forEach((m, i) => {
      if (!(m in doc.nodes))
        add([...p, i], `group ${name} names unknown node "${m}"`, didYouMean(m, nodeNames, 'nodes'));
    });
    groups[name] = [...new Set(members)];
  }
  return groups;
}
