#!/usr/bin/env node
/**
 * Bundle the CLI after `tsc` has written dist/: dist/labctl.mjs (package.json "bin") and its chunks in dist/chunks/.
 *
 * Why: loading labctl as ~570 separate modules (ours plus dockerode, execa, zod, yaml, commander, listr2 and their
 * dependencies) costs more at start-up than the work of most commands. The entry holds commander and the command
 * table; each command (commands.ts imports them on demand) and each package loaded on first use (dockerode,
 * execa) is a chunk of its own, with shared code in shared chunks, so a command reads and compiles a few files
 * and evaluates only what it uses.
 *
 * What is left out:
 * - dockerode's ./session module (lib/session.js): it loads @grpc/grpc-js and protobufjs, and is only used for
 *   BuildKit builds (buildImage with version: "2"), which labctl never requests. It is replaced by a stub that
 *   fails such a build with a clear error.
 * - dockerode's ./buildkit module (Docker.prototype.followProgress's BuildKit decoding, protobufjs plus a .proto
 *   file read from next to the module); labctl follows build output with docker.modem.followProgress. Stubbed too.
 * - cpu-features (an optional native module of ssh2) stays external (resolved from node_modules when present), and
 *   ssh2's optional native binding (*.node) is left out; ssh2 then uses its JavaScript ciphers. ssh2 itself stays
 *   in (docker-modem's ssh:// transport may be needed for multi-host labs), but is loaded on first use only.
 *
 * dist/src stays as tsc wrote it: tests import it, `node dist/src/cli/main.js` still runs, and the probe agent
 * (dist/src/probe/agent.js) is started from there as a separate program.
 *
 * The perl programs (src/perl/*.pl: probe broker, ICMP shim, tx-offload ioctl) are copied to dist/src/perl, where
 * both dist/src and the bundle find them (src/perl/scripts.ts); tsc copies only TypeScript.
 */
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'src', 'cli', 'main.js');
const outfile = join(root, 'dist', 'labctl.mjs');
const chunksDir = join(root, 'dist', 'chunks');

// ---- the perl programs, next to their loader in dist/src/perl
const perlSrc = join(root, 'src', 'perl');
const perlOut = join(root, 'dist', 'src', 'perl');
mkdirSync(perlOut, { recursive: true });
for (const name of readdirSync(perlSrc).filter((n) => n.endsWith('.pl')))
  copyFileSync(join(perlSrc, name), join(perlOut, name));

const STUBS = {
  // withSession(docker, auth, handler): fail the build through dockerode's own error path.
  session: `
module.exports = function withSession(_docker, _auth, handler) {
  handler(new Error(${JSON.stringify(
    'labctl is bundled without BuildKit session support (dockerode buildImage with version: "2", which needs ' +
      '@grpc/grpc-js): build with the classic builder (no version option)',
  )}), null, () => undefined);
};`,
  // Docker.prototype.followProgress decodes BuildKit output with protobufjs and a .proto file next to the module
  // (which the bundle would not have); labctl follows build output with docker.modem.followProgress.
  buildkit: `
module.exports = {
  followProgress() {
    throw new Error(${JSON.stringify(
      "labctl is bundled without dockerode's BuildKit progress decoding (protobufjs): use docker.modem.followProgress",
    )});
  },
};`,
};

/** dockerode/lib/docker.js: `require('./session')` and `require('./buildkit')` → the stubs above. */
const dockerodeStubs = {
  name: 'dockerode-buildkit-stubs',
  setup(b) {
    b.onResolve({ filter: /^\.\/(session|buildkit)(\.js)?$/ }, (args) => {
      if (!/[/\\]dockerode[/\\]lib[/\\]docker\.js$/.test(args.importer)) return undefined;
      const name = /^\.\/(session|buildkit)/.exec(args.path)[1];
      return { path: name, namespace: 'labctl-dockerode-stub' };
    });
    b.onLoad({ filter: /.*/, namespace: 'labctl-dockerode-stub' }, (args) => ({
      loader: 'js',
      contents: `// labctl's stub of dockerode/lib/${args.path}.js (scripts/bundle.mjs)${STUBS[args.path]}\n`,
    }));
  },
};

/**
 * docker-modem requires its ssh transport (lib/ssh.js, which requires ssh2: ~590 KiB of code and set-up work at
 * load) at the top of lib/modem.js, so every command that talks to Docker would load ssh2 for a local socket. The
 * transport stays in the bundle, but lib/modem.js gets a wrapper that loads it on the first ssh:// connection.
 */
const dockerModemLazySsh = {
  name: 'docker-modem-lazy-ssh',
  setup(b) {
    b.onResolve({ filter: /^\.\/ssh$/ }, (args) =>
      /[/\\]docker-modem[/\\]lib[/\\]modem\.js$/.test(args.importer)
        ? { path: join(dirname(args.importer), 'ssh.js'), namespace: 'labctl-lazy-ssh' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'labctl-lazy-ssh' }, (args) => ({
      loader: 'js',
      resolveDir: dirname(args.path),
      contents: `module.exports = function (opt) { return require(${JSON.stringify(args.path)})(opt); };\n`,
    }));
  },
};

/**
 * Native addons (*.node: ssh2's optional sshcrypto binding) are not bundled. Each becomes a module that throws when
 * loaded, as a missing build would: ssh2 loads its binding in a try/catch and then uses its JavaScript ciphers
 * (an empty module instead would make it believe the binding loaded, and fail on the first ssh connection).
 */
const nativeAddonsThrow = {
  name: 'native-addons-throw',
  setup(b) {
    b.onResolve({ filter: /\.node$/ }, (args) => ({ path: args.path, namespace: 'labctl-native-addon' }));
    b.onLoad({ filter: /.*/, namespace: 'labctl-native-addon' }, (args) => ({
      loader: 'js',
      contents: `throw new Error(${JSON.stringify(`native addon ${args.path} is not part of labctl's bundle`)});\n`,
    }));
  },
};

// ESM output, but bundled CommonJS packages call require() and read __dirname/__filename.
const banner = [
  "import { createRequire as __labctlCreateRequire } from 'node:module';",
  "import { fileURLToPath as __labctlFileURLToPath } from 'node:url';",
  "import { dirname as __labctlDirname } from 'node:path';",
  'const require = __labctlCreateRequire(import.meta.url);',
  'const __filename = __labctlFileURLToPath(import.meta.url);',
  'const __dirname = __labctlDirname(__filename);',
].join('\n');

const result = await build({
  absWorkingDir: root, // metafile paths are relative to it
  entryPoints: { labctl: entry },
  outdir: join(root, 'dist'),
  outExtension: { '.js': '.mjs' },
  // Dynamic imports become chunks: `labctl --version` reads only the entry and four tiny shared chunks.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['cpu-features'],
  banner: { js: banner },
  plugins: [dockerodeStubs, dockerModemLazySsh, nativeAddonsThrow],
  sourcemap: 'linked',
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
});

// Guard: the point of the stub is that gRPC and protobufjs are not in the bundle.
const leaked = Object.keys(result.metafile.inputs).filter((p) =>
  /@grpc[/\\]|protobufjs|proto-loader/.test(p),
);
if (leaked.length) {
  console.error(`bundle: modules that should have been left out are in it:\n  ${leaked.join('\n  ')}`);
  process.exit(1);
}

// Chunks of earlier builds have other hashes. A labctl started before this build still loads its commands' chunks
// lazily (dist is shared: tests, the bench and people run it while someone rebuilds), so old chunks are removed
// only once they are 10 minutes old.
const written = new Set(Object.keys(result.metafile.outputs).map((p) => join(root, p)));
const PRUNE_AFTER_MS = 10 * 60_000;
for (const name of readdirSync(chunksDir)) {
  const path = join(chunksDir, name);
  const file = path.endsWith('.map') ? path.slice(0, -'.map'.length) : path;
  if (written.has(file) || written.has(path)) continue;
  if (Date.now() - statSync(path).mtimeMs > PRUNE_AFTER_MS) rmSync(path, { force: true });
}

const text = readFileSync(outfile, 'utf8');
if (!text.startsWith('#!/usr/bin/env node')) {
  console.error(`bundle: ${relative(root, outfile)} does not start with the #!/usr/bin/env node line`);
  process.exit(1);
}
chmodSync(outfile, 0o755);
const inputs = Object.keys(result.metafile.inputs).length;
const outputs = Object.entries(result.metafile.outputs).filter(([p]) => p.endsWith('.mjs'));
const kib = outputs.reduce((a, [, o]) => a + o.bytes, 0) / 1024;
console.log(
  `bundle: ${relative(root, outfile)} and ${outputs.length - 1} chunks in ${relative(root, chunksDir)}/ (${kib.toFixed(0)} KiB, ${inputs} modules)`,
);
