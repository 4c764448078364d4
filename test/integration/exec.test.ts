/**
 * labctl exec (and the other commands that take NODE plus options) on a real running lab, run from the repository
 * root, whose ./lab.yml is another lab (two-vpcs). labctl's own -f/--lab must be honoured anywhere before `--`,
 * and only there: what follows `--` is the command's, untouched. The test reads the answer inside the container
 * itself (the command's output), never through labctl's own state.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnce, daemonsUp, labctl, residue } from '../helpers/labctl.js';

const LAB = 'it-exec';
const up = await daemonsUp();
const tmp = mkdtempSync(join(tmpdir(), 'labctl-it-exec-'));
const LAB_FILE = join(tmp, 'lab.yml');
// Node names that ./lab.yml (two-vpcs: web, db, client) does not have, so resolving in the wrong lab cannot pass.
writeFileSync(
  LAB_FILE,
  `name: ${LAB}
defaults: { image: labctl/node }
networks:
  xnet: { subnet: 10.67.1.0/24 }
nodes:
  xa: { interfaces: [{ network: xnet, ip: 10.67.1.10 }] }
  xb: { interfaces: [xnet] }
`,
);

/** The address of eth1 inside xa, as the container itself reports it. */
const XA_ADDR = /inet 10\.67\.1\.10\/24/;

describe.runIf(up)('labctl exec NODE [-f FILE | --lab NAME] -- CMD on a running lab', () => {
  beforeAll(async () => {
    await buildOnce();
    await labctl(['down', '--lab', LAB]);
    const r = await labctl(['up', '-f', LAB_FILE]);
    expect(r.exitCode, r.stderr).toBe(0);
  });
  afterAll(async () => {
    try {
      const r = await labctl(['down', '--lab', LAB]);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(await residue(LAB)).toEqual({ containers: [], ovs: 0, links: [], nb: 0, state: false });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('honours -f FILE after NODE, exactly as the README documents it', async () => {
    const r = await labctl(['exec', 'xa', '-f', LAB_FILE, '--', 'ip', '-4', '-o', 'addr', 'show', 'eth1']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(XA_ADDR);
  });

  it('honours --lab NAME after NODE, and -f/--lab before NODE', async () => {
    for (const args of [
      ['exec', 'xa', '--lab', LAB, '--', 'ip', '-4', '-o', 'addr', 'show', 'eth1'],
      ['exec', 'xa', `--lab=${LAB}`, '--', 'ip', '-4', '-o', 'addr', 'show', 'eth1'],
      ['exec', '-f', LAB_FILE, 'xa', '--', 'ip', '-4', '-o', 'addr', 'show', 'eth1'],
      ['exec', '--lab', LAB, 'xa', '--', 'ip', '-4', '-o', 'addr', 'show', 'eth1'],
    ]) {
      const r = await labctl(args);
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      expect(r.stdout, args.join(' ')).toMatch(XA_ADDR);
    }
  });

  it("passes everything after -- to the command, labctl's own option names included", async () => {
    const r = await labctl(['exec', 'xa', '-f', LAB_FILE, '--', 'echo', '--lab', 'nowhere', '-f', 'x.yml']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('--lab nowhere -f x.yml');
  });

  it('without --, the command starts at its first word and keeps its own options', async () => {
    const r = await labctl(['exec', 'xa', '-f', LAB_FILE, 'ip', '-4', '-o', 'addr', 'show', 'eth1']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(XA_ADDR);
  });

  it("exits with the command's exit code", async () => {
    const r = await labctl(['exec', 'xa', '-f', LAB_FILE, '--', 'sh', '-c', 'exit 7']);
    expect(r.exitCode).toBe(7);
  });

  it('a node the lab does not have is an error naming the lab it looked in', async () => {
    const r = await labctl(['exec', 'nosuch', '-f', LAB_FILE, '--', 'true']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`lab ${LAB}`);
    expect(r.stderr).toContain('no node nosuch');
    expect(r.stderr).not.toContain('two-vpcs');
    // a node of ./lab.yml's lab is not taken from there when -f names another lab
    const web = await labctl(['exec', 'web', '--lab', LAB, '--', 'true']);
    expect(web.exitCode).toBe(1);
    expect(web.stderr).toContain(`lab ${LAB}`);
    expect(web.stderr).toContain('no node web');
  });

  it('an unknown option before the command is an error, not passed to nsenter', async () => {
    const r = await labctl(['exec', 'xa', '-f', LAB_FILE, '--bogus', '--', 'true']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('unknown option --bogus');
  });

  it('readdress, link, capture and conntrack honour -f/--lab after NODE too', async () => {
    const cases: string[][] = [
      ['readdress', 'xa', 'eth1', '10.67.1.10', '-f', LAB_FILE],
      ['link', 'xa', 'eth1', 'up', '--lab', LAB],
      ['capture', 'xa', 'eth1', '-f', LAB_FILE, '--seconds', '1', '-c', '1', 'icmp'],
      ['capture', 'xa', 'eth1', 'icmp', '--lab', LAB, '--seconds', '1', '-c', '1'],
      ['conntrack', 'flush', '--node', 'xa', '-f', LAB_FILE],
    ];
    for (const args of cases) {
      const r = await labctl(args);
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      expect(r.stderr, args.join(' ')).not.toContain('two-vpcs');
    }
    const r = await labctl(['link', 'nosuch', 'eth1', 'up', '-f', LAB_FILE]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`lab ${LAB} has no node nosuch`);
    // the address is still the planned one (readdress to the same address changes nothing)
    const addr = await labctl(['exec', 'xa', '--lab', LAB, '--', 'ip', '-4', '-o', 'addr', 'show', 'eth1']);
    expect(addr.stdout).toMatch(XA_ADDR);
  });
});
