// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * net-tc-filter: per-user egress filter on the tc clsact egress hook.
 *
 * Per packet: read the policy epoch once, look up the interface's settings,
 * then either reuse the verdict cached in the flow entry (one hash lookup) or
 * decide with two lookups: LPM trie (generation, ifindex, daddr) -> set id,
 * hash (generation, set id, uid | ANY) -> endpoint id. See docs/datapath.md.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#include "net_tc_filter.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the engine before load (native-bridge/layouts.ts encodeConfig). The event budget per
 * sending user (GCRA): one event per event_interval_ns on average, bursts of up to
 * event_burst_ns / event_interval_ns events. */
const volatile struct ntf_config config = {
	.overflow_uid = 65534,
	.event_interval_ns = 1000000,	 /* 1,000 events/s */
	.event_burst_ns = 2000000000ull, /* 2,000 events */
};

/*
 * Clocks, each where its semantics are needed (docs/datapath.md "Clocks"):
 *   bpf_ktime_get_coarse_ns()  CLOCK_MONOTONIC_COARSE, the monotonic clock as of the last tick
 *                              (1-4 ms behind, no clock-source read): a flow's first and last
 *                              seen and the 1 s sampling interval, on every packet
 *   bpf_ktime_get_ns()         CLOCK_MONOTONIC, precise: event timestamps and the event budget
 *                              (GCRA at 1 ms per event), read only for a packet that is reported
 *   bpf_ktime_get_boot_ns()    CLOCK_BOOTTIME: the trial deadline (it counts time suspended)
 *   bpf_ktime_get_tai_ns()     CLOCK_TAI: time windows (the wall clock: follows steps and suspend)
 */

#define NTF_PASS TC_ACT_UNSPEC /* allowed: let the next filter (if any) decide */
#define NTF_DROP TC_ACT_SHOT

#define IPPROTO_ICMPV6_ 58
#define IPV6_EXT_MAX 6

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ntf_state);
} ntf_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, NTF_LPM4_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ntf_lpm4_key);
	__type(value, __u32);
} ntf_lpm4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, NTF_LPM6_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ntf_lpm6_key);
	__type(value, __u32);
} ntf_lpm6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NTF_SET_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ntf_set_key);
	__type(value, struct ntf_set_val);
} ntf_sets SEC(".maps");

/* Time windows: (generation, schedule id) -> when which endpoint grants (ntf_set_val). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NTF_SCHEDULE_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ntf_schedule_key);
	__type(value, struct ntf_schedule);
} ntf_schedules SEC(".maps");

/* Per generation (the key): the clock and time zone the schedules are read in (struct
 * ntf_clock). A hash, so that a policy without time windows has no entry. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct ntf_clock);
} ntf_clock SEC(".maps");

/* The cgroups the policy's unit:/cgroup: entries stand for: (generation, cgroup id) -> slot. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NTF_CGROUP_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ntf_cgroup_key);
	__type(value, __u32);
} ntf_cgroups SEC(".maps");

/* Per socket: who created it (ntf_sock_create). Cloned into the sockets accept() returns, which
 * the kernel makes from the listening socket rather than through socket(2). */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct ntf_sk);
} ntf_sk SEC(".maps");

/* Interface settings: (generation, ifindex or NTF_IFINDEX_ANY) -> settings, every interface. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NTF_IFACE_ENTRIES);
	__type(key, struct ntf_iface_key);
	__type(value, struct ntf_iface_cfg);
} ntf_ifaces SEC(".maps");

/* The same settings for ifindex < NTF_IFACE_SLOTS, where the program reads them: element
 * generation * NTF_IFACE_SLOTS + ifindex (present 0: none). User space writes both copies of a
 * generation before the flip, like every other policy map. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * NTF_IFACE_SLOTS);
	__type(key, __u32);
	__type(value, struct ntf_iface_cfg);
} ntf_ifslots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ntf_flow_key);
	__type(value, struct ntf_flow_val);
} ntf_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ntf_counters);
} ntf_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} ntf_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct ntf_budget_key);
	__type(value, struct ntf_budget_val);
} ntf_budget SEC(".maps");

/* User-space bookkeeping only: which interfaces we attached to. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct ntf_attach);
} ntf_attach SEC(".maps");

/*
 * Updating an element of a map-of-maps makes the kernel wait for an RCU grace
 * period, i.e. until every program run that might still hold the old epoch has
 * finished. User space does that after flipping the epoch and before deleting
 * the old generation's entries. The program never reads these maps.
 */
struct ntf_sync_inner_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} ntf_sync_inner SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct ntf_sync_inner_map);
} ntf_sync SEC(".maps") = {
	.values = { [0] = &ntf_sync_inner },
};

/* Generation gen's settings for ifindex (NULL: none): an array lookup, inlined by the verifier,
 * for the interfaces that fit in ntf_ifslots, the hash for the others. */
static __always_inline struct ntf_iface_cfg *iface_cfg(__u32 gen, __u32 ifindex)
{
	if (ifindex < NTF_IFACE_SLOTS) {
		__u32 slot = gen * NTF_IFACE_SLOTS + ifindex;
		struct ntf_iface_cfg *c = bpf_map_lookup_elem(&ntf_ifslots, &slot);

		return c && c->present ? c : NULL;
	}
	struct ntf_iface_key ik = { .gen = gen, .ifindex = ifindex };

	return bpf_map_lookup_elem(&ntf_ifaces, &ik);
}

struct pkt {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u8 family;
	__u8 proto;
	__u8 icmp_type;
	__u8 has_l4;
	__u8 rh_count; /* addresses of a routing header still to visit; 0xff: too many to check */
	__u16 rh_off;	/* offset of the routing header's first address from the network header */
};

#define NTF_RH_TOO_MANY 0xff

static __always_inline int load_net(struct __sk_buff *skb, __u32 off, void *to, __u32 len)
{
	/* Relative to the network header: works on Ethernet and on L3 devices
	 * (WireGuard, tun) alike. */
	return bpf_skb_load_bytes_relative(skb, off, to, len, BPF_HDR_START_NET);
}

static __always_inline void load_l4(struct __sk_buff *skb, struct pkt *p, __u32 off)
{
	if (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP) {
		__be16 ports[2];

		if (load_net(skb, off, ports, sizeof(ports)) == 0) {
			p->sport = bpf_ntohs(ports[0]);
			p->dport = bpf_ntohs(ports[1]);
			p->has_l4 = 1;
		}
	} else if (p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6_) {
		if (load_net(skb, off, &p->icmp_type, 1) == 0)
			p->has_l4 = 1;
	}
}

static __always_inline int parse_v4(struct __sk_buff *skb, struct pkt *p)
{
	struct iphdr ip;

	if (load_net(skb, 0, &ip, sizeof(ip)) < 0 || ip.version != 4 || ip.ihl < 5)
		return -1;
	p->family = NTF_AF_INET;
	p->proto = ip.protocol;
	__builtin_memcpy(p->saddr, &ip.saddr, 4);
	__builtin_memcpy(p->daddr, &ip.daddr, 4);
	/* Later fragments carry no L4 header. */
	if ((bpf_ntohs(ip.frag_off) & 0x1fff) == 0)
		load_l4(skb, p, ip.ihl * 4);
	return 0;
}

/*
 * An IPv6 routing header (segment routing, type 4, which unprivileged users may set with
 * IPV6_RTHDR; type 2; the deprecated type 0) lists addresses the packet goes on to. Every type
 * keeps them as 16-byte addresses from offset 8; type 4 says how many in last_entry, the others
 * fill the header with them. Exhausted headers (segments left 0) send the packet nowhere else.
 */
static __always_inline void rh_seen(struct __sk_buff *skb, struct pkt *p, __u32 off, __u8 hdrlen)
{
	__u8 rh[5];
	__u32 n;

	if (load_net(skb, off, rh, sizeof(rh)) < 0) {
		p->rh_count = NTF_RH_TOO_MANY; /* cannot read it: refuse rather than guess */
		return;
	}
	if (rh[3] == 0)
		return;
	if (p->rh_count != 0) {
		p->rh_count = NTF_RH_TOO_MANY; /* two routing headers: invalid (RFC 8200), refuse */
		return;
	}
	n = rh[2] == 4 ? (__u32)rh[4] + 1 : (__u32)hdrlen / 2;
	if (n == 0)
		return;
	p->rh_count = n > NTF_RH_MAX ? NTF_RH_TOO_MANY : n;
	p->rh_off = off + 8;
}

static __always_inline int parse_v6(struct __sk_buff *skb, struct pkt *p)
{
	struct ipv6hdr ip6;
	__u32 off = sizeof(ip6);
	__u8 nh;

	if (load_net(skb, 0, &ip6, sizeof(ip6)) < 0 || ip6.version != 6)
		return -1;
	p->family = NTF_AF_INET6;
	__builtin_memcpy(p->saddr, &ip6.saddr, 16);
	__builtin_memcpy(p->daddr, &ip6.daddr, 16);
	nh = ip6.nexthdr;

	/* Walk extension headers (MLD reports come behind a hop-by-hop header). */
#pragma unroll
	for (int i = 0; i < IPV6_EXT_MAX; i++) {
		__u8 ext[2];

		if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING && nh != IPPROTO_DSTOPTS &&
		    nh != IPPROTO_FRAGMENT && nh != IPPROTO_AH)
			break;
		if (load_net(skb, off, ext, sizeof(ext)) < 0) {
			p->proto = nh;
			return 0;
		}
		if (nh == IPPROTO_FRAGMENT) {
			__be16 frag;

			if (load_net(skb, off + 2, &frag, sizeof(frag)) < 0 ||
			    (bpf_ntohs(frag) & 0xfff8) != 0) {
				p->proto = ext[0];
				return 0; /* a later fragment: no L4 header */
			}
			off += 8;
		} else if (nh == IPPROTO_AH) {
			off += ((__u32)ext[1] + 2) * 4;
		} else if (nh == IPPROTO_ROUTING) {
			rh_seen(skb, p, off, ext[1]);
			off += ((__u32)ext[1] + 1) * 8;
		} else {
			off += ((__u32)ext[1] + 1) * 8;
		}
		nh = ext[0];
	}
	p->proto = nh;
	load_l4(skb, p, off);
	return 0;
}

/*
 * Direct packet access where the link-layer header length is known (one bounds check instead
 * of helper calls: measured ~70 ns less per packet). Returns -1 to ask for the helper path:
 * unknown link layer, headers outside the linear data, IPv4 options, IPv6 extension headers.
 */
static __always_inline int parse_direct(struct __sk_buff *skb, void *nh, struct pkt *p)
{
	void *end = (void *)(long)skb->data_end;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = nh;

		if ((void *)(ip + 1) > end || ip->version != 4 || ip->ihl != 5)
			return -1;
		p->family = NTF_AF_INET;
		p->proto = ip->protocol;
		__builtin_memcpy(p->saddr, &ip->saddr, 4);
		__builtin_memcpy(p->daddr, &ip->daddr, 4);
		if ((bpf_ntohs(ip->frag_off) & 0x1fff) != 0)
			return 0; /* a later fragment: no L4 header */
		nh = ip + 1;
	} else {
		struct ipv6hdr *ip6 = nh;

		if ((void *)(ip6 + 1) > end || ip6->version != 6)
			return -1;
		if (ip6->nexthdr != IPPROTO_TCP && ip6->nexthdr != IPPROTO_UDP && ip6->nexthdr != IPPROTO_ICMPV6_)
			return -1; /* extension headers: walked by the helper path */
		p->family = NTF_AF_INET6;
		p->proto = ip6->nexthdr;
		__builtin_memcpy(p->saddr, &ip6->saddr, 16);
		__builtin_memcpy(p->daddr, &ip6->daddr, 16);
		nh = ip6 + 1;
	}
	if (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP) {
		__be16 *ports = nh;

		if ((void *)(ports + 2) > end)
			return -1;
		p->sport = bpf_ntohs(ports[0]);
		p->dport = bpf_ntohs(ports[1]);
		p->has_l4 = 1;
	} else if (p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6_) {
		__u8 *type = nh;

		if ((void *)(type + 1) > end)
			return -1;
		p->icmp_type = *type;
		p->has_l4 = 1;
	}
	return 0;
}

static __always_inline int parse(struct __sk_buff *skb, const struct ntf_iface_cfg *cfg, struct pkt *p)
{
	void *data = (void *)(long)skb->data;
	int ok = -1;

	if (skb->protocol != bpf_htons(ETH_P_IP) && skb->protocol != bpf_htons(ETH_P_IPV6))
		return -1;
	if (cfg->l2_len == ETH_HLEN) {
		struct ethhdr *eth = data;

		/* The frame must really start with the Ethernet header we expect. */
		if ((void *)(eth + 1) <= (void *)(long)skb->data_end && eth->h_proto == skb->protocol)
			ok = parse_direct(skb, eth + 1, p);
	} else if (cfg->l2_len == 0) {
		ok = parse_direct(skb, data, p);
	}
	if (ok == 0)
		return 0;
	__builtin_memset(p, 0, sizeof(*p));
	if (skb->protocol == bpf_htons(ETH_P_IP))
		return parse_v4(skb, p);
	return parse_v6(skb, p);
}

/* IPv6 neighbour discovery (133-137) and MLD (130-132, 143): only the kernel (or a raw
 * socket, CAP_NET_RAW) sends these types; unprivileged ICMPv6 sockets send echo requests only.
 * Exempt whatever the destination: neighbour unreachability detection probes the guarded
 * neighbour itself, and an ND message carries nothing to a service. */
static __always_inline int is_nd(const struct pkt *p)
{
	__u8 t = p->icmp_type;

	return p->has_l4 && p->proto == IPPROTO_ICMPV6_ && p->family == NTF_AF_INET6 &&
	       ((t >= 130 && t <= 137) || t == 143);
}

/*
 * What a DHCP client sends: DHCPv4 68 -> 67 to the limited broadcast (DISCOVER, REQUEST,
 * rebinding), DHCPv6 546 -> 547 to All_DHCP_Relay_Agents_and_Servers (ff02::1:2). Unicast
 * (DHCPv4 renewals, RFC 2131 4.4.5; DHCPv6 with a server-unicast option) only where binding
 * the client ports needs privilege (cfg->dhcp_unicast, from net.ipv4.ip_unprivileged_port_start):
 * otherwise any user could bind 68 and talk to any host's port 67. Never a guarded range:
 * the caller checks that.
 */
static __always_inline int is_dhcp_client(const struct pkt *p, const struct ntf_iface_cfg *cfg)
{
	if (!p->has_l4 || p->proto != IPPROTO_UDP)
		return 0;
	if (p->family == NTF_AF_INET) {
		if (p->sport != 68 || p->dport != 67)
			return 0;
		return cfg->dhcp_unicast || (p->daddr[0] == 255 && p->daddr[1] == 255 && p->daddr[2] == 255 &&
					      p->daddr[3] == 255);
	}
	if (p->sport != 546 || p->dport != 547)
		return 0;
	if (cfg->dhcp_unicast)
		return 1;
	/* ff02::1:2 */
	return p->daddr[0] == 0xff && p->daddr[1] == 0x02 && p->daddr[2] == 0 && p->daddr[3] == 0 &&
	       p->daddr[4] == 0 && p->daddr[5] == 0 && p->daddr[6] == 0 && p->daddr[7] == 0 &&
	       p->daddr[8] == 0 && p->daddr[9] == 0 && p->daddr[10] == 0 && p->daddr[11] == 0 &&
	       p->daddr[12] == 0 && p->daddr[13] == 1 && p->daddr[14] == 0 && p->daddr[15] == 2;
}

static __always_inline __u32 *lpm_lookup(__u32 gen, __u32 lpm_if, __u8 family, const __u8 *daddr)
{
	if (family == NTF_AF_INET) {
		struct ntf_lpm4_key k = { .prefixlen = 64 + 32, .gen = gen, .ifindex = lpm_if };

		__builtin_memcpy(k.addr, daddr, 4);
		return bpf_map_lookup_elem(&ntf_lpm4, &k);
	}
	struct ntf_lpm6_key k = { .prefixlen = 64 + 128, .gen = gen, .ifindex = lpm_if };

	__builtin_memcpy(k.addr, daddr, 16);
	return bpf_map_lookup_elem(&ntf_lpm6, &k);
}

/*
 * A packet with a routing header is judged by the first address it lists that is guarded (it
 * would reach that address), or by its destination when none is. Returns the trie entry for
 * the address judged (NULL: unguarded) and leaves that address in p->daddr; -1 in *refuse when
 * the header lists more than NTF_RH_MAX addresses.
 */
static __always_inline __u32 *judge_routing(struct __sk_buff *skb, __u32 gen, __u32 lpm_if, struct pkt *p,
					    __u8 *flags, int *refuse)
{
	__u32 *hit = NULL;

	if (p->rh_count == NTF_RH_TOO_MANY) {
		*refuse = 1;
		return NULL;
	}
	for (int i = 0; i < NTF_RH_MAX; i++) {
		__u8 a[16];

		if (i >= p->rh_count)
			break;
		if (load_net(skb, (__u32)p->rh_off + i * 16, a, sizeof(a)) < 0) {
			*refuse = 1;
			return NULL;
		}
		hit = lpm_lookup(gen, lpm_if, NTF_AF_INET6, a);
		if (hit) {
			__builtin_memcpy(p->daddr, a, 16);
			*flags |= NTF_EVENT_ROUTED;
			return hit;
		}
	}
	return lpm_lookup(gen, lpm_if, p->family, p->daddr);
}

struct decision {
	__u32 endpoint_id;
	__u8 verdict;
	__u8 reason;
};

/*
 * Time windows. The functions below are global (not inlined): the verifier checks each once, on
 * its own, instead of once per path through its callers (the cgroup levels, uid and NTF_UID_ANY),
 * which would take it past its instruction limit.
 */

/* *second: 0 before a time window is read; then the CLOCK_TAI ns at which the second read
 * started, or NTF_SECOND_MIXED when the reads of one decision fell in different seconds (not
 * cached). */
#define NTF_SECOND_MIXED (~0ull)
#define NTF_NS_PER_SEC 1000000000ull

/* The second of the local week now (Monday 00:00 = 0), as ntf_clock[gen] says; NTF_WEEK_SEC
 * (inside no segment: nothing granted) when the generation has no clock. Notes the second read
 * in *second (above). */
__attribute__((noinline)) __u32 ntf_week_second(__u32 gen, __u64 *second)
{
	struct ntf_clock *c = bpf_map_lookup_elem(&ntf_clock, &gen);

	if (!c || c->count == 0)
		return NTF_WEEK_SEC;
	__u64 tai = bpf_ktime_get_tai_ns();
	__u64 since = tai - (__u64)c->tai_minus_utc_ns; /* UTC ns: TAI - UTC is whole seconds */
	__u64 start = tai - since % NTF_NS_PER_SEC;

	if (second)
		*second = *second == 0 || *second == start ? start : NTF_SECOND_MIXED;
	__s64 utc = (__s64)(since / NTF_NS_PER_SEC);
	__s32 off = c->tz[0].offset_sec;

	for (int i = 1; i < NTF_TZ_TRANSITIONS; i++) {
		if (i >= c->count || c->tz[i].from_utc_sec > utc)
			break;
		off = c->tz[i].offset_sec;
	}
	__u64 local = (__u64)(utc + off);

	/* 1970-01-01 was a Thursday: + 3 days makes Monday day 0 of the week. */
	return (__u32)(((local / 86400 + 3) % 7) * 86400 + local % 86400);
}

/* The endpoint schedule `id` of generation `gen` grants through at second `sow` of the week (0:
 * none then). */
__attribute__((noinline)) __u32 ntf_schedule_grant(__u32 gen, __u32 id, __u32 sow)
{
	struct ntf_schedule_key k = { .gen = gen, .id = id };
	struct ntf_schedule *s = bpf_map_lookup_elem(&ntf_schedules, &k);

	if (!s)
		return 0;
	for (int i = 0; i < NTF_SCHEDULE_SEGMENTS; i++) {
		if (i >= s->count || s->seg[i].start > sow)
			break;
		if (sow < s->seg[i].end)
			return s->seg[i].endpoint_id;
	}
	return 0;
}

/* NTF_GRANT_TIMED in ntf_set_grant's result: a schedule was consulted (the verdict depends on the
 * time, and is not cached). */
#define NTF_GRANT_TIMED (1ull << 32)

/* The endpoint granting (uid, then NTF_UID_ANY) in the cgroup slot `cg` now, in the low 32 bits
 * (0: none), NTF_GRANT_TIMED when that took a time window. */
__attribute__((noinline)) __u64 ntf_set_grant(__u32 gen, __u32 set_id, __u32 uid, __u32 cg, __u64 *second)
{
	struct ntf_set_key sk = { .gen = gen, .set_id = set_id, .uid = uid, .cg = cg };
	__u64 timed = 0;
	__u32 sow = NTF_WEEK_SEC + 1; /* not read yet */

	for (int pass = 0; pass < 2; pass++) {
		struct ntf_set_val *v = bpf_map_lookup_elem(&ntf_sets, &sk);

		if (v) {
			if (v->schedule_id == 0)
				return timed | v->endpoint_id;
			timed = NTF_GRANT_TIMED;
			if (sow > NTF_WEEK_SEC)
				sow = ntf_week_second(gen, second);
			__u32 ep = ntf_schedule_grant(gen, v->schedule_id, sow);

			if (ep)
				return timed | ep;
		}
		sk.uid = NTF_UID_ANY;
	}
	return timed;
}

/* ntf_set_grant, noting in *timed when a time window decided (and in *second when). */
static __always_inline __u32 set_lookup(__u32 gen, __u32 set_id, __u32 uid, __u32 cg, int *timed,
					__u64 *second)
{
	__u64 g = ntf_set_grant(gen, set_id, uid, cg, second);

	if (g & NTF_GRANT_TIMED)
		*timed = 1;
	return (__u32)g;
}

/*
 * The policy's unit:/cgroup: entries: the sending socket's cgroup and its ancestors, at the levels
 * the policy names a cgroup at (cfg->cg_levels), each looked up in ntf_cgroups; a slot found
 * there is tried like the plain entries. *consulted is set when a level was checked: a drop then
 * depends on ids user space keeps current and is not cached (a restarted unit's first packets
 * would otherwise keep its drop after the engine has added its new cgroup).
 */
static __always_inline __u32 cgroup_lookup(struct __sk_buff *skb, __u32 gen, __u32 levels, __u32 set_id,
					   __u32 uid, int *consulted, int *timed, __u64 *second)
{
	for (int level = 0; level < NTF_CG_LEVELS; level++) {
		if (!(levels & (1u << level)))
			continue;
		__u64 id = bpf_skb_ancestor_cgroup_id(skb, level);

		*consulted = 1;
		if (id == 0)
			break; /* the socket's cgroup is above this level */

		struct ntf_cgroup_key ck = { .gen = gen, .id = id };
		__u32 *slot = bpf_map_lookup_elem(&ntf_cgroups, &ck);

		if (!slot)
			continue;
		__u32 ep = set_lookup(gen, set_id, uid, *slot, timed, second);

		if (ep)
			return ep;
	}
	return 0;
}

static __always_inline void decide(struct __sk_buff *skb, __u32 gen, const struct ntf_iface_cfg *cfg,
				   __u32 *set_id, __u32 uid, int unowned, struct decision *d, int *consulted,
				   int *timed, __u64 *second)
{
	d->endpoint_id = 0;
	if (!set_id) {
		/* Unguarded destination. */
		if (cfg->default_allow) {
			d->verdict = NTF_VERDICT_ALLOW;
			d->reason = NTF_REASON_DEFAULT_ALLOW;
			return;
		}
		if (!unowned) {
			d->verdict = NTF_VERDICT_DROP;
			d->reason = NTF_REASON_DEFAULT_DENY;
			return;
		}
	}
	if (unowned) {
		d->verdict = cfg->unowned_allow ? NTF_VERDICT_ALLOW : NTF_VERDICT_DROP;
		d->reason = cfg->unowned_allow ? NTF_REASON_UNOWNED_ALLOW : NTF_REASON_UNOWNED_DENY;
		return;
	}
	if (!set_id)
		return; /* not reached: unguarded and owned was decided above */
	if (*set_id == 0) {
		/* Guarded, but no endpoint that guards it names this interface. */
		d->verdict = NTF_VERDICT_DROP;
		d->reason = NTF_REASON_IFACE_NOT_LISTED;
		return;
	}

	__u32 ep = set_lookup(gen, *set_id, uid, NTF_CG_ANY, timed, second);

	if (!ep && cfg->cg_levels)
		ep = cgroup_lookup(skb, gen, cfg->cg_levels, *set_id, uid, consulted, timed, second);
	if (ep) {
		d->verdict = NTF_VERDICT_ALLOW;
		d->reason = NTF_REASON_ENDPOINT;
		d->endpoint_id = ep;
	} else {
		d->verdict = NTF_VERDICT_DROP;
		d->reason = NTF_REASON_NOT_LISTED;
	}
}

/* GCRA: may this sender report one more event now? Counts what it may not, per sender. */
static __always_inline int within_budget(struct ntf_counters *cnt, __u32 uid, int unowned, __u64 now)
{
	if (config.event_interval_ns == 0)
		return 1;

	struct ntf_budget_key k = { .uid = uid, .unowned = unowned };
	struct ntf_budget_val *b = bpf_map_lookup_elem(&ntf_budget, &k);

	if (!b) {
		struct ntf_budget_val nb = { .tat = now + config.event_interval_ns };

		bpf_map_update_elem(&ntf_budget, &k, &nb, BPF_NOEXIST);
		return 1;
	}
	__u64 tat = b->tat;

	if (tat < now)
		tat = now;
	if (tat - now > config.event_burst_ns) {
		__sync_fetch_and_add(&b->suppressed, 1);
		cnt->events_suppressed++;
		return 0;
	}
	b->tat = tat + config.event_interval_ns;
	return 1;
}

static __always_inline void emit(struct ntf_counters *cnt, const struct pkt *p, __u32 ifindex, __u32 uid,
				 __u64 cgroup, __u32 len, const struct decision *d, __u8 flags)
{
	__u64 now = bpf_ktime_get_ns();

	if (!within_budget(cnt, uid, (flags & NTF_EVENT_UNOWNED) != 0, now))
		return;

	struct ntf_event *e = bpf_ringbuf_reserve(&ntf_events, sizeof(*e), 0);

	if (!e) {
		cnt->events_lost++;
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = now;
	e->ifindex = ifindex;
	e->uid = uid;
	e->len = len;
	e->endpoint_id = d->endpoint_id;
	e->sport = p->sport;
	e->dport = p->dport;
	e->family = p->family;
	e->proto = p->proto;
	e->verdict = d->verdict;
	e->reason = d->reason;
	e->flags = flags;
	e->cgroup = cgroup;
	__builtin_memcpy(e->saddr, p->saddr, 16);
	__builtin_memcpy(e->daddr, p->daddr, 16);
	bpf_ringbuf_submit(e, 0);
	cnt->events_sent++;
}

SEC("tc")
int ntf_egress(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct ntf_counters *cnt = bpf_map_lookup_elem(&ntf_counters, &zero);
	struct ntf_state *st = bpf_map_lookup_elem(&ntf_state, &zero);

	if (!cnt || !st)
		return NTF_PASS;

	/* Read the epoch once: every lookup below uses the same generation. Past a trial's
	 * deadline the policy before the trial is back, whatever user space does (or does not). */
	__u64 epoch = *(volatile __u64 *)&st->epoch;
	__u64 deadline = *(volatile __u64 *)&st->trial_deadline_ns;

	if (deadline && bpf_ktime_get_boot_ns() >= deadline)
		epoch = *(volatile __u64 *)&st->fallback_epoch;
	__u32 gen = epoch & 1;
	__u32 ifindex = skb->ifindex;
	struct ntf_iface_cfg *cfg = iface_cfg(gen, ifindex);
	__u32 lpm_if = ifindex;
	int guard_only = 0;

	if (!cfg) {
		/* No endpoint names this interface: only the guarded ranges are checked here. */
		cfg = iface_cfg(gen, NTF_IFINDEX_ANY);
		if (!cfg)
			return NTF_PASS; /* nothing guarded under the active policy */
		lpm_if = NTF_IFINDEX_ANY;
		guard_only = 1;
	}

	struct pkt p = {};

	if (parse(skb, cfg, &p) < 0) {
		if (!guard_only)
			cnt->nonip_packets++; /* ARP and other non-IP frames always pass */
		return NTF_PASS;
	}

	struct decision d = {};
	__u8 flags = 0;
	__u32 *set_id = NULL;
	int looked_up = 0;
	int refuse = 0;

	if (p.rh_count) {
		set_id = judge_routing(skb, gen, lpm_if, &p, &flags, &refuse);
		looked_up = 1;
	} else if (guard_only) {
		set_id = lpm_lookup(gen, lpm_if, p.family, p.daddr);
		looked_up = 1;
	}
	/* Unguarded on an interface no endpoint names: untouched, uncounted. */
	if (guard_only && !set_id && !refuse)
		return NTF_PASS;

	__u32 len = skb->len;
	__u32 uid = 0;
	__u64 cgroup = 0;
	int unowned = 0;
	struct bpf_sock *sk = skb->sk;

	if (!sk) {
		unowned = 1; /* forwarded, or sent by the kernel without a socket */
	} else {
		/* The uid recorded when the socket was created (ntf_sock_create); a request socket
		 * (a SYN-ACK) is its listener's. Without a record (a socket older than the program,
		 * or one the kernel made): the socket's current owner. */
		struct bpf_sock *full = bpf_sk_fullsock(sk);
		struct ntf_sk *rec = NULL;

		if (!full)
			full = bpf_get_listener_sock(sk);
		if (full)
			rec = bpf_sk_storage_get(&ntf_sk, full, 0, 0);
		if (rec && (rec->flags & NTF_SK_RECORDED)) {
			uid = rec->uid;
		} else {
			uid = bpf_get_socket_uid(skb);
			/* No full socket (time-wait): the overflow uid, which must not be mistaken
			 * for a real user 65534. */
			if (!full && uid == config.overflow_uid)
				unowned = 1;
			else
				flags |= NTF_EVENT_UID_UNRECORDED;
		}
		if (!unowned)
			cgroup = bpf_skb_cgroup_id(skb);
	}
	if (unowned) {
		uid = 0;
		cnt->unowned_packets++;
		flags |= NTF_EVENT_UNOWNED;
	} else if (flags & NTF_EVENT_UID_UNRECORDED) {
		cnt->uid_unrecorded_packets++;
	}

	/* Only for packets a local socket sent: forwarded traffic (a routed container or VM,
	 * where root may bind port 68) must not borrow the exemption. The kernel's own ND and
	 * MLD sockets own what the exemption is for. DHCP never towards a guarded range. */
	if (cfg->essentials && !unowned && !refuse) {
		int essential = is_nd(&p);

		if (!essential && is_dhcp_client(&p, cfg)) {
			if (!looked_up) {
				set_id = lpm_lookup(gen, lpm_if, p.family, p.daddr);
				looked_up = 1;
			}
			essential = !set_id;
		}
		if (essential) {
			d.verdict = NTF_VERDICT_ALLOW;
			d.reason = NTF_REASON_ESSENTIAL;
			cnt->essential_packets++;
			cnt->allowed_packets++;
			cnt->allowed_bytes += len;
			if (cfg->log_allowed != NTF_LOG_OFF)
				emit(cnt, &p, ifindex, uid, cgroup, len, &d, flags);
			return NTF_PASS;
		}
	}

	if (refuse) {
		/* A routing header too long to check: dropped, never cached (the flow key holds
		 * the IPv6 header's destination, which is not what the packet would reach). */
		d.verdict = cfg->audit ? NTF_VERDICT_WOULD_DROP : NTF_VERDICT_DROP;
		d.reason = NTF_REASON_ROUTING_HEADER;
		if (cfg->audit) {
			cnt->would_drop_packets++;
			cnt->would_drop_bytes += len;
		} else {
			cnt->dropped_packets++;
			cnt->dropped_bytes += len;
		}
		emit(cnt, &p, ifindex, uid, cgroup, len, &d, flags);
		return cfg->audit ? NTF_PASS : NTF_DROP;
	}

	struct ntf_flow_key fk = {};

	fk.ifindex = ifindex;
	fk.uid = uid;
	fk.family = p.family;
	fk.proto = p.proto;
	fk.dport = p.dport;
	fk.unowned = unowned;
	fk.cgroup = cgroup;
	/* For a routed packet, the address judged: a flow to it has the same verdict. */
	__builtin_memcpy(fk.daddr, p.daddr, 16);

	struct ntf_flow_val *fv = bpf_map_lookup_elem(&ntf_flows, &fk);
	__u64 cached = fv ? *(volatile __u64 *)&fv->cached : 0;
	int fresh = 0;
	int consulted = 0;
	int timed = 0;
	__u64 second = 0;
	int report;
	__u64 seen = bpf_ktime_get_coarse_ns();

	/* A verdict a time window decided holds within the second it was decided in (edges are whole
	 * seconds); the clock is read only for those. A clock step or suspend changes the second. */
	if (fv && NTF_CACHE_EPOCH(cached) == (__u32)epoch && NTF_CACHE_VERDICT(cached) &&
	    (!(cached & NTF_CACHE_TIMED) ||
	     bpf_ktime_get_tai_ns() - *(volatile __u64 *)&fv->timed_ns < NTF_NS_PER_SEC)) {
		d.verdict = NTF_CACHE_VERDICT(cached);
		d.reason = NTF_CACHE_REASON(cached);
		d.endpoint_id = NTF_CACHE_ENDPOINT(cached);
		cnt->flow_cache_hits++;
	} else {
		if (!looked_up)
			set_id = lpm_lookup(gen, lpm_if, p.family, p.daddr);
		decide(skb, gen, cfg, set_id, uid, unowned, &d, &consulted, &timed, &second);
		/* Audit mode: the same decision, but nothing is dropped. (Cached as would-drop: the
		 * mode belongs to the policy generation, so switching it is a new epoch.) */
		if (d.verdict == NTF_VERDICT_DROP && cfg->audit)
			d.verdict = NTF_VERDICT_WOULD_DROP;
		cached = NTF_CACHE_PACK(epoch, d.endpoint_id, d.reason, d.verdict);
		fresh = 1;
		/* A drop that the cgroup ids decided is decided again next packet (cgroup_lookup); what
		 * a time window decided is cached for the rest of its second (no cached verdict
		 * outlives a window's edge), unless the decision read the clock in two seconds. */
		if ((consulted && d.verdict != NTF_VERDICT_ALLOW) || (timed && second == NTF_SECOND_MIXED))
			cached = 0;
		else if (timed)
			cached |= NTF_CACHE_TIMED;
		if (fv) {
			/* The second before the verdict that needs it; and if another CPU decided this flow
			 * in another second meanwhile (its second is there now), no verdict is kept. */
			if (cached & NTF_CACHE_TIMED)
				*(volatile __u64 *)&fv->timed_ns = second;
			*(volatile __u64 *)&fv->cached = cached;
			if ((cached & NTF_CACHE_TIMED) && *(volatile __u64 *)&fv->timed_ns != second)
				*(volatile __u64 *)&fv->cached = 0;
		} else {
			/* A new flow: its entry is made with this packet already in it (counts, last seen,
			 * source port, and the report below), so it is not looked up again. If another CPU
			 * made it first, the insert fails and the packet is added to that entry below. */
			struct ntf_flow_val nv = {
				.cached = cached,
				.first_ns = seen,
				.last_ns = seen,
				.timed_ns = second,
				.sport = p.sport,
			};

			if (d.verdict != NTF_VERDICT_ALLOW || cfg->log_allowed != NTF_LOG_OFF)
				nv.last_event_ns = seen; /* reported below: drops always, allowed if logged */
			if (d.verdict == NTF_VERDICT_ALLOW) {
				nv.allowed_packets = 1;
				nv.allowed_bytes = len;
			} else if (d.verdict == NTF_VERDICT_WOULD_DROP) {
				nv.would_drop_packets = 1;
				nv.would_drop_bytes = len;
			} else {
				nv.dropped_packets = 1;
				nv.dropped_bytes = len;
			}
			if (bpf_map_update_elem(&ntf_flows, &fk, &nv, BPF_NOEXIST) == 0)
				cnt->flows_created++; /* fv stays NULL: nothing more to add to the entry */
			else
				fv = bpf_map_lookup_elem(&ntf_flows, &fk);
		}
	}

	if (d.verdict == NTF_VERDICT_ALLOW) {
		cnt->allowed_packets++;
		cnt->allowed_bytes += len;
		if (fv) {
			__sync_fetch_and_add(&fv->allowed_packets, 1);
			__sync_fetch_and_add(&fv->allowed_bytes, len);
		}
		report = cfg->log_allowed == NTF_LOG_ALL;
		if (cfg->log_allowed == NTF_LOG_SAMPLE)
			report = fresh || !fv || seen - fv->last_event_ns >= NTF_SAMPLE_INTERVAL_NS;
	} else if (d.verdict == NTF_VERDICT_WOULD_DROP) {
		cnt->would_drop_packets++;
		cnt->would_drop_bytes += len;
		if (fv) {
			__sync_fetch_and_add(&fv->would_drop_packets, 1);
			__sync_fetch_and_add(&fv->would_drop_bytes, len);
		}
		report = 1; /* reported like drops */
	} else {
		cnt->dropped_packets++;
		cnt->dropped_bytes += len;
		if (fv) {
			__sync_fetch_and_add(&fv->dropped_packets, 1);
			__sync_fetch_and_add(&fv->dropped_bytes, len);
		}
		report = 1; /* drops are always reported (within the sender's event budget) */
	}
	if (fv) {
		fv->last_ns = seen;
		/* A load, not a store, per packet: the field shares no cache line with last_ns. */
		if (fv->sport != p.sport)
			fv->sport = p.sport;
		if (report)
			fv->last_event_ns = seen;
	}
	if (report)
		emit(cnt, &p, ifindex, uid, cgroup, len, &d, flags | (fresh ? NTF_EVENT_NEW_FLOW : 0));

	return d.verdict == NTF_VERDICT_DROP ? NTF_DROP : NTF_PASS;
}

/* The two fields of the kernel's task and credentials the socket record needs, located through
 * the running kernel's BTF when the object is loaded (CO-RE: libbpf matches them by name). */
struct ntf_kuid {
	__u32 val;
};

struct cred___ntf {
	struct ntf_kuid fsuid;
} __attribute__((preserve_access_index));

struct task_struct___ntf {
	const struct cred___ntf *cred;
} __attribute__((preserve_access_index));

/*
 * Records who creates each socket, for ntf_egress: the creating task's file-system uid as root
 * sees it — the uid the kernel gives the socket (sk_uid, what bpf_get_socket_uid reports until an
 * fchown changes it).
 * Attached to the root of the cgroup v2 hierarchy (every socket a process creates with socket(2)),
 * never refuses one. fchown(2) on the socket later changes the kernel's idea of its owner
 * (bpf_get_socket_uid), not this record.
 */
SEC("cgroup/sock_create")
int ntf_sock_create(struct bpf_sock *sk)
{
	struct ntf_sk *rec = bpf_sk_storage_get(&ntf_sk, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);

	struct task_struct___ntf *task = (void *)bpf_get_current_task();
	const struct cred___ntf *cred = NULL;
	__u32 uid;

	/* A read that fails leaves the socket unrecorded (today's lookup), never uid 0. */
	if (rec && bpf_core_read(&cred, sizeof(cred), &task->cred) == 0 && cred &&
	    bpf_core_read(&uid, sizeof(uid), &cred->fsuid.val) == 0) {
		rec->uid = uid;
		rec->flags = NTF_SK_RECORDED;
	}
	return 1;
}

/*
 * How user space writes ntf_state (run once per write with BPF_PROG_RUN; the context is the new
 * struct ntf_state). A map update copies the value with memcpy, which the kernel does not promise
 * to do in whole 8-byte stores; here each field is one aligned 8-byte store, in the order the
 * trial logic relies on: fallback, deadline, then the epoch (docs/datapath.md "Trials").
 */
SEC("syscall")
int ntf_set_state(struct ntf_state *w)
{
	__u32 zero = 0;
	struct ntf_state *st = bpf_map_lookup_elem(&ntf_state, &zero);

	if (!st)
		return 1;
	*(volatile __u64 *)&st->fallback_epoch = w->fallback_epoch;
	*(volatile __u64 *)&st->trial_deadline_ns = w->trial_deadline_ns;
	*(volatile __u64 *)&st->epoch = w->epoch;
	return 0;
}
