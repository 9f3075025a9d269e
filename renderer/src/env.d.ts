// SPDX-License-Identifier: Apache-2.0
// Environment: renderer (types only). The preload exposes the contract's functions here.
import type { NetTcFilterApi } from '../../electron/ipc/contract.js';

declare global {
  interface Window {
    /** Missing when the page is opened outside the app (no preload): the UI says so. */
    netTcFilter?: NetTcFilterApi;
  }
}

export {};
