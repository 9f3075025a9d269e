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

#include "net_tc_filter.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* bpf_get_socket_uid() returns this when it finds no full socket; set from
 * /proc/sys/kernel/overflowuid before load. */
const volatile __u32 overflow_uid = 65534;

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
	__uint(max_entries, 262144);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ntf_lpm4_key);
	__type(value, __u32);
} ntf_lpm4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 262144);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ntf_lpm6_key);
	__type(value, __u32);
} ntf_lpm6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1048576);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ntf_set_key);
	__type(value, __u32);
} ntf_sets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2048);
	__type(key, struct ntf_iface_key);
	__type(value, struct ntf_iface_cfg);
} ntf_ifaces SEC(".maps");

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

struct pkt {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u8 family;
	__u8 proto;
	__u8 icmp_type;
	__u8 has_l4;
};

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

/* DHCPv4/v6 client traffic, IPv6 neighbour discovery and MLD. Unprivileged
 * users cannot send these: ports 68/546 need CAP_NET_BIND_SERVICE, ICMPv6 of
 * these types needs a raw socket. */
static __always_inline int is_essential(const struct pkt *p)
{
	if (!p->has_l4)
		return 0;
	if (p->proto == IPPROTO_UDP) {
		if (p->family == NTF_AF_INET)
			return p->sport == 68 && p->dport == 67;
		return p->sport == 546 && p->dport == 547;
	}
	if (p->proto == IPPROTO_ICMPV6_ && p->family == NTF_AF_INET6) {
		__u8 t = p->icmp_type;

		return (t >= 130 && t <= 137) || t == 143;
	}
	return 0;
}

struct decision {
	__u32 endpoint_id;
	__u8 verdict;
	__u8 reason;
};

static __always_inline void decide(__u32 gen, __u32 ifindex, const struct ntf_iface_cfg *cfg,
				   const struct pkt *p, __u32 uid, int unowned, struct decision *d)
{
	__u32 *set_id;

	if (p->family == NTF_AF_INET) {
		struct ntf_lpm4_key k = { .prefixlen = 64 + 32, .gen = gen, .ifindex = ifindex };

		__builtin_memcpy(k.addr, p->daddr, 4);
		set_id = bpf_map_lookup_elem(&ntf_lpm4, &k);
	} else {
		struct ntf_lpm6_key k = { .prefixlen = 64 + 128, .gen = gen, .ifindex = ifindex };

		__builtin_memcpy(k.addr, p->daddr, 16);
		set_id = bpf_map_lookup_elem(&ntf_lpm6, &k);
	}

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

	struct ntf_set_key sk = { .gen = gen, .set_id = *set_id, .uid = uid };
	__u32 *ep = bpf_map_lookup_elem(&ntf_sets, &sk);

	if (!ep) {
		sk.uid = NTF_UID_ANY;
		ep = bpf_map_lookup_elem(&ntf_sets, &sk);
	}
	if (ep) {
		d->verdict = NTF_VERDICT_ALLOW;
		d->reason = NTF_REASON_ENDPOINT;
		d->endpoint_id = *ep;
	} else {
		d->verdict = NTF_VERDICT_DROP;
		d->reason = NTF_REASON_NOT_LISTED;
	}
}

static __always_inline void emit(struct ntf_counters *cnt, const struct pkt *p, __u64 now, __u32 ifindex,
				 __u32 uid, __u32 len, const struct decision *d, __u8 flags)
{
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

	/* Read the epoch once: every lookup below uses the same generation. */
	__u64 epoch = *(volatile __u64 *)&st->epoch;
	__u32 gen = epoch & 1;
	__u32 ifindex = skb->ifindex;
	struct ntf_iface_key ik = { .gen = gen, .ifindex = ifindex };
	struct ntf_iface_cfg *cfg = bpf_map_lookup_elem(&ntf_ifaces, &ik);

	if (!cfg)
		return NTF_PASS; /* not configured under the active policy */

	struct pkt p = {};

	if (parse(skb, cfg, &p) < 0) {
		cnt->nonip_packets++; /* ARP and other non-IP frames always pass */
		return NTF_PASS;
	}

	__u64 now = bpf_ktime_get_ns();
	__u32 len = skb->len;
	__u32 uid = bpf_get_socket_uid(skb);
	int unowned = 0;
	struct bpf_sock *sk = skb->sk;

	/* No socket (forwarded) or no full socket (time-wait): the uid is the
	 * overflow uid, which must not be mistaken for a real user 65534. */
	if (!sk)
		unowned = 1;
	else if (uid == overflow_uid && !bpf_sk_fullsock(sk))
		unowned = 1;
	if (unowned) {
		uid = 0;
		cnt->unowned_packets++;
	}

	struct decision d = {};
	__u8 flags = unowned ? NTF_EVENT_UNOWNED : 0;
	int report;

	/* Only for packets a local socket sent: forwarded traffic (a routed container or VM,
	 * where root may bind port 68) must not borrow the exemption. The kernel's own ND and
	 * MLD sockets own what the exemption is for. */
	if (cfg->essentials && !unowned && is_essential(&p)) {
		d.verdict = NTF_VERDICT_ALLOW;
		d.reason = NTF_REASON_ESSENTIAL;
		cnt->essential_packets++;
		cnt->allowed_packets++;
		cnt->allowed_bytes += len;
		if (cfg->log_allowed != NTF_LOG_OFF)
			emit(cnt, &p, now, ifindex, uid, len, &d, flags);
		return NTF_PASS;
	}

	struct ntf_flow_key fk = {};

	fk.ifindex = ifindex;
	fk.uid = uid;
	fk.family = p.family;
	fk.proto = p.proto;
	fk.dport = p.dport;
	fk.unowned = unowned;
	__builtin_memcpy(fk.daddr, p.daddr, 16);

	struct ntf_flow_val *fv = bpf_map_lookup_elem(&ntf_flows, &fk);
	__u64 cached = fv ? *(volatile __u64 *)&fv->cached : 0;
	int fresh = 0;

	if (fv && NTF_CACHE_EPOCH(cached) == (__u32)epoch && NTF_CACHE_VERDICT(cached)) {
		d.verdict = NTF_CACHE_VERDICT(cached);
		d.reason = NTF_CACHE_REASON(cached);
		d.endpoint_id = NTF_CACHE_ENDPOINT(cached);
		cnt->flow_cache_hits++;
	} else {
		decide(gen, ifindex, cfg, &p, uid, unowned, &d);
		cached = NTF_CACHE_PACK(epoch, d.endpoint_id, d.reason, d.verdict);
		fresh = 1;
		if (fv) {
			*(volatile __u64 *)&fv->cached = cached;
		} else {
			struct ntf_flow_val nv = { .cached = cached, .first_ns = now };

			bpf_map_update_elem(&ntf_flows, &fk, &nv, BPF_NOEXIST);
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
			report = fresh || !fv || now - fv->last_event_ns >= NTF_SAMPLE_INTERVAL_NS;
	} else {
		cnt->dropped_packets++;
		cnt->dropped_bytes += len;
		if (fv) {
			__sync_fetch_and_add(&fv->dropped_packets, 1);
			__sync_fetch_and_add(&fv->dropped_bytes, len);
		}
		report = 1; /* drops are always reported */
	}
	if (fv) {
		fv->last_ns = now;
		if (report)
			fv->last_event_ns = now;
	}
	if (report)
		emit(cnt, &p, now, ifindex, uid, len, &d, flags | (fresh ? NTF_EVENT_NEW_FLOW : 0));

	return d.verdict == NTF_VERDICT_ALLOW ? NTF_PASS : NTF_DROP;
}
