/** The lab's own name and its defaults. */
import { MAX_LAB_NAME } from '../../names.js';
import type { ValidateContext } from './context.js';
import { IMAGE_HINT, isImageRef } from './image.js';
import { nameIssue } from './suggest.js';

export function validateTop({ doc, add }: ValidateContext): void {
  const nameProblem = nameIssue(doc.name, MAX_LAB_NAME);
  if (nameProblem) add(['name'], `lab name "${doc.name}" ${nameProblem}`, 'e.g. name: two-vpcs');
  if (!isImageRef(doc.defaults.image))
    add(['defaults', 'image'], `image "${doc.defaults.image}" is not a valid image reference`, IMAGE_HINT);
}
