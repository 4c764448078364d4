/**
 * `labctl image build [--force] [IMAGE]`: build labctl's own images ahead of time (CI prebuilds them).
 * IMAGE is labctl/node (default) or labctl/base:bookworm; the base is built first when missing.
 */
import type { Command } from 'commander';
import { connectDocker } from '../drivers/docker-client.js';
import { BASE_IMAGE, buildBuiltinImage, NODE_IMAGE } from '../images/ensure-image.js';

export function registerImage(program: Command): void {
  const image = program
    .command('image')
    .description("labctl's own container images (built offline from Debian packages)");
  image
    .command('build')
    .description(
      `build ${NODE_IMAGE} (and ${BASE_IMAGE} when missing); nothing to do when present unless --force`,
    )
    .argument('[image]', `${NODE_IMAGE} or ${BASE_IMAGE}`, NODE_IMAGE)
    .option('--force', 'rebuild even when the image is present')
    .option('-q, --quiet', 'print only the result line')
    .action(async (name: string, opts: { force?: boolean; quiet?: boolean }) => {
      const docker = await connectDocker();
      const started = Date.now();
      const onProgress = opts.quiet ? undefined : (line: string) => process.stderr.write(`  ${line}\n`);
      const result = await buildBuiltinImage(docker, name, { force: Boolean(opts.force), onProgress });
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      process.stdout.write(
        result === 'present'
          ? `${name}: already present (--force rebuilds)\n`
          : `${name}: built in ${secs} s\n`,
      );
    });
}
