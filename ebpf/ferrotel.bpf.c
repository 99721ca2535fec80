// SPDX-License-Identifier: GPL-2.0
/* ferrotel's kernel side (this kernel has no kprobes).
 *
 * - Syscalls: one dispatcher pair on the raw sys_enter/sys_exit tracepoints (tp_btf), which the
 *   kernel calls with the registers and the syscall number; it returns at once for every
 *   syscall but the dozen it follows (syscalls.bpf.h). Where tp_btf is refused, the same code
 *   runs from one perf-event tracepoint per syscall instead.
 * - TCP connections from connect/accept/close and sock:inet_sock_set_state (tcp.bpf.h);
 * - L7 exchanges: the first bytes of every read/write/send/recv variant on a followed socket,
 *   the protocol detected here (protocols.h), a request kept per socket (and stream) until the
 *   first bytes of its response. An exchange that becomes a span is one record; the others are
 *   counted and timed in `l7_stats`, which user space reads at each collection (l7.bpf.h);
 * - TLS plaintext from uprobes on OpenSSL and Go's crypto/tls (tls.bpf.h);
 * - disk I/O from block_rq_issue/complete; process exec/exit and OOM kills (host.bpf.h).
 * Records go to one ring buffer; the receiver (components/receiver/ebpf) turns them into
 * telemetry. Every map is bounded; what does not fit is counted in `counters`. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>
#include "events.h"
#include "protocols.h"

char LICENSE[] SEC("license") = "GPL";

#define EINPROGRESS 115
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_CLOSE 7
#define TCP_LISTEN 10
/* the fd of a connect seen first in inet_sock_set_state, before its exit tells it */
#define FT_FD_UNKNOWN 0xffffffffULL

/* Set by the receiver at load time. */
/* l7.export_payload: payloads up to capture_size go to user space and onto spans */
const volatile __u8 send_payload = 0;
const volatile __u32 self_tgid = 0;
const volatile __u32 capture_size = 1024;
const volatile __u8 l7_enabled = 1;
/* tcp.enabled: connection events and byte counts are reported (sockets are followed for L7 too) */
const volatile __u8 tcp_enabled = 1;
const volatile __u8 tls_enabled = 1;
/* An exchange becomes a span (a record with its payload) when a random u32 is below this:
 * l7.sampling_ratio scaled to 2^32, 0 when no pipeline takes traces. The rest are counted in
 * l7_stats without leaving the kernel. */
const volatile __u64 span_threshold = 0;
/* include.ports is set: a socket on none of those ports is not followed */
const volatile __u8 port_include_set = 0;

/* Bytes read from every buffer to detect a protocol and parse a response status. */
#define FT_DETECT_BYTES 128

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FT_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* ft_sock.flags */
#define FT_SOCK_IGNORED 1 /* not TCP/UDP over IP, or filtered out: kept so the next syscall stops at the lookup */
#define FT_SOCK_TLS 2     /* its bytes are TLS records: only a TLS library's plaintext is parsed */
#define FT_SOCK_NOT_L7 4  /* nothing recognisable in FT_MAX_MISSES requests: no longer read */
#define FT_SOCK_PENDING 8 /* a request without a stream id awaits its response */
#define FT_SOCK_PLAIN 16  /* a protocol was recognised in its syscalls' bytes: not TLS */

/* Requests on a socket of unknown protocol before it is given up on: enough for the handshakes
 * that come before the first query (PostgreSQL's startup and SCRAM, MySQL's login). */
#define FT_MAX_MISSES 16

/* A socket file descriptor being followed: key is tgid << 32 | fd. */
struct ft_sock {
	__u64 sk;
	__u64 bytes_sent;
	__u64 bytes_received;
	struct ft_tuple tuple;
	__u8 role;
	__u8 proto; /* what it spoke last */
	__u8 flags;
	__u8 misses;
	__u32 request_size;
	/* The request awaiting its response, for protocols without stream ids and exchanges that
	 * will not be spans: kept here, it costs no `requests` map update, lookup and delete. */
	__u64 request_start_ns;
};

/* Not LRU: a full map refuses (counted), where an LRU one would silently forget a socket that is
 * still open. User space removes the entries of processes that are gone. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct ft_sock);
} sockets SEC(".maps");

/* Ports of include.ports / exclude.ports (value unused). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u16);
	__type(value, __u8);
} port_include SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u16);
	__type(value, __u8);
} port_exclude SEC(".maps");

/* Processes the include/exclude filters rule out (by name or cgroup), written by user space when
 * it first sees them: their sockets are not followed. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u8);
} denied_tgids SEC(".maps");

/* The syscall in flight on a thread, from its entry to its exit, and the TLS call around it. */
struct ft_task {
	__u64 fd;
	__u64 buf;
	__u64 addr; /* sendto's destination, for unconnected UDP */
	__u32 kind;
	__u8 out;
	__u8 socket_call; /* sendto and friends: the fd is a socket even if not followed yet */
	__u8 io_active;
	/* TLS uprobes (tls.bpf.h): while tls_active, the data syscalls record their socket in
	 * tls_fd and leave its (encrypted) bytes alone. */
	__u8 tls_active;
	__u8 tls_out;
	__u8 pad[3];
	__s32 tls_fd;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ft_task);
} tasks SEC(".maps");

static __always_inline struct ft_task *ft_task_get(void)
{
	return bpf_task_storage_get(&tasks, bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
}

static __always_inline struct ft_task *ft_task_lookup(void)
{
	return bpf_task_storage_get(&tasks, bpf_get_current_task_btf(), 0, 0);
}

/* struct sock * -> tgid << 32 | fd, for tracepoints that only see the sock. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} sock_owner SEC(".maps");

struct ft_pending_connect {
	__u64 fd;
	__u64 addr;
	__u64 start_ns;
	__u32 syn_sent;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct ft_pending_connect);
} pending_connect SEC(".maps");

struct ft_connecting {
	__u64 sock_key;
	__u64 start_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* struct sock * */
	__type(value, struct ft_connecting);
} connecting SEC(".maps");

enum ft_io_kind { FT_IO_BUF = 0, FT_IO_IOV = 1, FT_IO_MSG = 2, FT_IO_MMSG = 3 };

/* A request awaiting its response. Its payload, when it will be reported, waits apart in
 * `request_payloads`: most requests need no 4 KiB copy. */
/* ft_request_meta.sampled */
#define FT_SAMPLE_SPAN 1  /* sampled for a span */
#define FT_SAMPLE_STATE 2 /* its reply's first bytes go to user space (a MySQL prepare's id) */

struct ft_request_meta {
	__u64 start_ns;
	__u32 proto;
	__u32 size;
	__u32 len;
	__u32 sampled; /* FT_SAMPLE_*: it will be a span, or its reply is wanted (its payload is kept) */
	/* A span's request without l7.export_payload: its first bytes (the request line, the start
	 * of a query), all user space reads of it. Kept here, not in request_payloads, because a
	 * 4 KiB map update per sampled request cost more than the rest of the exchange. */
	__u8 head[FT_DETECT_BYTES];
};

struct ft_payload {
	__u8 bytes[FT_MAX_CAPTURE];
};

/* The working buffer of one syscall: what was read of it, and the request it may become. */
struct ft_request {
	struct ft_request_meta meta;
	struct ft_payload payload;
};

struct ft_request_key {
	__u64 sock_key;
	__u64 stream;
};

/* Not LRU, so that a full map is seen (counted); user space expires requests never answered. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct ft_request_key);
	__type(value, struct ft_request_meta);
} requests SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct ft_request_key);
	__type(value, struct ft_payload);
} request_payloads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct ft_l7_key);
	__type(value, struct ft_l7_stats);
} l7_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ft_request);
} scratch_request SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ft_l7_event);
} scratch_l7 SEC(".maps");

/* A request kept in its socket, as complete_exchange takes it. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ft_request_meta);
} scratch_meta SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ft_exec_event);
} scratch_exec SEC(".maps");

struct ft_disk_key {
	__u32 dev;
	__u32 pad;
	__u64 sector;
};

struct ft_disk_start {
	__u64 start_ns;
	__u32 tgid;
	__u32 bytes;
	__u8 op;
	__u8 pad[7];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct ft_disk_key);
	__type(value, struct ft_disk_start);
} disk_pending SEC(".maps");

static __always_inline void count(__u32 counter)
{
	__u64 *value = bpf_map_lookup_elem(&counters, &counter);
	if (value)
		*value += 1;
}

/* User space is woken once this much waits in the ring buffer (and drains it on a short timer
 * besides): a wakeup per record would cost a context switch per request. */
#define FT_WAKEUP_BYTES (64 << 10)

static __always_inline void emit(void *record, __u64 size)
{
	__u64 flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= FT_WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP
										   : BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(&events, record, size, flags) != 0)
		count(FT_CNT_RINGBUF_LOST);
}

static __always_inline int is_self(__u64 pid_tgid)
{
	return (__u32)(pid_tgid >> 32) == self_tgid;
}

static __always_inline __u64 sock_key(__u32 tgid, __u64 fd)
{
	return ((__u64)tgid << 32) | (__u32)fd;
}

/* The struct sock behind a file descriptor of the current task, or NULL if it is not a socket. */
static __always_inline struct sock *fd_sock(__u64 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = NULL;
	if (bpf_core_read(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	umode_t mode = BPF_CORE_READ(file, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return NULL;
	struct socket *socket = BPF_CORE_READ(file, private_data);
	return BPF_CORE_READ(socket, sk);
}

static __always_inline void sock_tuple(struct sock *sk, struct ft_tuple *t)
{
	t->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	t->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	t->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	t->transport = (__u8)BPF_CORE_READ(sk, sk_protocol);
	if (t->family == 10) {
		BPF_CORE_READ_INTO(t->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(t->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		BPF_CORE_READ_INTO((__u32 *)t->saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)t->daddr, sk, __sk_common.skc_daddr);
	}
}

/* Whether the port filters rule this socket out (a UDP socket not yet connected has no
 * destination port: it is judged on its local one). */
static __always_inline int port_filtered(const struct ft_tuple *t)
{
	__u16 sport = t->sport, dport = t->dport;
	if (bpf_map_lookup_elem(&port_exclude, &sport) || bpf_map_lookup_elem(&port_exclude, &dport))
		return 1;
	return port_include_set && !bpf_map_lookup_elem(&port_include, &sport) &&
	       !bpf_map_lookup_elem(&port_include, &dport);
}

/* Starts following a socket fd; returns its entry, NULL if the map is full. A socket that is not
 * TCP/UDP over IP, or that the filters rule out, gets an entry marked FT_SOCK_IGNORED. */
static __always_inline struct ft_sock *follow_socket(__u32 tgid, __u64 fd, __u8 role)
{
	struct sock *sk = fd_sock(fd);
	struct ft_sock s = {};
	s.role = role;
	if (sk) {
		s.sk = (__u64)sk;
		sock_tuple(sk, &s.tuple);
	}
	if (!sk || (s.tuple.transport != FT_IPPROTO_TCP && s.tuple.transport != FT_IPPROTO_UDP) ||
	    (s.tuple.family != 2 && s.tuple.family != 10) || bpf_map_lookup_elem(&denied_tgids, &tgid) ||
	    port_filtered(&s.tuple))
		s.flags = FT_SOCK_IGNORED;
	__u64 key = sock_key(tgid, fd);
	if (bpf_map_update_elem(&sockets, &key, &s, BPF_ANY)) {
		count(FT_CNT_SOCKETS_FULL);
		return NULL;
	}
	if (!(s.flags & FT_SOCK_IGNORED))
		bpf_map_update_elem(&sock_owner, &s.sk, &key, BPF_ANY);
	return bpf_map_lookup_elem(&sockets, &key);
}

static __always_inline void fill_event(struct ft_event *e, __u32 type, __u32 tgid, __u64 fd)
{
	e->type = type;
	e->tgid = tgid;
	e->ts_ns = bpf_ktime_get_ns();
	e->fd = fd;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
}

/* Reports a followed socket's end with its byte counts and stops following it: on close(), or
 * when TCP reaches CLOSE first (a process that exits without closing, a reset). */
static __always_inline void forget_socket(__u64 key, struct ft_sock *s)
{
	if (s->flags & FT_SOCK_IGNORED) {
		bpf_map_delete_elem(&sockets, &key);
		return;
	}
	if (tcp_enabled && s->tuple.transport == FT_IPPROTO_TCP) {
		struct ft_event e = {};
		e.type = FT_EV_CLOSE;
		e.tgid = key >> 32;
		e.fd = (__u32)key;
		e.ts_ns = bpf_ktime_get_ns();
		e.role = s->role;
		e.bytes_sent = s->bytes_sent;
		e.bytes_received = s->bytes_received;
		e.bytes = s->sk; /* which socket, for user space's byte accounting */
		e.tuple = s->tuple;
		emit(&e, sizeof(e));
	}
	__u64 sk = s->sk;
	bpf_map_delete_elem(&sock_owner, &sk);
	struct ft_request_key rkey = {.sock_key = key};
	bpf_map_delete_elem(&requests, &rkey);
	bpf_map_delete_elem(&request_payloads, &rkey);
	bpf_map_delete_elem(&sockets, &key);
}

#include "tcp.bpf.h"
#include "l7.bpf.h"
#include "syscalls.bpf.h"
#include "host.bpf.h"
#include "tls.bpf.h"
