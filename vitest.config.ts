import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 180_000,
    // Integration suites share one Docker daemon and one OVS/OVN control plane; run files one at a time
    // so timings stay honest on a 2-core machine.
    fileParallelism: false,
  },
});
