// SPDX-License-Identifier: Apache-2.0
// Environment: renderer (pure types). The store's shape: one zustand store made of slices.
import type { StateCreator } from 'zustand';
import type { Client } from '../api.js';
import type { AppSlice } from './app.js';
import type { DetailsSlice } from './details.js';
import type { HistorySlice } from './history.js';
import type { EngineSlice } from './engine.js';
import type { PolicySlice } from './policy.js';
import type { SystemSlice } from './system.js';
import type { TrafficSlice } from './traffic.js';

export type Store = AppSlice &
  PolicySlice &
  SystemSlice &
  TrafficSlice &
  DetailsSlice &
  EngineSlice &
  HistorySlice;

export interface StoreOptions {
  /** Decision rows kept in memory (newest). */
  ringCapacity: number;
  /** Flow rows kept (most recently seen). */
  flowCapacity: number;
  /** Wait after a failed traffic poll. */
  backoffMs: number;
  /** Seconds of allowed/dropped rate history. */
  rateWindowSec: number;
  /** Recent errors kept. */
  errorCapacity: number;
  /** Interval of the engine state poll (getEngine: the header, the trial countdown). */
  enginePollMs: number;
}

export const DEFAULT_OPTIONS: StoreOptions = {
  ringCapacity: 10_000,
  flowCapacity: 5_000,
  backoffMs: 1_000,
  rateWindowSec: 120,
  errorCapacity: 50,
  enginePollMs: 1_000,
};

export interface SliceDeps {
  client: Client;
  opts: StoreOptions;
}

export type Slice<T> = (deps: SliceDeps) => StateCreator<Store, [], [], T>;
