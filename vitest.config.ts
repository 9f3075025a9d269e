// SPDX-License-Identifier: Apache-2.0
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['tests/unit/**/*.spec.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'kernel',
          include: ['tests/kernel/**/*.spec.ts'],
          // Kernel tests share the machine's bpffs and tc state per namespace; one file at a time
          // keeps their traffic and timing independent on a 2-core machine.
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
