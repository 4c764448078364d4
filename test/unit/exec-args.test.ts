import { describe, expect, it } from 'vitest';
import { splitCommandArgs } from '../../src/cli/lab-args.js';

describe('splitCommandArgs (labctl exec NODE …)', () => {
  it("reads labctl's -f/--lab anywhere before --, and passes everything after it untouched", () => {
    expect(splitCommandArgs(['-f', 'a.yml', '--', 'ls', '-f', '--lab', 'x'])).toEqual({
      args: { file: 'a.yml' },
      command: ['ls', '-f', '--lab', 'x'],
    });
    expect(splitCommandArgs(['--lab', 'l1', '--file=b.yml', '--', 'true'])).toEqual({
      args: { lab: 'l1', file: 'b.yml' },
      command: ['true'],
    });
    expect(splitCommandArgs(['--lab=l2', '-fc.yml', '--', 'true']).args).toEqual({
      lab: 'l2',
      file: 'c.yml',
    });
  });

  it('keeps the options given before NODE unless repeated after it', () => {
    expect(splitCommandArgs(['--', 'id'], { file: 'x.yml' })).toEqual({
      args: { file: 'x.yml' },
      command: ['id'],
    });
    expect(splitCommandArgs(['-f', 'y.yml', '--', 'id'], { file: 'x.yml' }).args.file).toBe('y.yml');
  });

  it('without --, the command starts at its first word that is not a labctl option', () => {
    expect(splitCommandArgs(['-f', 'a.yml', 'ip', '-4', 'addr'])).toEqual({
      args: { file: 'a.yml' },
      command: ['ip', '-4', 'addr'],
    });
    expect(splitCommandArgs(['ls', '-f', 'x'])).toEqual({ args: {}, command: ['ls', '-f', 'x'] });
  });

  it('an unknown option or a missing value before the command is a usage error', () => {
    expect(() => splitCommandArgs(['--bogus', '--', 'true'])).toThrow(/unknown option --bogus/);
    expect(() => splitCommandArgs(['-x', 'true'])).toThrow(/unknown option -x/);
    expect(() => splitCommandArgs(['-f'])).toThrow(/-f needs a value/);
    expect(() => splitCommandArgs(['--lab', '--', 'true'])).toThrow(/--lab needs a value/);
  });

  it('an empty command stays empty (exec reports it)', () => {
    expect(splitCommandArgs(['--']).command).toEqual([]);
    expect(splitCommandArgs(['-f', 'a.yml']).command).toEqual([]);
  });
});
