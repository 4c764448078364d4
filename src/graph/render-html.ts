/**
 * The picture as one self-contained HTML page: the SVG inline, its style and a few lines of script inline, no
 * fetch of anything (a Content-Security-Policy of `default-src 'none'` makes sure of that), so it opens offline and
 * can be mailed or attached to a CI run. Hovering an element shows its tooltip (what it is, each failing result
 * with cause and evidence); clicking pins it in the side panel, which lists the root causes otherwise.
 */
import type { HealthMap } from './health.js';
import { xml } from './render-svg.js';

export interface HtmlOptions {
  title: string;
  health?: HealthMap;
}

const STYLE = `
body { margin: 0; font-family: 'DejaVu Sans', Verdana, 'Segoe UI', Arial, sans-serif; color: #263238; background: #eceff1; }
main { display: flex; align-items: flex-start; gap: 16px; padding: 16px; }
#picture { background: #fff; border: 1px solid #cfd8dc; border-radius: 6px; overflow: auto; max-width: calc(100vw - 400px); }
#picture svg { display: block; }
aside { width: 330px; flex: none; background: #fff; border: 1px solid #cfd8dc; border-radius: 6px; padding: 12px 14px; font-size: 13px; }
aside h2 { font-size: 15px; margin: 0 0 8px; }
aside pre { white-space: pre-wrap; word-break: break-word; font-size: 12px; margin: 2px 0 6px; color: #37474f; }
aside .fail { color: #b71c1c; } aside .warn { color: #bf360c; } aside .pass { color: #1b5e20; }
.el { cursor: pointer; }
.el:hover rect, .el:hover polyline { filter: brightness(0.93); }
.el.pinned rect, .el.pinned polyline { stroke-width: 4; }
#tip { position: fixed; pointer-events: none; display: none; max-width: 520px; background: #263238; color: #fff;
  padding: 8px 10px; border-radius: 4px; font-size: 12px; white-space: pre-wrap; z-index: 10; box-shadow: 0 2px 8px rgba(0,0,0,.3); }
`;

const SCRIPT = `
(function () {
  var tips = JSON.parse(document.getElementById('labctl-tips').textContent);
  var tip = document.getElementById('tip');
  var detail = document.getElementById('detail');
  var summary = detail.innerHTML;
  var pinned = null;
  function idOf(e) { var g = e.target.closest && e.target.closest('[data-id]'); return g && tips[g.getAttribute('data-id')] !== undefined ? g : null; }
  document.addEventListener('mousemove', function (e) {
    var g = idOf(e);
    if (!g) { tip.style.display = 'none'; return; }
    tip.textContent = tips[g.getAttribute('data-id')];
    tip.style.display = 'block';
    var x = Math.min(e.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
    var y = Math.min(e.clientY + 14, window.innerHeight - tip.offsetHeight - 8);
    tip.style.left = x + 'px'; tip.style.top = y + 'px';
  });
  function pin(g) {
    if (pinned) pinned.classList.remove('pinned');
    if (!g || g === pinned) { pinned = null; detail.innerHTML = summary; return; }
    pinned = g; g.classList.add('pinned');
    var pre = document.createElement('pre');
    pre.textContent = tips[g.getAttribute('data-id')];
    var h = document.createElement('h2');
    h.textContent = g.getAttribute('data-id');
    detail.innerHTML = '';
    detail.appendChild(h);
    detail.appendChild(pre);
  }
  document.addEventListener('click', function (e) { pin(idOf(e)); });
  // page.html#node:web opens with that element pinned (a link to one element's results)
  var start = decodeURIComponent(location.hash.slice(1));
  if (start && tips[start] !== undefined)
    pin(Array.prototype.find.call(document.querySelectorAll('[data-id]'), function (g) { return g.getAttribute('data-id') === start; }));
  // the page's script ran (tests read this from the DOM a headless browser dumps)
  document.body.setAttribute('data-ready', String(Object.keys(tips).length));
})();
`;

/** Every element's tooltip, keyed by graph id (the SVG's data-id). */
function tipsOf(svg: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /<g class="el[^"]*" data-id="([^"]+)"[^>]*><title>([^<]*)<\/title>/g;
  const unxml = (s: string) =>
    s.replace(
      /&(amp|lt|gt|quot|apos);/g,
      (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" })[e]!,
    );
  for (let m = re.exec(svg), k = 0; m && k < 100_000; m = re.exec(svg), k++) out[unxml(m[1]!)] = unxml(m[2]!);
  return out;
}

/** The side panel's first content: the root causes with evidence and fix, or "every check passed". */
function summaryHtml(h: HealthMap | undefined): string {
  if (!h)
    return "<h2>Topology</h2><p>Hover an element for its details; run <code>labctl graph --health</code> to colour it by the doctor's results.</p>";
  const items = [...h.labWide.filter((f) => f.status !== 'skip'), ...h.roots];
  if (!items.length)
    return '<h2 class="pass">doctor: every check passed</h2><p>Hover an element for its results.</p>';
  const li = items
    .slice(0, 50)
    .map(
      (f) =>
        `<li class="${f.status === 'warn' ? 'warn' : 'fail'}"><b>${xml(f.cause ?? f.status)}</b>: ${xml(`${f.check} ${f.subject}`)}${f.evidence ? `<pre>${xml(f.evidence)}</pre>` : ''}${f.fix ? `<pre>fix: ${xml(f.fix)}</pre>` : ''}</li>`,
    )
    .join('');
  return `<h2 class="${h.roots.length ? 'fail' : 'warn'}">doctor: ${h.roots.length} root cause${h.roots.length === 1 ? '' : 's'}</h2><ol>${li}</ol><p>Hover an element for its results; click to pin them here.</p>`;
}

/** The page. `svg` is renderSvg()'s output. */
export function renderHtml(svg: string, opts: HtmlOptions): string {
  const tips = tipsOf(svg);
  // </script> cannot appear inside the JSON: escape every '<'
  const json = JSON.stringify(tips).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${xml(opts.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<div id="picture">
${svg.trim()}
</div>
<aside id="detail">${summaryHtml(opts.health)}</aside>
</main>
<div id="tip"></div>
<script type="application/json" id="labctl-tips">${json}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
