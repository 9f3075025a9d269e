// SPDX-License-Identifier: Apache-2.0
// Environment: Linux user space, run by the benchmark under test uids (setpriv).
//
// Benchmark traffic source: small UDP datagrams with sendmmsg, as fast as one core sends.
//
// usage: udpflood [-s PAYLOAD] [-t SECONDS] [-n MAXPACKETS] [-p PORT] [-P NPORTS] [-r RATE] HOST
//        udpflood [...] -a FILE
//   -a FILE   cycle through the addresses in FILE (one per line, one family) instead of HOST;
//             after each full cycle the port advances (-P ports), so with -P large enough
//             every datagram is a new (address, port) flow
//   -r RATE   paced: RATE datagrams/s on average, sent as they fall due, checked about every
//             millisecond (without it: as fast as one core sends)
// Stops after SECONDS (at most 60) or MAXPACKETS, whichever comes first. Prints the number of
// datagrams offered to the kernel and the number it accepted. A datagram an nftables output
// rule drops fails with EPERM and ends its sendmmsg call; it still went through the filter, so
// it counts as offered. tc drops are not reported to UDP senders: those count as accepted.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_ADDRS 65536

static struct sockaddr_storage addrs[MAX_ADDRS];

static int parse_addr(const char *s, struct sockaddr_storage *out, socklen_t *len)
{
	memset(out, 0, sizeof(*out));
	struct sockaddr_in *a4 = (struct sockaddr_in *)out;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
	if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		*len = sizeof(*a4);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		*len = sizeof(*a6);
		return AF_INET6;
	}
	return -1;
}

int main(int argc, char **argv)
{
	size_t payload_len = 64;
	double seconds = 1, rate = 0;
	unsigned long long max = ~0ull;
	int port = 9, nports = 1, opt;
	const char *file = NULL;
	while ((opt = getopt(argc, argv, "s:t:n:p:P:a:r:")) != -1) {
		switch (opt) {
		case 's': payload_len = strtoul(optarg, NULL, 10); break;
		case 't': seconds = atof(optarg); break;
		case 'n': max = strtoull(optarg, NULL, 10); break;
		case 'p': port = atoi(optarg); break;
		case 'P': nports = atoi(optarg); break;
		case 'a': file = optarg; break;
		case 'r': rate = atof(optarg); break;
		default: return 64;
		}
	}
	if (optind != argc - (file ? 0 : 1) || payload_len < 1 || payload_len > 1400 || nports < 1 ||
	    port < 1 || port + nports > 65536 || rate < 0)
		return 64;
	if (seconds > 60) /* bounded whatever the caller asks */
		seconds = 60;

	socklen_t len = 0;
	int family = -1;
	size_t naddrs = 0;
	if (file) {
		FILE *f = fopen(file, "r");
		if (!f)
			return 66;
		char line[128];
		socklen_t l;
		while (naddrs < MAX_ADDRS && fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\r\n")] = 0;
			int fam = line[0] ? parse_addr(line, &addrs[naddrs], &l) : -1;
			if (fam < 0 || (family >= 0 && fam != family))
				continue; /* one family per socket */
			family = fam;
			len = l;
			naddrs++;
		}
		fclose(f);
	} else {
		family = parse_addr(argv[optind], &addrs[0], &len);
		naddrs = 1;
	}
	if (family < 0 || naddrs == 0)
		return 65;

	int fd = socket(family, SOCK_DGRAM, 0);
	if (fd < 0)
		return 1;
	char *payload = calloc(1, payload_len);
	if (!payload)
		return 1;
	memset(payload, 'x', payload_len);
	struct iovec iov = { payload, payload_len };
	struct sockaddr_storage dst[BATCH];
	struct mmsghdr msgs[BATCH];
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_name = &dst[i];
		msgs[i].msg_hdr.msg_namelen = len;
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}

	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	unsigned long long sent = 0, seq = 0, calls = 0;
	const struct timespec tick = { 0, 1000000 };
	for (;;) {
		unsigned int want = max - seq < BATCH ? (unsigned int)(max - seq) : BATCH;
		if (rate > 0) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			double el = (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9;
			if (el >= seconds)
				break;
			unsigned long long due = (unsigned long long)(rate * el) + 1;
			if (seq >= due) {
				nanosleep(&tick, NULL);
				continue;
			}
			if (due - seq < want)
				want = (unsigned int)(due - seq);
		}
		for (unsigned int i = 0; i < want; i++) {
			unsigned long long s = seq + i;
			int p = port + (int)((s / naddrs) % (unsigned long long)nports);
			dst[i] = addrs[s % naddrs];
			if (family == AF_INET)
				((struct sockaddr_in *)&dst[i])->sin_port = htons(p);
			else
				((struct sockaddr_in6 *)&dst[i])->sin6_port = htons(p);
		}
		int n = sendmmsg(fd, msgs, want, 0);
		if (n > 0)
			sent += n;
		seq += n > 0 ? (unsigned int)n : 1; /* on error the first datagram failed */
		if (seq >= max)
			break;
		if ((++calls & 63) == 0) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			if ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 >= seconds)
				break;
		}
	}
	printf("%llu %llu\n", seq, sent);
	return 0;
}
