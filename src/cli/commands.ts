/** The command table. Each command lives in its own file and exports register(program). */
import type { Command } from 'commander';
import { registerImage } from './image.js';
import { registerPlan } from './plan.js';
import { registerSchema } from './schema.js';
import { registerValidate } from './validate.js';

export function registerCommands(program: Command): void {
  registerValidate(program);
  registerPlan(program);
  registerSchema(program);
  registerImage(program);
}
