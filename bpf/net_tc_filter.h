/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Structs and constants shared by the tc egress program (net_tc_filter.bpf.c)
 * and user space (native-bridge/layouts.ts mirrors every struct; a test checks
 * sizes and offsets against the BTF of the built object).
 */
#ifndef __NET_TC_FILTER_H
#define __NET_TC_FILTER_H

/* Set-map uid meaning "any user" ('*'). (uid_t)-1 is never a real uid. */
#define NTF_UID_ANY 0xffffffffu

/* Set-map cgroup slot meaning "whatever cgroup the socket is in" (entries that name no unit or
 * cgroup). Slots 1.. stand for the policy's unit:/cgroup: entries (ntf_cgroups maps ids to them). */
#define NTF_CG_ANY 0u

/* Levels of the cgroup v2 hierarchy the program checks against ntf_cgroups (the root is level 0;
 * ntf_iface_cfg.cg_levels has one bit per level the policy names a cgroup at). */
#define NTF_CG_LEVELS 16

#define NTF_VERDICT_ALLOW 1
#define NTF_VERDICT_DROP 2
#define NTF_VERDICT_WOULD_DROP 3 /* audit mode: the policy drops it, the program passed it */

/* Why a packet got its verdict. */
#define NTF_REASON_ENDPOINT 1      /* allowed: an endpoint lists the user (or '*') */
#define NTF_REASON_NOT_LISTED 2    /* dropped: destination guarded, user not listed */
#define NTF_REASON_DEFAULT_ALLOW 3 /* unguarded destination, interface default allow */
#define NTF_REASON_DEFAULT_DENY 4  /* unguarded destination, interface default deny */
#define NTF_REASON_UNOWNED_ALLOW 5 /* no local socket, interface unowned: allow */
#define NTF_REASON_UNOWNED_DENY 6  /* no local socket, interface unowned: deny */
#define NTF_REASON_ESSENTIAL 7     /* DHCP client, IPv6 ND or MLD with essentials on */
#define NTF_REASON_IFACE_NOT_LISTED 8 /* dropped: destination guarded, but no endpoint that guards it
				       * names this interface */
#define NTF_REASON_ROUTING_HEADER 9   /* dropped: an IPv6 routing header lists more addresses than
				       * the program checks (NTF_RH_MAX) */

/* ntf_ifaces / LPM key interface index standing for every interface without settings of its own
 * (no endpoint names it): only guarded ranges are checked there. Never a real ifindex. */
#define NTF_IFINDEX_ANY 0

/* Capacity of the policy maps (both generations together: each may use half). The compiler
 * stops as soon as a policy needs more (electron/policy/compile.ts). These are defaults: the
 * engine sizes the maps when it creates them (--range-entries, --set-entries). The tries allocate
 * per entry (BPF_F_NO_PREALLOC; an empty trie of any size costs nothing), so theirs fits a million
 * ranges on three interfaces; ntf_sets is a hash, whose buckets cost 16 bytes per entry of size. */
#define NTF_LPM4_ENTRIES 8388608
#define NTF_LPM6_ENTRIES 8388608
#define NTF_SET_ENTRIES 1048576
#define NTF_IFACE_ENTRIES 2048
/* Interfaces whose settings the program finds in the array ntf_ifslots (ifindex below this; an
 * array lookup is inlined, a hash lookup is a call and a hash): the rest in the hash ntf_ifaces,
 * which holds every interface's settings (user space reads it). 2 x this many elements. */
#define NTF_IFACE_SLOTS 16384
#define NTF_CGROUP_ENTRIES 65536

/* Addresses of an IPv6 routing header checked against the guarded ranges. */
#define NTF_RH_MAX 8

/* logging.allowed */
#define NTF_LOG_OFF 0
#define NTF_LOG_SAMPLE 1
#define NTF_LOG_ALL 2

/* With logging.allowed: sample, one allowed event per flow per this interval. */
#define NTF_SAMPLE_INTERVAL_NS 1000000000ull

/* ntf_event.flags */
#define NTF_EVENT_UNOWNED 0x1  /* packet had no local socket; uid is meaningless */
#define NTF_EVENT_NEW_FLOW 0x2 /* first packet of this flow under this policy */
#define NTF_EVENT_ROUTED 0x4   /* daddr is an address from the packet's IPv6 routing header (the
				* packet would reach it), not the IPv6 header's destination */
#define NTF_EVENT_UID_UNRECORDED 0x8 /* the socket has no creation record (it existed before the
				      * program was loaded, or the kernel made it): uid is its current
				      * owner (bpf_get_socket_uid), not the uid that created it */

#define NTF_AF_INET 2
#define NTF_AF_INET6 10

/*
 * LPM trie keys. The generation and interface index come first and are always
 * matched in full (prefixlen = 64 + address prefix), so one trie serves every
 * interface and both policy generations.
 */
struct ntf_lpm4_key {
	__u32 prefixlen;
	__u32 gen;
	__u32 ifindex;
	__u8 addr[4];
};

struct ntf_lpm6_key {
	__u32 prefixlen;
	__u32 gen;
	__u32 ifindex;
	__u8 addr[16];
};

/* (generation, user set, uid or NTF_UID_ANY, cgroup slot or NTF_CG_ANY) -> endpoint id */
struct ntf_set_key {
	__u32 gen;
	__u32 set_id;
	__u32 uid;
	__u32 cg;
};

/* The ntf_sets value: the endpoint that lets the packet through, or (schedule_id != 0) the
 * endpoints that do at which times of the week (ntf_schedules), for entries whose endpoints
 * have `when:` windows. */
struct ntf_set_val {
	__u32 endpoint_id;
	__u32 schedule_id;
};

/* Time windows. A schedule is a sorted list of [start, end) seconds of the local week (Monday
 * 00:00 = 0), each with the endpoint that grants then; outside every segment nothing is granted. */
#define NTF_SCHEDULE_SEGMENTS 64
#define NTF_SCHEDULE_ENTRIES 65536
#define NTF_WEEK_SEC 604800
#define NTF_TZ_TRANSITIONS 64

struct ntf_schedule_key {
	__u32 gen;
	__u32 id;
};

struct ntf_segment {
	__u32 start;
	__u32 end;
	__u32 endpoint_id;
};

struct ntf_schedule {
	__u32 count;
	struct ntf_segment seg[NTF_SCHEDULE_SEGMENTS];
};

/*
 * ntf_clock[generation]: how the program reads the local time of the week with no user space
 * running. UTC = CLOCK_TAI (bpf_ktime_get_tai_ns: it follows clock steps and suspend, as the
 * wall clock does) - tai_minus_utc_ns (the kernel's TAI offset when the policy was applied);
 * local = UTC + the offset of the last zone transition at or before it (tz: the host zone's
 * transitions for years ahead, sorted; count 0: the policy has no time windows).
 */
struct ntf_tz {
	__s64 from_utc_sec;
	__s32 offset_sec;
	__u32 pad;
};

struct ntf_clock {
	__s64 tai_minus_utc_ns;
	__u32 count;
	__u32 pad;
	struct ntf_tz tz[NTF_TZ_TRANSITIONS];
};

/* (generation, cgroup v2 id) -> cgroup slot (1..): the cgroups a policy's unit:/cgroup: entries
 * stand for now. User space keeps the ids current (a restarted unit gets a new cgroup). */
struct ntf_cgroup_key {
	__u32 gen;
	__u32 pad;
	__u64 id;
};

/* What the program records about a socket when it is created (socket-local storage, written by
 * the cgroup/sock_create program, cloned into accepted sockets). */
struct ntf_sk {
	__u32 uid;   /* the creating task's uid (global, as root sees it): fchown cannot change it */
	__u32 flags; /* NTF_SK_* */
};

#define NTF_SK_RECORDED 0x1

struct ntf_iface_key {
	__u32 gen;
	__u32 ifindex;
};

/* ntf_iface_cfg.l2_len when the link-layer header length is not known: headers are then
 * read relative to the network header with a helper call (always correct, slower). */
#define NTF_L2_UNKNOWN 0xff

struct ntf_iface_cfg {
	__u8 default_allow;
	__u8 unowned_allow;
	__u8 essentials;
	__u8 log_allowed; /* NTF_LOG_* */
	__u8 l2_len;	  /* 14 (Ethernet, loopback), 0 (WireGuard, tun) or NTF_L2_UNKNOWN */
	__u8 dhcp_unicast; /* 1: unicast DHCP client packets count as essential too (binding UDP
			    * 68/546 needs privilege on this host); 0: only broadcast/multicast */
	__u8 audit;	   /* 1: decide as usual but drop nothing; drops become NTF_VERDICT_WOULD_DROP */
	__u8 present;	   /* 1 in every entry user space writes; 0: an ntf_ifslots slot with no settings */
	__u32 cg_levels; /* bit i: the policy names a cgroup at level i (checked in ntf_cgroups) */
};

/*
 * The single element of ntf_state. Generation = epoch & 1.
 *
 * A trial: epoch is the trial's, fallback_epoch the policy before it (its generation is left
 * intact), trial_deadline_ns a CLOCK_BOOTTIME instant (bpf_ktime_get_boot_ns: it counts time
 * spent suspended). From the deadline on the program itself uses fallback_epoch, with no user
 * space running: the trial is reverted by the kernel. 0: no trial. User space writes it only through
 * the program ntf_set_state (one aligned 8-byte store per field, fallback, deadline, epoch) and
 * orders its writes so that a reader seeing any mix of old and new fields decides by a policy that
 * was in force or is about to be (docs/datapath.md "Trials").
 */
struct ntf_state {
	__u64 epoch;
	__u64 trial_deadline_ns;
	__u64 fallback_epoch;
};

struct ntf_flow_key {
	__u32 ifindex;
	__u32 uid;
	__u8 family;
	__u8 proto;
	__u16 dport; /* host byte order */
	__u8 unowned;
	__u8 pad[3];
	__u8 daddr[16]; /* IPv4 in the first 4 bytes */
	__u64 cgroup;	/* the sending socket's cgroup v2 id (0: none known) */
};

/*
 * The cached decision is one 64-bit word so that a reader never sees the
 * verdict of one policy with the epoch of another:
 *   bits 63..32 epoch (low 32 bits), 31..8 endpoint id, 7..4 reason, 3 NTF_CACHE_TIMED,
 *   2..0 verdict.
 * NTF_CACHE_TIMED: a time window decided; the verdict holds only within the second of CLOCK_TAI
 * that starts at the entry's timed_ns (window edges and zone offsets are whole seconds).
 */
#define NTF_CACHE_PACK(epoch, ep, reason, verdict)                                  \
	((((__u64)(epoch) & 0xffffffffull) << 32) | (((__u64)(ep) & 0xffffff) << 8) | \
	 (((__u64)(reason) & 0xf) << 4) | ((__u64)(verdict) & 0xf))
#define NTF_CACHE_EPOCH(c) ((__u32)((c) >> 32))
#define NTF_CACHE_ENDPOINT(c) ((__u32)(((c) >> 8) & 0xffffff))
#define NTF_CACHE_REASON(c) ((__u8)(((c) >> 4) & 0xf))
#define NTF_CACHE_VERDICT(c) ((__u8)((c) & 0x7))
#define NTF_CACHE_TIMED 0x8ull
#define NTF_MAX_ENDPOINT_ID 0xffffff

struct ntf_flow_val {
	__u64 cached; /* NTF_CACHE_PACK(...) */
	__u64 first_ns;	     /* first and last packet seen, bpf_ktime_get_coarse_ns() (CLOCK_MONOTONIC */
	__u64 last_ns;	     /* as of the last tick: up to one tick earlier than the precise clock) */
	__u64 last_event_ns; /* the same clock: when this flow was last reported (sampling interval) */
	__u64 allowed_packets;
	__u64 allowed_bytes;
	__u64 dropped_packets;
	__u64 dropped_bytes;
	__u64 would_drop_packets; /* audit mode: the policy drops them, the program passed them */
	__u64 would_drop_bytes;
	__u16 sport; /* the last packet's source port (host byte order): 22 for replies of sshd */
	__u8 pad[6];
	__u64 timed_ns; /* with NTF_CACHE_TIMED: bpf_ktime_get_tai_ns() at the start of the second the
			 * cached verdict was decided in */
};

struct ntf_counters {
	__u64 allowed_packets;
	__u64 allowed_bytes;
	__u64 dropped_packets;
	__u64 dropped_bytes;
	__u64 unowned_packets;
	__u64 nonip_packets;
	__u64 essential_packets;
	__u64 events_sent;
	__u64 events_lost;
	__u64 flow_cache_hits;
	__u64 events_suppressed; /* over a sending user's event budget (ntf_budget) */
	__u64 flows_created;	 /* ntf_flows entries inserted; minus the entries present = evicted */
	__u64 would_drop_packets; /* audit mode (NTF_VERDICT_WOULD_DROP): passed, not counted as allowed */
	__u64 would_drop_bytes;
	__u64 uid_unrecorded_packets; /* owned packets whose socket has no creation record (uid: its
				       * current owner; NTF_EVENT_UID_UNRECORDED) */
};

/* The program's load-time settings (its .rodata), set by the engine before load. */
struct ntf_config {
	__u32 overflow_uid;	   /* bpf_get_socket_uid() without a full socket: /proc/sys/kernel/overflowuid */
	__u32 pad;
	__u64 event_interval_ns; /* event budget per sending user: one event per interval on average; 0 = none */
	__u64 event_burst_ns;	   /* ... and bursts of up to burst / interval events */
};

/* Per sending user (or unowned) event budget: GCRA, one theoretical arrival time. */
struct ntf_budget_key {
	__u32 uid;
	__u32 unowned;
};

struct ntf_budget_val {
	__u64 tat;	  /* bpf_ktime_get_ns() at which the budget is back to full */
	__u64 suppressed; /* events not reported because the budget was spent */
};

/* What the ring buffer carries, one per reported decision. */
struct ntf_event {
	__u64 ts_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 ifindex;
	__u32 uid;
	__u32 len;
	__u32 endpoint_id;
	__u16 sport; /* host byte order */
	__u16 dport;
	__u8 family;
	__u8 proto;
	__u8 verdict;
	__u8 reason;
	__u8 flags; /* NTF_EVENT_* */
	__u8 pad[3];
	__u8 saddr[16];
	__u8 daddr[16];
	__u32 pad2;
	__u64 cgroup; /* the sending socket's cgroup v2 id (0: none known) */
};

/* Attachment record kept in a pinned map so that status/unload know what we did. */
struct ntf_attach {
	__u32 ifindex;
	__u32 flags; /* NTF_ATTACH_* */
	char ifname[16];
};

#define NTF_ATTACH_QDISC_OURS 0x1 /* we created the clsact qdisc: remove it on unload */

_Static_assert(sizeof(struct ntf_lpm4_key) == 16, "ntf_lpm4_key size");
_Static_assert(sizeof(struct ntf_lpm6_key) == 28, "ntf_lpm6_key size");
_Static_assert(sizeof(struct ntf_set_key) == 16, "ntf_set_key size");
_Static_assert(sizeof(struct ntf_cgroup_key) == 16, "ntf_cgroup_key size");
_Static_assert(sizeof(struct ntf_sk) == 8, "ntf_sk size");
_Static_assert(sizeof(struct ntf_set_val) == 8, "ntf_set_val size");
_Static_assert(sizeof(struct ntf_schedule_key) == 8, "ntf_schedule_key size");
_Static_assert(sizeof(struct ntf_schedule) == 4 + 12 * NTF_SCHEDULE_SEGMENTS, "ntf_schedule size");
_Static_assert(sizeof(struct ntf_clock) == 16 + 16 * NTF_TZ_TRANSITIONS, "ntf_clock size");
_Static_assert(sizeof(struct ntf_iface_key) == 8, "ntf_iface_key size");
_Static_assert(sizeof(struct ntf_iface_cfg) == 12, "ntf_iface_cfg size");
_Static_assert(sizeof(struct ntf_state) == 24, "ntf_state size");
_Static_assert(sizeof(struct ntf_flow_key) == 40, "ntf_flow_key size");
_Static_assert(sizeof(struct ntf_flow_val) == 96, "ntf_flow_val size");
_Static_assert(sizeof(struct ntf_counters) == 120, "ntf_counters size");
_Static_assert(sizeof(struct ntf_config) == 24, "ntf_config size");
_Static_assert(sizeof(struct ntf_budget_key) == 8, "ntf_budget_key size");
_Static_assert(sizeof(struct ntf_budget_val) == 16, "ntf_budget_val size");
_Static_assert(sizeof(struct ntf_event) == 80, "ntf_event size");
_Static_assert(sizeof(struct ntf_attach) == 24, "ntf_attach size");

#endif /* __NET_TC_FILTER_H */
