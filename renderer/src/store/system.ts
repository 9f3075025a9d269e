// SPDX-License-Identifier: Apache-2.0
// Environment: renderer (pure store logic).
//
// The system slice: the host's interfaces and accounts (for pickers and warnings), the
// engine's status, and stopping the filter.
import type { Accounts, NetInterface, StatusInfo, StopResult } from '../../../electron/ipc/contract.js';
import { errorMessage } from '../api.js';
import type { Slice } from './types.js';

export interface SystemSlice {
  interfaces: NetInterface[] | null;
  accounts: Accounts | null;
  status: StatusInfo | null;
  stopping: boolean;
  stopResult: StopResult | null;
  refreshSystem(): Promise<void>;
  refreshStatus(): Promise<void>;
  stopFiltering(): Promise<boolean>;
}

export const createSystemSlice: Slice<SystemSlice> =
  ({ client }) =>
  (set, get) => ({
    interfaces: null,
    accounts: null,
    status: null,
    stopping: false,
    stopResult: null,
    refreshSystem: async () => {
      const [ifs, acc] = await Promise.allSettled([client.listInterfaces(), client.listAccounts()]);
      if (ifs.status === 'fulfilled') set({ interfaces: ifs.value });
      else get().recordError('listInterfaces', ifs.reason);
      if (acc.status === 'fulfilled') set({ accounts: acc.value });
      else get().recordError('listAccounts', acc.reason);
    },
    refreshStatus: async () => {
      try {
        const status = await client.getStatus();
        set({ status, appState: status.state });
      } catch (err) {
        get().recordError('getStatus', err);
      }
    },
    stopFiltering: async () => {
      if (get().stopping) return false;
      set({ stopping: true });
      try {
        const stopResult = await client.stopFiltering({ confirm: 'stop-filtering' });
        set({ stopResult });
        get().setNotice({
          kind: 'ok',
          text: `Filtering stopped: removed the filter from ${stopResult.filtersRemoved.length} interface(s) and its state from the kernel (${stopResult.pinsRemoved} objects).`,
        });
        return true;
      } catch (err) {
        get().recordError('stopFiltering', err);
        get().setNotice({ kind: 'error', text: `Stop filtering failed: ${errorMessage(err)}` });
        return false;
      } finally {
        set({ stopping: false });
        await Promise.allSettled([get().refreshState(), get().loadEnforced(), get().refreshStatus()]);
      }
    },
  });
