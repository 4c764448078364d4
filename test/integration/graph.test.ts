/**
 * labctl graph on the real thing:
 * - `labctl graph --format svg` on every lab of the repository, from the file (nothing brought up): valid SVG that
 *   names every node, switch and router (read from the SVG's text with an XML parser);
 * - a running lab (gr-graph, the default lab's shape) with one container stopped by `docker stop`: `--health`
 *   (the doctor run by graph) marks that node and its link failed with container-not-running and everything else
 *   healthy, and `--from` a saved `labctl doctor --json` report marks the same;
 * - the HTML page of that run opens in headless Chromium inside a network namespace with no network at all, its
 *   script runs, and the DOM the browser built shows the same marks.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnce, daemonsUp, labctl, ROOT, residue, sh, shMaybe } from '../helpers/labctl.js';

const up = await daemonsUp();
const tmp = mkdtempSync(join(tmpdir(), 'labctl-graph-'));
const LAB = 'gr-graph';
const FILES = [
  'lab.yml',
  'examples/address-change/lab.yml',
  'examples/mtd/lab.yml',
  'examples/ovn-vpc/lab.yml',
  'examples/service-migration/lab.yml',
  'examples/tcp-migration/lab.yml',
];

interface El {
  id: string;
  cls: string;
  status?: string;
  title: string;
}

/** Every `<g data-id>` of an SVG (or of the SVG inside an HTML DOM), with its class, status and tooltip. */
function elementsOf(markup: string): El[] {
  const out: El[] = [];
  const re = /<g class="([^"]*)" data-id="([^"]+)"(?: data-status="([^"]*)")?>(?:<title>([^<]*)<\/title>)?/g;
  for (let m = re.exec(markup), k = 0; m && k < 10_000; m = re.exec(markup), k++)
    out.push({ cls: m[1]!, id: m[2]!, ...(m[3] ? { status: m[3] } : {}), title: m[4] ?? '' });
  return out;
}

function texts(svg: string): string[] {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) {
        if (k === 'text')
          for (const t of [x].flat()) out.push(String((t as { '#text'?: unknown })['#text'] ?? t));
        else walk(x);
      }
  };
  walk(new XMLParser({ ignoreAttributes: false }).parse(svg));
  return out;
}

/** What `labctl plan --json` says the lab has. */
async function planNames(file: string) {
  const r = await labctl(['plan', '-f', file, '--json']);
  expect(r.exitCode, r.stderr).toBe(0);
  const p = JSON.parse(r.stdout) as {
    nodes: { name: string }[];
    switches: { network: string }[];
    routers: { name: string }[];
  };
  return [
    ...p.nodes.map((n) => n.name),
    ...p.switches.map((s) => s.network),
    ...p.routers.map((r) => r.name),
  ];
}

/** The marks of the stopped-web run: web and its link failed with the cause, every other element healthy. */
function expectWebStopped(els: El[]) {
  const byId = new Map(els.map((e) => [e.id, e]));
  const failed = ['node:web', 'iface:web.eth1'];
  for (const id of failed) {
    expect(byId.get(id)?.status, id).toBe('fail');
    expect(byId.get(id)?.title, id).toContain('container-not-running');
  }
  const healthy = [
    'node:db',
    'node:client',
    'iface:db.eth1',
    'iface:client.eth1',
    'rlink:edge.vpc-a',
    'rlink:edge.vpc-b',
    'router:edge',
  ];
  for (const id of healthy) expect(byId.get(id)?.status, `${id}: ${byId.get(id)?.title}`).toBe('pass');
  // nothing else is marked failed
  expect(els.filter((e) => e.status === 'fail').map((e) => e.id)).toEqual(expect.arrayContaining(failed));
  expect(els.filter((e) => e.status === 'fail').length).toBe(failed.length);
}

function chromium(): string {
  for (const c of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) if (existsSync(c)) return c;
  throw new Error('chromium is not installed: bash scripts/setup.sh installs it (apt-get install chromium)');
}

/** Open a page in headless Chromium inside a new network namespace (no interface up: no network at all). */
async function browse(file: string, extra: string[]): Promise<string> {
  return sh(
    'unshare',
    [
      '-n',
      chromium(),
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      `--user-data-dir=${join(tmp, 'chromium')}`,
      ...extra,
      `file://${file}`,
    ],
    90_000,
  );
}

describe.runIf(up)('labctl graph', () => {
  const labFile = join(tmp, 'lab.yml');
  beforeAll(async () => {
    await buildOnce();
    writeFileSync(
      labFile,
      readFileSync(join(ROOT, 'lab.yml'), 'utf8').replace(/^name: two-vpcs$/m, `name: ${LAB}`),
    );
    await labctl(['down', '--lab', LAB]);
  });
  afterAll(async () => {
    await labctl(['down', '--lab', LAB]);
    rmSync(tmp, { recursive: true, force: true });
  });

  it.each(FILES)(
    '%s: --format svg from the file is valid SVG naming every node, switch and router',
    async (file) => {
      const r = await labctl(['graph', '-f', file, '--format', 'svg']);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(XMLValidator.validate(r.stdout)).toBe(true);
      const t = texts(r.stdout);
      const names = await planNames(file);
      expect(names.length).toBeGreaterThan(2);
      for (const n of names) expect(t, n).toContain(n);
    },
  );

  it('gives a usage error with a fix for a bad format and a report of another lab', async () => {
    const bad = await labctl(['graph', '--format', 'png']);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/unknown --format png\nfix: labctl graph --format svg\|html\|dot\|mermaid/);
    const other = join(tmp, 'other.json');
    writeFileSync(other, JSON.stringify({ lab: 'mtd', ok: true, checks: [] }));
    const r = await labctl(['graph', '-f', 'lab.yml', '--from', other]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/report .* is of lab mtd, the plan drawn is of lab two-vpcs\nfix: /);
    const missing = await labctl(['graph', '-f', join(tmp, 'nope.yml')]);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toMatch(/no lab file .*nope\.yml\nfix: labctl graph -f FILE/);
  });

  it('--health after docker stop marks that node and its link failed (container-not-running), the rest healthy; HTML in offline Chromium shows the same', async () => {
    const u = await labctl(['up', '-f', labFile]);
    expect(u.exitCode, u.stderr).toBe(0);
    // healthy first: everything passes
    const healthy = join(tmp, 'healthy.svg');
    const h = await labctl(['graph', '-f', labFile, '--health', '-o', healthy]);
    expect(h.exitCode, h.stderr).toBe(0);
    const hs = readFileSync(healthy, 'utf8');
    expect(XMLValidator.validate(hs)).toBe(true);
    const hEls = elementsOf(hs).filter((e) => e.status);
    expect(hEls.length).toBe(9);
    for (const e of hEls) expect(e.status, `${e.id}: ${e.title}`).toBe('pass');

    await sh('docker', ['stop', '-t', '1', `labctl.${LAB}.web`]);
    const svgFile = join(tmp, 'stopped.svg');
    const s = await labctl(['graph', '-f', labFile, '--health', '--format', 'svg', '-o', svgFile]);
    // the picture is written; the exit code says a check failed
    expect(s.exitCode, s.stderr).toBe(1);
    const svg = readFileSync(svgFile, 'utf8');
    expect(XMLValidator.validate(svg)).toBe(true);
    expectWebStopped(elementsOf(svg));
    expect(texts(svg)).toContain('✖ container-not-running');

    // the same from a saved doctor report
    const d = await labctl(['doctor', '-f', labFile, '--json']);
    expect(d.exitCode).toBe(1);
    const report = join(tmp, 'report.json');
    writeFileSync(report, d.stdout);
    const f = await labctl(['graph', '--lab', LAB, '--from', report]);
    expect(f.exitCode).toBe(1);
    expectWebStopped(elementsOf(f.stdout));

    // the HTML page, offline in a real browser: its script ran and the DOM holds the same marks
    const html = join(tmp, 'stopped.html');
    const g = await labctl(['graph', '-f', labFile, '--from', report, '-o', html]);
    expect(g.exitCode).toBe(1);
    const page = readFileSync(html, 'utf8');
    expect(page).not.toMatch(/\b(?:src|href)\s*=\s*["']?(?:https?:)?\/\//);
    const dom = await browse(html, ['--dump-dom']);
    expect(dom).toMatch(/<body data-ready="\d+"/);
    expectWebStopped(elementsOf(dom));
    expect(dom).toMatch(/doctor: 1 root cause/);
    const png = join(tmp, 'stopped.png');
    await browse(html, [`--screenshot=${png}`, '--window-size=1300,900']);
    expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG');
  }, 240_000);

  it('down leaves nothing of the test lab', async () => {
    const r = await labctl(['down', '--lab', LAB]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await residue(LAB)).toEqual({ containers: [], ovs: 0, links: [], nb: 0, state: false });
    expect((await shMaybe('docker', ['inspect', `labctl.${LAB}.web`])).ok).toBe(false);
  });
});
