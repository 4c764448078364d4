#!/usr/bin/env node
/** labctl entry point: parse flags with commander, dispatch to one file per command, map errors to exit codes. */
import { Command, CommanderError } from 'commander';
import { runCommandEnd } from '../cleanup.js';
import { registerCommands } from './commands.js';
import { reportError } from './output.js';

export async function buildProgram(argv: string[] = process.argv): Promise<Command> {
  const program = new Command('labctl')
    .description('Declarative container network labs on OVN/OVS: up, doctor, down.')
    .version('0.1.0')
    .showHelpAfterError('(run labctl --help for usage)')
    .enablePositionalOptions()
    .exitOverride();
  await registerCommands(program, argv);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = await buildProgram(argv);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; usage errors were already printed by commander.
      return err.exitCode === 0 ? 0 : 1;
    }
    const json = argv.includes('--json');
    return reportError(err, json);
  }
}

// A reader that went away (`labctl plan | head`) is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

main(process.argv).then(
  async (code) => {
    process.exitCode = code;
    await runCommandEnd().catch(() => undefined);
  },
  (err) => {
    process.exitCode = reportError(err);
  },
);
