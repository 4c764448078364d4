/** The command table. Each command lives in its own file and exports register(program). */
import type { Command } from 'commander';
import { registerCapture } from './capture.js';
import { registerConntrack } from './conntrack.js';
import { registerDoctor } from './doctor.js';
import { registerDown } from './down.js';
import { registerExec } from './exec.js';
import { registerHost } from './host.js';
import { registerImage } from './image.js';
import { registerLink } from './link.js';
import { registerPlan } from './plan.js';
import { registerReaddress } from './readdress.js';
import { registerSchema } from './schema.js';
import { registerStatus } from './status.js';
import { registerUp } from './up.js';
import { registerValidate } from './validate.js';

export function registerCommands(program: Command): void {
  registerValidate(program);
  registerPlan(program);
  registerSchema(program);
  registerUp(program);
  registerDown(program);
  registerStatus(program);
  registerDoctor(program);
  registerExec(program);
  registerReaddress(program);
  registerLink(program);
  registerCapture(program);
  registerConntrack(program);
  registerImage(program);
  registerHost(program);
}
