// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.

/** Our filter's handle on the clsact egress hook ("NT"). */
export const FILTER_ID_HANDLE = 0x4e54;
