// SPDX-License-Identifier: Apache-2.0
// Benchmark traffic source: 16-byte UDP datagrams with sendmmsg, as fast as one core sends.
// usage: udpflood HOST PORT SECONDS [NPORTS [MAXPACKETS]]
// NPORTS > 1 cycles destination ports (each port is a new flow); MAXPACKETS stops early.
// Prints the number of datagrams offered to the kernel (a datagram a filter drops on the output
// path may fail with EPERM; it still went through the filter) and how many were accepted.
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

int main(int argc, char **argv)
{
	if (argc < 4)
		return 64;
	int port = atoi(argv[2]), nports = argc > 4 ? atoi(argv[4]) : 1;
	unsigned long long max = argc > 5 ? strtoull(argv[5], NULL, 10) : ~0ull;
	double seconds = atof(argv[3]);
	struct sockaddr_storage dst[BATCH];
	socklen_t len;
	int family = strchr(argv[1], ':') ? AF_INET6 : AF_INET;
	int fd = socket(family, SOCK_DGRAM, 0);
	if (fd < 0)
		return 1;
	for (int i = 0; i < BATCH; i++) {
		memset(&dst[i], 0, sizeof(dst[i]));
		if (family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&dst[i];
			a->sin_family = AF_INET;
			inet_pton(AF_INET, argv[1], &a->sin_addr);
			len = sizeof(*a);
		} else {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&dst[i];
			a->sin6_family = AF_INET6;
			inet_pton(AF_INET6, argv[1], &a->sin6_addr);
			len = sizeof(*a);
		}
	}
	char payload[16] = "net-tc-filter!!";
	struct iovec iov = { payload, sizeof(payload) };
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
	unsigned long long sent = 0, offered = 0, round = 0;
	for (;;) {
		for (int i = 0; i < BATCH; i++) {
			int p = port + (nports > 1 ? (int)((round * BATCH + i) % nports) : 0);
			if (family == AF_INET)
				((struct sockaddr_in *)&dst[i])->sin_port = htons(p);
			else
				((struct sockaddr_in6 *)&dst[i])->sin6_port = htons(p);
		}
		unsigned int want = max - offered < BATCH ? (unsigned int)(max - offered) : BATCH;
		int n = sendmmsg(fd, msgs, want, 0);
		if (n > 0)
			sent += n;
		offered += n > 0 ? (unsigned int)n : 1; /* on error the first datagram failed */
		round++;
		if (offered >= max)
			break;
		if ((round & 63) == 0) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			if ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 >= seconds)
				break;
		}
	}
	printf("%llu %llu\n", offered, sent);
	return 0;
}
