import type { Command } from 'commander';
import { labJsonSchema } from '../lab/schema.js';
import { printJson } from './output.js';

export function registerSchema(program: Command): void {
  program
    .command('schema')
    .description('print the JSON Schema of the lab file (for editor completion and checking)')
    .action(() => printJson(labJsonSchema()));
}
