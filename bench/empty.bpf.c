// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// Environment: kernel, tc clsact egress (benchmark only; loaded with `tc filter ... bpf da obj`).
// Benchmark baseline: the cost of the tc hook itself. Does nothing, lets the next filter decide.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("classifier")
int empty_egress(struct __sk_buff *skb)
{
	return -1; /* TC_ACT_UNSPEC */
}
