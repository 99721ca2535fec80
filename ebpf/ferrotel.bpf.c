// SPDX-License-Identifier: GPL-2.0
/* ferrotel's kernel side: tracepoints only (this kernel has no kprobes).
 *
 * - TCP connections from connect/accept/close and sock:inet_sock_set_state;
 * - L7 exchanges: the first bytes of every read/write/send/recv variant on a socket, the
 *   protocol detected here (protocols.h), a request kept per socket (and stream) until the
 *   first bytes of its response, then one record with both;
 * - disk I/O from block_rq_issue/complete; process exec/exit and OOM kills.
 * Records go to one ring buffer; the receiver (components/receiver/ebpf) turns them into
 * telemetry. Every map is bounded; what does not fit is counted in `counters`. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
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

/* Set by the receiver at load time. */
const volatile __u32 self_tgid = 0;
const volatile __u32 capture_size = 1024;
const volatile __u8 l7_enabled = 1;
/* l7.export_payload: without it only DNS payloads (for the question name) reach user space */
const volatile __u8 send_payload = 0;

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

/* A socket file descriptor being followed: key is tgid << 32 | fd. */
struct ft_sock {
	__u64 sk;
	__u64 bytes_sent;
	__u64 bytes_received;
	struct ft_tuple tuple;
	__u8 role;
	__u8 proto; /* what it spoke last */
	__u8 pad[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct ft_sock);
} sockets SEC(".maps");

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

struct ft_pending_io {
	__u64 fd;
	__u64 buf;
	__u64 addr; /* sendto's destination, for unconnected UDP */
	__u32 kind;
	__u32 out;
	__u32 socket_call; /* sendto and friends: the fd is a socket even if not followed yet */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct ft_pending_io);
} pending_io SEC(".maps");

/* A request awaiting its response. Its payload, when it will be reported, waits apart in
 * `request_payloads`: most requests need no 4 KiB copy. */
struct ft_request_meta {
	__u64 start_ns;
	__u32 proto;
	__u32 size;
	__u32 len;
	__u32 pad;
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

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
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

/* Starts following a socket fd; returns its entry, or NULL if it is not a TCP/UDP socket. */
static __always_inline struct ft_sock *follow_socket(__u32 tgid, __u64 fd, __u8 role)
{
	struct sock *sk = fd_sock(fd);
	if (!sk)
		return NULL;
	struct ft_sock s = {};
	s.sk = (__u64)sk;
	s.role = role;
	sock_tuple(sk, &s.tuple);
	if (s.tuple.transport != FT_IPPROTO_TCP && s.tuple.transport != FT_IPPROTO_UDP)
		return NULL;
	if (s.tuple.family != 2 && s.tuple.family != 10)
		return NULL;
	__u64 key = sock_key(tgid, fd);
	if (bpf_map_update_elem(&sockets, &key, &s, BPF_ANY)) {
		count(FT_CNT_SOCKETS_FULL);
		return NULL;
	}
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
	if (s->tuple.transport == FT_IPPROTO_TCP) {
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

/* ---- connections ---- */

SEC("tracepoint/syscalls/sys_enter_connect")
int sys_enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (is_self(id))
		return 0;
	struct ft_pending_connect p = {.fd = ctx->args[0], .addr = ctx->args[1], .start_ns = bpf_ktime_get_ns()};
	if (bpf_map_update_elem(&pending_connect, &id, &p, BPF_ANY))
		count(FT_CNT_PENDING_FULL);
	return 0;
}

static __always_inline void addr_tuple(__u64 addr, struct ft_tuple *t)
{
	struct sockaddr_in sin = {};
	if (bpf_probe_read_user(&sin, sizeof(sin), (void *)addr))
		return;
	t->family = sin.sin_family;
	if (sin.sin_family == 10) {
		struct sockaddr_in6 sin6 = {};
		bpf_probe_read_user(&sin6, sizeof(sin6), (void *)addr);
		t->dport = bpf_ntohs(sin6.sin6_port);
		__builtin_memcpy(t->daddr, &sin6.sin6_addr, 16);
	} else {
		t->dport = bpf_ntohs(sin.sin_port);
		__builtin_memcpy(t->daddr, &sin.sin_addr, 4);
	}
}

SEC("tracepoint/syscalls/sys_exit_connect")
int sys_exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ft_pending_connect *pending = bpf_map_lookup_elem(&pending_connect, &id);
	if (!pending)
		return 0;
	struct ft_pending_connect p = *pending;
	bpf_map_delete_elem(&pending_connect, &id);
	__u32 tgid = id >> 32;
	long ret = ctx->ret;
	if (ret == 0 || ret == -EINPROGRESS) {
		follow_socket(tgid, p.fd, FT_ROLE_CLIENT);
		return 0;
	}
	/* Failed before a SYN left (no state change to report it), e.g. a refused loopback connect
	 * is reported by inet_sock_set_state instead. */
	if (p.syn_sent)
		return 0;
	struct sock *sk = fd_sock(p.fd);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != FT_IPPROTO_TCP)
		return 0;
	struct ft_event e = {};
	fill_event(&e, FT_EV_CONNECT_FAILED, tgid, p.fd);
	e.error = -ret;
	e.duration_ns = e.ts_ns - p.start_ns;
	e.role = FT_ROLE_CLIENT;
	e.tuple.transport = FT_IPPROTO_TCP;
	addr_tuple(p.addr, &e.tuple);
	emit(&e, sizeof(e));
	return 0;
}

static __always_inline void copy_ctx_tuple(struct ft_tuple *t, __u16 family, __u16 sport, __u16 dport,
					   const __u8 *saddr4, const __u8 *daddr4, const __u8 *saddr6,
					   const __u8 *daddr6)
{
	t->family = family;
	t->sport = sport;
	t->dport = dport;
	t->transport = FT_IPPROTO_TCP;
	if (family == 10) {
		bpf_core_read(t->saddr, 16, saddr6);
		bpf_core_read(t->daddr, 16, daddr6);
	} else {
		bpf_core_read(t->saddr, 4, saddr4);
		bpf_core_read(t->daddr, 4, daddr4);
	}
}

SEC("tracepoint/sock/inet_sock_set_state")
int inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (ctx->protocol != FT_IPPROTO_TCP)
		return 0;
	__u64 sk = (__u64)ctx->skaddr;
	int old = ctx->oldstate, new = ctx->newstate;
	__u64 id = bpf_get_current_pid_tgid();

	if (old == TCP_CLOSE && new == TCP_SYN_SENT) {
		/* runs inside connect(): the current task is the one connecting */
		struct ft_pending_connect *p = bpf_map_lookup_elem(&pending_connect, &id);
		if (!p)
			return 0;
		p->syn_sent = 1;
		struct ft_connecting c = {.sock_key = sock_key(id >> 32, p->fd), .start_ns = p->start_ns};
		bpf_map_update_elem(&connecting, &sk, &c, BPF_ANY);
		return 0;
	}

	struct ft_event e = {};
	if (old == TCP_SYN_SENT) {
		/* softirq context: the pid comes from the map, not the current task */
		struct ft_connecting *c = bpf_map_lookup_elem(&connecting, &sk);
		if (!c)
			return 0;
		__u32 type = new == TCP_ESTABLISHED ? FT_EV_CONNECT : FT_EV_CONNECT_FAILED;
		e.type = type;
		e.tgid = c->sock_key >> 32;
		e.fd = (__u32)c->sock_key;
		e.ts_ns = bpf_ktime_get_ns();
		e.duration_ns = e.ts_ns - c->start_ns;
		e.role = FT_ROLE_CLIENT;
		if (type == FT_EV_CONNECT_FAILED)
			e.error = BPF_CORE_READ((struct sock *)sk, sk_err);
		bpf_map_delete_elem(&connecting, &sk);
	} else if (new == TCP_CLOSE && old != TCP_LISTEN) {
		__u64 *owner = bpf_map_lookup_elem(&sock_owner, &sk);
		if (!owner)
			return 0;
		__u64 key = *owner;
		struct ft_sock *s = bpf_map_lookup_elem(&sockets, &key);
		if (s && s->sk == sk)
			forget_socket(key, s);
		return 0;
	} else if (new == TCP_LISTEN || old == TCP_LISTEN) {
		if (is_self(id))
			return 0;
		fill_event(&e, new == TCP_LISTEN ? FT_EV_LISTEN_OPEN : FT_EV_LISTEN_CLOSE, id >> 32, 0);
	} else {
		return 0;
	}
	copy_ctx_tuple(&e.tuple, ctx->family, ctx->sport, ctx->dport, ctx->saddr, ctx->daddr, ctx->saddr_v6,
		       ctx->daddr_v6);
	emit(&e, sizeof(e));
	return 0;
}

static __always_inline int on_accept_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	long fd = ctx->ret;
	if (fd < 0 || is_self(id))
		return 0;
	struct ft_sock *s = follow_socket(id >> 32, fd, FT_ROLE_SERVER);
	if (!s || s->tuple.transport != FT_IPPROTO_TCP)
		return 0;
	struct ft_event e = {};
	fill_event(&e, FT_EV_ACCEPT, id >> 32, fd);
	e.role = FT_ROLE_SERVER;
	e.tuple = s->tuple;
	emit(&e, sizeof(e));
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int sys_exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept_exit(ctx);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int sys_exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept_exit(ctx);
}

SEC("tracepoint/syscalls/sys_enter_close")
int sys_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 key = sock_key(id >> 32, ctx->args[0]);
	struct ft_sock *s = bpf_map_lookup_elem(&sockets, &key);
	if (s)
		forget_socket(key, s);
	return 0;
}

SEC("tracepoint/tcp/tcp_retransmit_skb")
int tcp_retransmit_skb(struct trace_event_raw_tcp_retransmit_skb *ctx)
{
	__u64 sk = (__u64)ctx->skaddr;
	__u64 *owner = bpf_map_lookup_elem(&sock_owner, &sk);
	struct ft_event e = {};
	e.type = FT_EV_RETRANSMIT;
	e.ts_ns = bpf_ktime_get_ns();
	if (owner) {
		e.tgid = *owner >> 32;
		e.fd = (__u32)*owner;
	}
	e.aux = ctx->state;
	copy_ctx_tuple(&e.tuple, ctx->family, ctx->sport, ctx->dport, ctx->saddr, ctx->daddr, ctx->saddr_v6,
		       ctx->daddr_v6);
	emit(&e, sizeof(e));
	return 0;
}

#include "l7.bpf.h"
#include "host.bpf.h"
