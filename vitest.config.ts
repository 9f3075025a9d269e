// SPDX-License-Identifier: Apache-2.0
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Kernel tests send real traffic between namespaces; one file at a time keeps their
    // traffic and timing independent on a 2-core machine.
    fileParallelism: false,
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
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'ui',
          include: ['tests/ui/**/*.spec.ts'],
          testTimeout: 180_000,
          hookTimeout: 90_000,
        },
      },
    ],
  },
});
