// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest). The explanation of every reason, word for word.
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { explain, explanationText } from '../../../electron/policy/explain.js';
import type { ExplainQuery } from '../../../electron/policy/explain.js';
import { parseRangeText } from '../../../electron/policy/fields.js';
import type { InterfaceSettings, ResolvedEndpoint, ResolvedPolicy } from '../../../electron/policy/types.js';

const ALICE = 1000;
const BOB = 1001;
const NAMES = new Map([
  [ALICE, 'alice'],
  [BOB, 'bob'],
]);

function endpoint(
  id: number,
  name: string,
  ifaces: string[],
  ranges: string[],
  uids: number[],
  any = false,
): ResolvedEndpoint {
  return {
    id,
    name,
    ifaces,
    ranges: ranges.map((r) => {
      const v = parseRangeText(r).range;
      if (!v) throw new Error(r);
      return v;
    }),
    uids,
    any,
  };
}

function policy(
  endpoints: ResolvedEndpoint[],
  ifaces: Record<string, Partial<InterfaceSettings>>,
): ResolvedPolicy {
  const interfaces = new Map<string, InterfaceSettings>();
  const full = (s: Partial<InterfaceSettings> = {}): InterfaceSettings => ({
    default: 'deny',
    unowned: 'deny',
    essentials: true,
    mode: 'enforce',
    ...s,
  });
  for (const e of endpoints) for (const i of e.ifaces) interfaces.set(i, full(ifaces[i]));
  for (const [i, s] of Object.entries(ifaces)) interfaces.set(i, full(s));
  return { endpoints, interfaces, logAllowed: 'sample' };
}

const IMDS = endpoint(1, 'imds', ['eth0'], ['169.254.169.254/32'], [BOB]);
const WIDE = endpoint(2, 'lab', ['eth1'], ['192.0.2.0/24'], [ALICE]);
const P = policy([IMDS, WIDE], { eth1: { default: 'allow', unowned: 'allow' } });

function q(over: Partial<ExplainQuery> & { dest: string }): ExplainQuery {
  const ip = ipaddr.parse(over.dest);
  const { dest, ...rest } = over;
  void dest;
  return {
    policy: P,
    source: 'policy.yml',
    uid: ALICE,
    nameOf: (u) => NAMES.get(u),
    family: ip.kind() === 'ipv4' ? 4 : 6,
    daddr: Uint8Array.from(ip.toByteArray()),
    iface: 'eth0',
    ...rest,
  };
}

function text(over: Partial<ExplainQuery> & { dest: string }): string {
  return explanationText(explain(q(over)));
}

const CASES: Array<[string, Partial<ExplainQuery> & { dest: string }]> = [
  [
    'endpoint: the listed user is allowed, the endpoint named',
    { dest: '169.254.169.254', uid: BOB, port: 80, proto: 'tcp' },
  ],
  [
    'not-listed: the guarding endpoints and whom they list',
    { dest: '169.254.169.254', port: 80, proto: 'tcp' },
  ],
  [
    'endpoint via *: every user',
    {
      dest: '192.0.2.7',
      iface: 'eth1',
      uid: BOB,
      policy: policy(
        [
          IMDS,
          endpoint(2, 'lab', ['eth1'], ['192.0.2.0/24'], [ALICE]),
          endpoint(3, 'open', ['eth1'], ['192.0.2.0/25'], [], true),
        ],
        {},
      ),
    },
  ],
  [
    'iface-not-listed: guarded, but no endpoint guarding it names the interface',
    { dest: '169.254.169.254', iface: 'eth1' },
  ],
  ['iface-not-listed on an interface no endpoint names', { dest: '169.254.169.254', iface: 'wlan0' }],
  ['interfaces no endpoint names, without --iface: guarded', { dest: '169.254.169.254', iface: undefined }],
  ['interfaces no endpoint names: unguarded passes untouched', { dest: '198.51.100.1', iface: undefined }],
  ['default-deny', { dest: '198.51.100.1' }],
  ['default-allow', { dest: '198.51.100.1', iface: 'eth1' }],
  ['unowned-deny', { dest: '198.51.100.1', uid: null }],
  ['unowned-allow', { dest: '192.0.2.9', uid: null, iface: 'eth1' }],
  [
    'unowned to a guarded range on an interface no endpoint names',
    { dest: '169.254.169.254', uid: null, iface: 'wlan0' },
  ],
  [
    'essentials: a DHCPv4 broadcast passes from the client port',
    { dest: '255.255.255.255', port: 67, proto: 'udp' },
  ],
  ['essentials: DHCPv6 to ff02::1:2', { dest: 'ff02::1:2', port: 547, proto: 'udp' }],
  [
    'essentials: not from another source port',
    { dest: '255.255.255.255', port: 67, proto: 'udp', sport: 5000 },
  ],
  [
    'essentials never cover a guarded range',
    { dest: '169.254.169.254', port: 67, proto: 'udp', dhcpUnicast: true },
  ],
  [
    'essentials: unicast DHCP where the client ports need privilege',
    { dest: '198.51.100.1', port: 67, proto: 'udp', dhcpUnicast: true },
  ],
  [
    'essentials: not for packets without a local socket',
    { dest: '255.255.255.255', port: 67, proto: 'udp', uid: null },
  ],
  [
    'essentials off',
    {
      dest: '255.255.255.255',
      port: 67,
      proto: 'udp',
      policy: policy([IMDS], { eth0: { essentials: false } }),
    },
  ],
  ['essentials: neighbour discovery and MLD', { dest: 'fe80::1', proto: 'icmp' }],
  [
    'audit: would-drop on an audited interface',
    { dest: '198.51.100.1', policy: policy([IMDS], { eth0: { mode: 'audit' } }) },
  ],
  [
    'audit: an allow stays an allow',
    { dest: '169.254.169.254', uid: BOB, policy: policy([IMDS], { eth0: { mode: 'audit' } }) },
  ],
  [
    'audit: interfaces no endpoint names audit when every configured one does',
    { dest: '169.254.169.254', iface: 'wlan0', policy: policy([IMDS], { eth0: { mode: 'audit' } }) },
  ],
  [
    'audit: not when some configured interface enforces',
    {
      dest: '169.254.169.254',
      iface: 'wlan0',
      policy: policy([IMDS], { eth0: { mode: 'audit' }, eth1: {} }),
    },
  ],
  ['a pending trial', { dest: '198.51.100.1', trial: { previousEpoch: 4, secondsLeft: 42 } }],
  ['a uid with no account', { dest: '169.254.169.254', uid: 4242 }],
];

/** Each case's verdict, reason, reported endpoint and exact text. */
const EXPECTED: Record<string, { verdict: string; reason: string; endpoint: string | null; text: string[] }> =
  {
    'endpoint: the listed user is allowed, the endpoint named': {
      verdict: 'allow',
      reason: 'endpoint',
      endpoint: 'imds',
      text: [
        'bob → 169.254.169.254:80 (tcp) on eth0: ALLOW (endpoint imds)',
        '  Policy: policy.yml.',
        '  eth0: default deny, unowned deny, essentials on, mode enforce.',
        '  169.254.169.254 is guarded by one endpoint (a guarded range is guarded on every interface):',
        '    imds (169.254.169.254/32) lets bob reach it through eth0.',
        '  On eth0 imds lists bob: allowed.',
      ],
    },
    'not-listed: the guarding endpoints and whom they list': {
      verdict: 'drop',
      reason: 'not-listed',
      endpoint: null,
      text: [
        'alice → 169.254.169.254:80 (tcp) on eth0: DROP (not-listed)',
        '  Policy: policy.yml.',
        '  eth0: default deny, unowned deny, essentials on, mode enforce.',
        '  169.254.169.254 is guarded by one endpoint (a guarded range is guarded on every interface):',
        '    imds (169.254.169.254/32) lets bob reach it through eth0.',
        '  On eth0 the endpoints that guard it are imds; none lists alice or *: dropped (not-listed).',
      ],
    },
    'endpoint via *: every user': {
      verdict: 'allow',
      reason: 'endpoint',
      endpoint: 'open',
      text: [
        'bob → 192.0.2.7 on eth1: ALLOW (endpoint open)',
        '  Policy: policy.yml.',
        '  eth1: default deny, unowned deny, essentials on, mode enforce.',
        '  192.0.2.7 is guarded by 2 endpoints (a guarded range is guarded on every interface):',
        '    lab (192.0.2.0/24) lets alice reach it through eth1.',
        '    open (192.0.2.0/25) lets every user (*) reach it through eth1.',
        '  On eth1 open lists * (every user): allowed.',
      ],
    },
    'iface-not-listed: guarded, but no endpoint guarding it names the interface': {
      verdict: 'drop',
      reason: 'iface-not-listed',
      endpoint: null,
      text: [
        'alice → 169.254.169.254 on eth1: DROP (iface-not-listed)',
        '  Policy: policy.yml.',
        '  eth1: default allow, unowned allow, essentials on, mode enforce.',
        '  169.254.169.254 is guarded by one endpoint (a guarded range is guarded on every interface):',
        '    imds (169.254.169.254/32) lets bob reach it through eth0.',
        '  None of them names eth1: nobody may reach it through eth1: dropped (iface-not-listed).',
      ],
    },
    'iface-not-listed on an interface no endpoint names': {
      verdict: 'drop',
      reason: 'iface-not-listed',
      endpoint: null,
      text: [
        'alice → 169.254.169.254 on wlan0: DROP (iface-not-listed)',
        '  Policy: policy.yml.',
        '  No endpoint names wlan0 and `interfaces:` does not configure it: only the guarded ranges are checked there, and nobody may reach them through wlan0; everything else passes untouched and unreported.',
        '  169.254.169.254 is guarded by one endpoint (a guarded range is guarded on every interface):',
        '    imds (169.254.169.254/32) lets bob reach it through eth0.',
        '  Nobody may reach a guarded range through wlan0: dropped (iface-not-listed).',
      ],
    },
    'interfaces no endpoint names, without --iface: guarded': {
      verdict: 'drop',
      reason: 'iface-not-listed',
      endpoint: null,
      text: [
        'alice → 169.254.169.254 on interfaces no endpoint names: DROP (iface-not-listed)',
        '  Policy: policy.yml.',
        '  Interfaces no endpoint names (and `interfaces:` does not configure): only the guarded ranges are checked there, and nobody may reach them through such an interface; everything else passes untouched and unreported.',
        '  169.254.169.254 is guarded by one endpoint (a guarded range is guarded on every interface):',
        '    imds (169.254.169.254/32) lets bob reach it through eth0.',
        '  Nobody may reach a guarded range through such an interface: dropped (iface-not-listed).',
      ],
    },
    'interfaces no endpoint names: unguarded passes untouched': {
      verdict: 'pass',
      reason: 'not-configured',
      endpoint: null,
      text: [
        'alice → 198.51.100.1 on interfaces no endpoint names: PASS (not-configured)',
        '  Policy: policy.yml.',
        '  Interfaces no endpoint names (and `interfaces:` does not configure): only the guarded ranges are checked there, and nobody may reach them through such an interface; everything else passes untouched and unreported.',
        '  No endpoint guards 198.51.100.1.',
        '  Not guarded on an interface no endpoint names: passes untouched (not-configured).',
      ],
    },
    'default-deny': {
      verdict: 'drop',
      reason: 'default-deny',
      endpoint: null,
      text: [
        'alice → 198.51.100.1 on eth0: DROP (default-deny)',
        '  Policy: policy.yml.',
        '  eth0: default deny, unowned deny, essentials on, mode enforce.',
        '  No endpoint guards 198.51.100.1: the interface default decides (default deny).',
        '  Unguarded, and default deny on eth0 drops what no endpoint allows, for every account including root: dropped (default-deny).',
      ],
    },
    'default-allow': {
      verdict: 'allow',
      reason: 'default-allow',
      endpoint: null,
      text: [
        'alice → 198.51.100.1 on eth1: ALLOW (default-allow)',
        '  Policy: policy.yml.',
        '  eth1: default allow, unowned allow, essentials on, mode enforce.',
        '  No endpoint guards 198.51.100.1: the interface default decides (default allow).',
        '  Unguarded, with default allow on eth1: allowed (default-allow).',
      ],
    },
    'unowned-deny': {
      verdict: 'drop',
      reason: 'unowned-deny',
      endpoint: null,
      text: [
        '(unowned) → 198.51.100.1 on eth0: DROP (unowned-deny)',
        '  Policy: policy.yml.',
        '  eth0: default deny, unowned deny, essentials on, mode enforce.',
        '  No endpoint guards 198.51.100.1: the interface default decides (default deny).',
        '  Packets without a local socket are decided by unowned deny on eth0: dropped (unowned-deny).',
        '  (unowned) means packets without a local socket: traffic this host forwards or routes (a container or VM behind it) and packets of connections no longer held by a full socket (TIME-WAIT).',
      ],
    },
    'unowned-allow': {
      verdict: 'allow',
      reason: 'unowned-allow',
      endpoint: null,
      text: [
        '(unowned) → 192.0.2.9 on eth1: ALLOW (unowned-allow)',
        '  Policy: policy.yml.',
        '  eth1: default allow, unowned allow, essentials on, mode enforce.',
        '  192.0.2.9 is guarded by one endpoint (a guarded range is guarded on every interface):',
        '    lab (192.0.2.0/24) lets alice reach it through eth1.',
        '  Packets without a local socket are decided by unowned allow on eth1: allowed (unowned-allow).',
        '  (unowned) means packets without a local socket: traffic this host forwards or routes (a container or VM behind it) and packets of connections no longer held by a full socket (TIME-WAIT).',
      ],
    },
    'unowned to a guarded range on an interface no endpoint names': {
      verdict: 'drop',
      reason: 'unowned-deny',
      endpoint: null,
      text: [
        '(unowned) → 169.254.169.254 on wlan0: DROP (unowned-deny)',
        '  Policy: policy.yml.',
        '  No endpoint names wlan0 and `interfaces:` does not configure it: only the guarded ranges are checked there, and nobody may reach them through wlan0; everything else passes untouched and unreported.',
        '  169.254.169.254 is guarded by one endpoint (a guarded range is guarded on every interface):',
        '    imds (169.254.169.254/32) lets bob reach it through eth0.',
        '  Packets without a local socket may not reach a guarded range through an interface no endpoint names: dropped (unowned-deny).',
        '  (unowned) means packets without a local socket: traffic this host forwards or routes (a container or VM behind it) and packets of connections no longer held by a full socket (TIME-WAIT).',
      ],
    },
    'essentials: a DHCPv4 broadcast passes from the client port': {
      verdict: 'allow',
      reason: 'essential',
      endpoint: null,
      text: [
        'alice → 255.255.255.255:67 (udp) on eth0: ALLOW (essential)',
        '  Policy: policy.yml.',
        '  eth0: default deny, unowned deny, essentials on, mode enforce.',
        '  No endpoint guards 255.255.255.255: the interface default decides (default deny).',
        '  Unguarded, and default deny on eth0 drops what no endpoint allows, for every account including root: dropped (default-deny).',
        "  Essentials: sent from the DHCP client port 68 (what a DHCP client does), it passes anyway — the exemption covers what a DHCP client sends (UDP 68→67 to 255.255.255.255) and never a guarded range. From any other source port the policy's verdict holds.",
      ],
    },
    'essentials: DHCPv6 to ff02::1:2': {
      verdict: 'allow',
      reason: 'essential',
      endpoint: null,
      text: [
        'alice → [ff02::1:2]:547 (udp) on eth0: ALLOW (essential)',
        '  Policy: policy.yml.',
        '  eth0: default deny, unowned deny, essentials on, mode enforce.',
        '  No endpoint guards ff02::1:2: the interface default decides (default deny).',
        '  Unguarded, and default deny on eth0 drops what no endpoint allows, for every account including root: dropped (default-deny).',
        "  Essentials: sent from the DHCP client port 546 (what a DHCP client does), it passes anyway — the exemption covers what a DHCP client sends (UDP 546→547 to ff02::1:2) and never a guarded range. From any other source port the policy's verdict holds.",
      ],
    },
    'essentials: not from another source port': {
      verdict: 'drop',
      reason: 'default-deny',
      endpoint: null,
      text: [
        'alice → 255.255.255.255:67 (udp) on eth0: DROP (default-deny)',
        '  Policy: policy.yml.',
        '  eth0: default deny, unowned deny, essentials on, mode enforce.',
        '  No endpoint guards 255.255.255.255: the interface default decides (default deny).',
        '  Unguarded, and default deny on eth0 drops what no endpoint allows, for every account including root: dropped (default-deny).',
        '  The essentials exemption passes what a DHCP client sends (UDP 68→67 to 255.255.255.255) only from the client port 68; from port 5000 the policy decides.',
      ],
    },
    'essentials never cover a guarded range': {
      verdict: 'drop',
      reason: 'not-listed',
      endpoint: null,
      text: [
        'alice → 169.254.169.254:67 (udp) on eth0: DROP (not-listed)',
        '  Policy: policy.yml.',
        '  eth0: default deny, unowned deny, essentials on, mode enforce.',
        '  169.254.169.254 is guarded by one endpoint (a guarded range is guarded on every interface):',
        '    imds (169.254.169.254/32) lets bob reach it through eth0.',
        '  On eth0 the endpoints that guard it are imds; none lists alice or *: dropped (not-listed).',
        '  The essentials exemption passes what a DHCP client sends (UDP 68→67 to 255.255.255.255, and unicast to port 67, since binding port 68 needs privilege here), but never to a guarded range: 169.254.169.254 is guarded, so the policy decides.',
      ],
    },
    'essentials: unicast DHCP where the client ports need privilege': {
      verdict: 'allow',
      reason: 'essential',
      endpoint: null,
      text: [
        'alice → 198.51.100.1:67 (udp) on eth0: ALLOW (essential)',
        '  Policy: policy.yml.',
        '  eth0: default deny, unowned deny, essentials on, mode enforce.',
        '  No endpoint guards 198.51.100.1: the interface default decides (default deny).',
        '  Unguarded, and default deny on eth0 drops what no endpoint allows, for every account including root: dropped (default-deny).',
        "  Essentials: sent from the DHCP client port 68 (what a DHCP client does), it passes anyway — the exemption covers what a DHCP client sends (UDP 68→67 to 255.255.255.255, and unicast to port 67, since binding port 68 needs privilege here) and never a guarded range. From any other source port the policy's verdict holds.",
      ],
    },
    'essentials: not for packets without a local socket': {
      verdict: 'drop',
      reason: 'unowned-deny',
      endpoint: null,
      text: [
        '(unowned) → 255.255.255.255:67 (udp) on eth0: DROP (unowned-deny)',
        '  Policy: policy.yml.',
        '  eth0: default deny, unowned deny, essentials on, mode enforce.',
        '  No endpoint guards 255.255.255.255: the interface default decides (default deny).',
        '  Packets without a local socket are decided by unowned deny on eth0: dropped (unowned-deny).',
        '  Packets without a local socket (forwarded) never use the essentials exemption: the policy decides.',
        '  (unowned) means packets without a local socket: traffic this host forwards or routes (a container or VM behind it) and packets of connections no longer held by a full socket (TIME-WAIT).',
      ],
    },
    'essentials off': {
      verdict: 'drop',
      reason: 'default-deny',
      endpoint: null,
      text: [
        'alice → 255.255.255.255:67 (udp) on eth0: DROP (default-deny)',
        '  Policy: policy.yml.',
        '  eth0: default deny, unowned deny, essentials off, mode enforce.',
        '  No endpoint guards 255.255.255.255: the interface default decides (default deny).',
        '  Unguarded, and default deny on eth0 drops what no endpoint allows, for every account including root: dropped (default-deny).',
        '  essentials is off on eth0: DHCP is decided by the policy like any other traffic.',
      ],
    },
    'essentials: neighbour discovery and MLD': {
      verdict: 'drop',
      reason: 'default-deny',
      endpoint: null,
      text: [
        'alice → fe80::1 (icmp) on eth0: DROP (default-deny)',
        '  Policy: policy.yml.',
        '  eth0: default deny, unowned deny, essentials on, mode enforce.',
        '  No endpoint guards fe80::1: the interface default decides (default deny).',
        '  Unguarded, and default deny on eth0 drops what no endpoint allows, for every account including root: dropped (default-deny).',
        '  IPv6 neighbour discovery and MLD (ICMPv6 types 130–137 and 143, which only the kernel or CAP_NET_RAW sends) pass whatever the destination, a guarded one included (essentials); echo requests (ping) are decided as above.',
      ],
    },
    'audit: would-drop on an audited interface': {
      verdict: 'would-drop',
      reason: 'default-deny',
      endpoint: null,
      text: [
        'alice → 198.51.100.1 on eth0: WOULD-DROP (default-deny)',
        '  Policy: policy.yml.',
        '  eth0: default deny, unowned deny, essentials on, mode audit.',
        '  No endpoint guards 198.51.100.1: the interface default decides (default deny).',
        '  Unguarded, and default deny on eth0 drops what no endpoint allows, for every account including root: would be dropped (default-deny).',
        '  eth0 is in audit mode: nothing is dropped there; this packet passes and is reported as WOULD-DROP.',
      ],
    },
    'audit: an allow stays an allow': {
      verdict: 'allow',
      reason: 'endpoint',
      endpoint: 'imds',
      text: [
        'bob → 169.254.169.254 on eth0: ALLOW (endpoint imds)',
        '  Policy: policy.yml.',
        '  eth0: default deny, unowned deny, essentials on, mode audit.',
        '  169.254.169.254 is guarded by one endpoint (a guarded range is guarded on every interface):',
        '    imds (169.254.169.254/32) lets bob reach it through eth0.',
        '  On eth0 imds lists bob: allowed.',
        '  eth0 is in audit mode, but the policy allows this packet anyway.',
      ],
    },
    'audit: interfaces no endpoint names audit when every configured one does': {
      verdict: 'would-drop',
      reason: 'iface-not-listed',
      endpoint: null,
      text: [
        'alice → 169.254.169.254 on wlan0: WOULD-DROP (iface-not-listed)',
        '  Policy: policy.yml.',
        '  No endpoint names wlan0 and `interfaces:` does not configure it: only the guarded ranges are checked there, and nobody may reach them through wlan0; everything else passes untouched and unreported.',
        '  169.254.169.254 is guarded by one endpoint (a guarded range is guarded on every interface):',
        '    imds (169.254.169.254/32) lets bob reach it through eth0.',
        '  Nobody may reach a guarded range through wlan0: would be dropped (iface-not-listed).',
        '  Every configured interface is in audit mode, so the interfaces no endpoint names audit too: this packet passes and is reported as WOULD-DROP.',
      ],
    },
    'audit: not when some configured interface enforces': {
      verdict: 'drop',
      reason: 'iface-not-listed',
      endpoint: null,
      text: [
        'alice → 169.254.169.254 on wlan0: DROP (iface-not-listed)',
        '  Policy: policy.yml.',
        '  No endpoint names wlan0 and `interfaces:` does not configure it: only the guarded ranges are checked there, and nobody may reach them through wlan0; everything else passes untouched and unreported.',
        '  169.254.169.254 is guarded by one endpoint (a guarded range is guarded on every interface):',
        '    imds (169.254.169.254/32) lets bob reach it through eth0.',
        '  Nobody may reach a guarded range through wlan0: dropped (iface-not-listed).',
        '  Some configured interfaces are in audit mode, but not all: the guarded ranges stay enforced on interfaces no endpoint names.',
      ],
    },
    'a pending trial': {
      verdict: 'drop',
      reason: 'default-deny',
      endpoint: null,
      text: [
        'alice → 198.51.100.1 on eth0: DROP (default-deny)',
        '  Policy: policy.yml.',
        '  This is the verdict of the policy on trial: unless `net-tc-filter confirm` runs, the previous policy (epoch 4) returns in 42 s.',
        '  eth0: default deny, unowned deny, essentials on, mode enforce.',
        '  No endpoint guards 198.51.100.1: the interface default decides (default deny).',
        '  Unguarded, and default deny on eth0 drops what no endpoint allows, for every account including root: dropped (default-deny).',
      ],
    },
    'a uid with no account': {
      verdict: 'drop',
      reason: 'not-listed',
      endpoint: null,
      text: [
        '4242 → 169.254.169.254 on eth0: DROP (not-listed)',
        '  Policy: policy.yml.',
        '  eth0: default deny, unowned deny, essentials on, mode enforce.',
        '  169.254.169.254 is guarded by one endpoint (a guarded range is guarded on every interface):',
        '    imds (169.254.169.254/32) lets bob reach it through eth0.',
        '  On eth0 the endpoints that guard it are imds; none lists uid 4242 or *: dropped (not-listed).',
      ],
    },
  };

describe('explain', () => {
  for (const [name, c] of CASES) {
    it(name, () => {
      const want = EXPECTED[name];
      expect(want, 'an expectation for every case').toBeDefined();
      const e = explain(q(c));
      expect({ verdict: e.verdict, reason: e.reason, endpoint: e.endpoint }).toEqual({
        verdict: want?.verdict,
        reason: want?.reason,
        endpoint: want?.endpoint,
      });
      expect(text(c)).toBe(`${want?.text.join('\n')}\n`);
    });
  }

  it('covers every reason the policy and the essentials give', () => {
    const reasons = new Set(CASES.map(([, c]) => explain(q(c)).reason));
    expect([...reasons].sort()).toEqual([
      'default-allow',
      'default-deny',
      'endpoint',
      'essential',
      'iface-not-listed',
      'not-configured',
      'not-listed',
      'unowned-allow',
      'unowned-deny',
    ]);
  });

  it('gives the structured result the desktop app shows', () => {
    const e = explain(q({ dest: '169.254.169.254', uid: BOB, port: 80, proto: 'tcp' }));
    expect(e).toMatchObject({
      iface: 'eth0',
      user: 'bob',
      uid: BOB,
      destination: '169.254.169.254:80',
      proto: 'tcp',
      verdict: 'allow',
      reason: 'endpoint',
      endpointId: 1,
      endpoint: 'imds',
      audit: false,
    });
    expect(e.lines[0]).toBe('Policy: policy.yml.');
    const v6 = explain(q({ dest: 'fd00:ec2::254', port: 80, iface: undefined }));
    expect(v6).toMatchObject({
      iface: null,
      destination: '[fd00:ec2::254]:80',
      proto: null,
      verdict: 'pass',
    });
  });

  it('names at most 8 listed users, then says how many more', () => {
    const many = endpoint(
      1,
      'many',
      ['eth0'],
      ['10.0.0.0/8'],
      Array.from({ length: 11 }, (_, i) => 2000 + i),
    );
    const e = explain(q({ dest: '10.1.2.3', policy: policy([many], {}) }));
    expect(e.lines).toContain(
      '  many (10.0.0.0/8) lets uid 2000, uid 2001, uid 2002, uid 2003, uid 2004, uid 2005, uid 2006, uid 2007 and 3 more reach it through eth0.',
    );
  });
});
