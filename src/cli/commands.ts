/**
 * The command table. Each command lives in its own file and exports register(program). Only the command being
 * run is loaded (its module pulls in what it needs: Docker, OVN, listr2, the doctor suite…), so `labctl validate`
 * does not pay for `labctl doctor` at start-up. The whole table is loaded for the top-level help and for an
 * unknown command (so commander can list and suggest).
 */
import type { Command } from 'commander';

type Register = (program: Command) => void;

/** In the order `labctl --help` lists them. */
export const COMMANDS: Record<string, () => Promise<Register>> = {
  validate: async () => (await import('./validate.js')).registerValidate,
  plan: async () => (await import('./plan.js')).registerPlan,
  schema: async () => (await import('./schema.js')).registerSchema,
  up: async () => (await import('./up.js')).registerUp,
  down: async () => (await import('./down.js')).registerDown,
  status: async () => (await import('./status.js')).registerStatus,
  doctor: async () => (await import('./doctor.js')).registerDoctor,
  graph: async () => (await import('./graph.js')).registerGraph,
  exec: async () => (await import('./exec.js')).registerExec,
  readdress: async () => (await import('./readdress.js')).registerReaddress,
  impair: async () => (await import('./impair.js')).registerImpair,
  link: async () => (await import('./link.js')).registerLink,
  capture: async () => (await import('./capture.js')).registerCapture,
  conntrack: async () => (await import('./conntrack.js')).registerConntrack,
  run: async () => (await import('./run.js')).registerRun,
  measure: async () => (await import('./measure.js')).registerMeasure,
  image: async () => (await import('./image.js')).registerImage,
  host: async () => (await import('./host.js')).registerHost,
  chassis: async () => (await import('./chassis.js')).registerChassis,
};

/** Register the command named in argv (the first word that is not an option), or all of them. */
export async function registerCommands(program: Command, argv: string[] = process.argv): Promise<void> {
  const words = argv.slice(2);
  const name = words.find((a) => !a.startsWith('-'));
  if (name === undefined && words.some((a) => a === '-V' || a === '--version')) return;
  const one = name !== undefined ? COMMANDS[name] : undefined;
  if (one) {
    (await one())(program);
    return;
  }
  for (const register of await Promise.all(Object.values(COMMANDS).map((load) => load()))) register(program);
}
