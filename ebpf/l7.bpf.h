/* L7: the data on followed sockets. Included by ferrotel.bpf.c (one object, shared maps).
 *
 * A data syscall's entry records its buffer in the thread's task storage; its exit, once the
 * kernel says how many bytes moved, counts them on the socket and reads the first bytes. A
 * request (client writes, or server reads, something a protocol recognises) is kept in
 * `requests` under its socket and stream; the first bytes of the matching response complete
 * the exchange. What it costs is kept small by returning early: sockets of no interest stop at
 * one lookup, a socket's protocol once known is the only one tried, a socket that never looks
 * like a protocol (or is TLS) is no longer read, and a response is read only while a request
 * awaits it. A sampled exchange becomes one record (a span); every other one is counted and
 * timed in `l7_stats`, so that metrics alone cost no ring-buffer traffic. */

/* tls.bpf.h builds on ft_task_get() and ft_tls_data() */
#define FT_TLS_INTERFACE 1

#include "l7_read.bpf.h"

/* Protocols whose responses carry a stream id: several requests may await on one socket. */
static __always_inline int streamed(__u32 proto)
{
	return proto == FT_PROTO_HTTP2 || proto == FT_PROTO_MONGO || proto == FT_PROTO_KAFKA ||
	       proto == FT_PROTO_CASSANDRA || proto == FT_PROTO_DNS || proto == FT_PROTO_AMQP ||
	       proto == FT_PROTO_ZOOKEEPER || proto == FT_PROTO_DUBBO;
}

static __always_inline int request_side(const struct ft_sock *s, __u32 out)
{
	return s->role == FT_ROLE_UNKNOWN || (s->role == FT_ROLE_CLIENT && out) || (s->role == FT_ROLE_SERVER && !out);
}

/* Whether the bytes moving this way on this socket are worth reading. */
static __always_inline int wants_bytes(const struct ft_sock *s, __u32 out)
{
	if (request_side(s, out))
		return 1;
	return s->proto != FT_PROTO_UNKNOWN && ((s->flags & FT_SOCK_PENDING) || streamed(s->proto));
}

/* The latency histogram's bucket, with user space's bounds (metrics.rs BUCKETS): a value on a
 * bound belongs to that bound's bucket. */
static __always_inline __u32 latency_bucket(__u64 ns)
{
	if (ns <= 500000ULL)
		return 0;
	if (ns <= 1000000ULL)
		return 1;
	if (ns <= 2500000ULL)
		return 2;
	if (ns <= 5000000ULL)
		return 3;
	if (ns <= 10000000ULL)
		return 4;
	if (ns <= 25000000ULL)
		return 5;
	if (ns <= 50000000ULL)
		return 6;
	if (ns <= 100000000ULL)
		return 7;
	if (ns <= 250000000ULL)
		return 8;
	if (ns <= 500000000ULL)
		return 9;
	if (ns <= 1000000000ULL)
		return 10;
	if (ns <= 2500000000ULL)
		return 11;
	if (ns <= 5000000000ULL)
		return 12;
	if (ns <= 10000000000ULL)
		return 13;
	return 14;
}

/* Counts and times an exchange in l7_stats; 0 when the map is full. */
static __always_inline int count_exchange(const struct ft_sock *s, __u32 tgid, __u32 proto, __u32 status,
					  __u64 duration_ns, __u8 flags)
{
	struct ft_l7_key key = {};
	key.tgid = tgid;
	key.status = status;
	key.protocol = proto;
	key.role = s->role;
	key.family = s->tuple.family;
	key.flags = flags;
	if (s->role == FT_ROLE_SERVER) {
		key.port = s->tuple.sport;
		__builtin_memcpy(key.addr, s->tuple.saddr, 16);
	} else {
		key.port = s->tuple.dport;
		__builtin_memcpy(key.addr, s->tuple.daddr, 16);
	}
	struct ft_l7_stats *stats = bpf_map_lookup_elem(&l7_stats, &key);
	if (!stats) {
		struct ft_l7_stats zero = {};
		/* another CPU may have added it meanwhile: then the lookup below finds it */
		bpf_map_update_elem(&l7_stats, &key, &zero, BPF_NOEXIST);
		stats = bpf_map_lookup_elem(&l7_stats, &key);
		if (!stats)
			return 0;
	}
	/* per-CPU values: no other program writes this copy */
	stats->count += 1;
	stats->sum_ns += duration_ns;
	__u32 bucket = latency_bucket(duration_ns);
	if (bucket < FT_L7_BUCKETS)
		stats->buckets[bucket] += 1;
	return 1;
}

/* `in_map`: the request is in `requests` (else in its socket), and is deleted from there. */
static __always_inline void complete_exchange(struct ft_sock *s, __u32 tgid, __u64 fd, struct ft_request_key *rkey,
					      struct ft_request_meta *req, int in_map, struct ft_request *resp,
					      __u32 resp_size, __u32 status, __u8 flags)
{
	__u64 now = bpf_ktime_get_ns();
	/* every exchange but DNS (whose series name the question) is counted here, spans too: it
	 * costs the kernel one per-CPU lookup, and user space the building of a series key */
	if (req->proto != FT_PROTO_DNS) {
		int counted = count_exchange(s, tgid, req->proto, status, now - req->start_ns, flags);
		if (counted && !req->sampled) {
			if (in_map)
				bpf_map_delete_elem(&requests, rkey);
			return;
		}
		/* not counted: the statistics are full, user space counts this one */
		flags |= counted ? FT_L7_COUNTED : req->sampled ? 0 : FT_L7_NO_SPAN;
	}
	if (req->sampled == FT_SAMPLE_STATE)
		flags |= FT_L7_STATE_ONLY;
	__u32 zero = 0;
	struct ft_l7_event *e = bpf_map_lookup_elem(&scratch_l7, &zero);
	if (!e)
		return;
	__u32 cap = capture_size;
	if (cap > FT_MAX_CAPTURE)
		cap = FT_MAX_CAPTURE;
	e->type = FT_EV_L7;
	e->tgid = tgid;
	e->ts_ns = now;
	e->fd = fd;
	e->duration_ns = now - req->start_ns;
	e->stream_id = rkey->stream;
	e->protocol = req->proto;
	e->status = status;
	e->request_size = req->size;
	e->response_size = resp_size;
	e->capture_size = cap;
	e->role = s->role;
	e->flags = flags;
	e->tuple = s->tuple;
	bpf_get_current_comm(e->comm, sizeof(e->comm));

	__u32 req_len = 0;
	struct ft_payload *payload = req->len > 0 ? bpf_map_lookup_elem(&request_payloads, rkey) : NULL;
	if (payload) {
		req_len = req->len;
		if (req_len > FT_MAX_CAPTURE)
			req_len = FT_MAX_CAPTURE;
		bpf_probe_read_kernel(e->payload, req_len, payload->bytes);
		bpf_map_delete_elem(&request_payloads, rkey);
	} else if (req->sampled) {
		req_len = req->len < FT_DETECT_BYTES ? req->len : FT_DETECT_BYTES;
		bpf_probe_read_kernel(e->payload, req_len, req->head);
	}
	e->request_len = req_len;
	__u32 resp_len = resp->meta.len;
	if (resp_len > FT_MAX_CAPTURE)
		resp_len = FT_MAX_CAPTURE;
	bpf_probe_read_kernel(e->payload + cap, resp_len, resp->payload.bytes);
	e->response_len = resp_len;
	if (in_map)
		bpf_map_delete_elem(&requests, rkey);
	/* only what was captured is written: the request's bytes, then the response's at `cap` */
	if (resp_len > 0)
		emit(e, FT_L7_HEADER_SIZE + cap + resp_len);
	else
		emit(e, FT_L7_HEADER_SIZE + req_len);
}

/* `size` bytes moved `out` (written) or in on a followed socket, from `src` (a buffer, or a
 * vectored call's buffers). From a data syscall, or a TLS library's plaintext (`tls`). */
static __always_inline void l7_data(struct ft_sock *s, __u64 key, __u32 tgid, __u64 fd, struct ft_src *src,
				    __u64 size, __u32 out, __u8 tls)
{
	__u32 zero = 0;
	struct ft_request *buf = bpf_map_lookup_elem(&scratch_request, &zero);
	if (!buf)
		return;
	/* the first bytes decide; the rest of the capture is read only for an exchange whose
	 * payload leaves the kernel */
	__u32 n = read_src(&buf->payload, src, FT_DETECT_BYTES, size);
	if (n == 0 || n > FT_DETECT_BYTES)
		return;
	buf->meta.len = n;
	buf->meta.size = size;
	buf->meta.sampled = 0;
	__u8 flags = tls ? FT_L7_TLS : 0;

	__u8 role = s->role;
	struct ft_request_key rkey = {.sock_key = key};
	if (request_side(s, out)) {
		__u32 known = s->proto;
		if (!tls && known == FT_PROTO_UNKNOWN && ft_tls_record(buf->payload.bytes, n)) {
			s->flags |= FT_SOCK_TLS; /* the plaintext, if any, comes from tls.bpf.h */
			return;
		}
		__u32 proto = known == FT_PROTO_UNKNOWN
				      ? ft_detect_request(buf->payload.bytes, n, size, s->tuple.transport, known, &rkey.stream)
				      : ft_detect_request_of(known, buf->payload.bytes, n, size, &rkey.stream);
		if (proto != FT_PROTO_UNKNOWN) {
			if (role == FT_ROLE_UNKNOWN)
				s->role = out ? FT_ROLE_CLIENT : FT_ROLE_SERVER;
			s->proto = proto;
			if (!tls)
				s->flags |= FT_SOCK_PLAIN;
			if (proto == FT_PROTO_HTTP2) {
				if (rkey.stream == 0)
					return; /* the preface alone */
				/* the head starts at the request's HEADERS frame, however much precedes it */
				__u32 frame = ft_http2_request_frame(buf->payload.bytes, n);
				if (frame > 0 && frame < n && frame < src->limit) {
					src->addr += frame;
					src->limit -= frame;
					src->iov = 0; /* the first buffer's bytes alone, past the frame */
					size -= frame;
					n = src->limit < FT_DETECT_BYTES ? src->limit : FT_DETECT_BYTES;
					if (bpf_probe_read_user(buf->payload.bytes, n, (void *)src->addr))
						return;
					buf->meta.len = n;
				}
			}
			buf->meta.start_ns = bpf_ktime_get_ns();
			buf->meta.proto = proto;
			buf->meta.sampled =
				proto != FT_PROTO_DNS && bpf_get_prandom_u32() < span_threshold ? FT_SAMPLE_SPAN : 0;
			/* user space names a MySQL execution after its prepare, by the id the reply gives */
			if (proto == FT_PROTO_MYSQL && n > 4 && buf->payload.bytes[4] == FT_MYSQL_COM_STMT_PREPARE)
				buf->meta.sampled |= FT_SAMPLE_STATE;
			if (!buf->meta.sampled && !streamed(proto)) {
				s->request_start_ns = buf->meta.start_ns;
				s->request_size = size;
				s->flags |= FT_SOCK_PENDING;
				return;
			}
			/* the whole capture only when it leaves the process (and for DNS, whose question
			 * user space reads); a span otherwise needs only the bytes already read */
			int full = send_payload ? buf->meta.sampled || proto == FT_PROTO_DNS : proto == FT_PROTO_DNS;
			if (buf->meta.sampled && !full)
				__builtin_memcpy(buf->meta.head, buf->payload.bytes, FT_DETECT_BYTES);
			else
				capture(buf, src, size, full);
			if (bpf_map_update_elem(&requests, &rkey, &buf->meta, BPF_ANY)) {
				count(FT_CNT_REQUESTS_FULL);
				return;
			}
			if (full && buf->meta.len > 0)
				bpf_map_update_elem(&request_payloads, &rkey, &buf->payload, BPF_ANY);
			if (!streamed(proto))
				s->flags |= FT_SOCK_PENDING;
			return;
		}
		if (known == FT_PROTO_UNKNOWN && ++s->misses >= FT_MAX_MISSES)
			s->flags |= FT_SOCK_NOT_L7;
		return;
	}
	if (s->proto == FT_PROTO_UNKNOWN)
		return;
	__u32 status = 0;
	if (!ft_parse_response(s->proto, buf->payload.bytes, n, size, &rkey.stream, &status))
		return;
	s->flags &= ~FT_SOCK_PENDING;
	if (s->request_start_ns && !streamed(s->proto)) {
		struct ft_request_meta *req = bpf_map_lookup_elem(&scratch_meta, &zero);
		if (!req)
			return;
		req->start_ns = s->request_start_ns;
		req->proto = s->proto;
		req->size = s->request_size;
		req->len = 0;
		req->sampled = 0;
		s->request_start_ns = 0;
		buf->meta.len = 0;
		complete_exchange(s, tgid, fd, &rkey, req, 0, buf, size, status, flags);
		return;
	}
	struct ft_request_meta *req = bpf_map_lookup_elem(&requests, &rkey);
	if (!req && s->proto == FT_PROTO_KAFKA && n >= 8) {
		rkey.stream = ft_kafka_other_stream(buf->payload.bytes, rkey.stream);
		req = bpf_map_lookup_elem(&requests, &rkey);
	}
	if (!req)
		return;
	if (send_payload && (req->sampled || req->proto == FT_PROTO_DNS))
		capture(buf, src, size, 1);
	else if (req->proto == FT_PROTO_HTTP2)
		/* the header blocks: the status, gRPC's in the trailers, and the server's HPACK table */
		capture_upto(buf, src, size, FT_H2_RESPONSE_HEAD);
	else if (!(req->sampled & FT_SAMPLE_STATE))
		buf->meta.len = 0; /* else the first bytes, already read, hold the statement id */
	complete_exchange(s, tgid, fd, &rkey, req, 1, buf, size, status, flags);
}

/* ---- data syscalls ---- */

static __always_inline void on_io_enter(__u64 id, __u64 fd, __u64 buf, __u64 dest, __u32 kind, __u8 out,
					__u8 socket_call)
{
	__u64 key = sock_key(id >> 32, fd);
	struct ft_sock *s = bpf_map_lookup_elem(&sockets, &key);
	if (s) {
		if (s->flags & FT_SOCK_IGNORED)
			return;
	} else if (!socket_call) {
		/* read/write on anything but a followed socket: of interest only inside a TLS call, to
		 * learn its socket */
		if (!tls_enabled)
			return;
		struct ft_task *t = ft_task_lookup();
		if (!t || !t->tls_active)
			return;
	}
	struct ft_task *t = ft_task_get();
	if (!t)
		return;
	t->fd = fd;
	t->buf = buf;
	t->addr = dest;
	t->kind = kind;
	t->out = out;
	t->socket_call = socket_call;
	t->io_active = 1;
}

/* The exit of a data syscall: `ret` bytes moved through `fd`; its arguments as the syscall got
 * them (from the registers with tp_btf, from the task storage entry's record otherwise). */
static __always_inline void io_exit(__u64 id, long ret, __u64 fd, __u64 buf, __u64 dest, __u32 kind, __u8 out,
				    __u8 socket_call)
{
	if (ret <= 0)
		return;
	__u32 tgid = id >> 32;
	__u64 key = sock_key(tgid, fd);
	struct ft_sock *s = bpf_map_lookup_elem(&sockets, &key);
	struct ft_task *t = NULL;
	if (!s) {
		/* a socket from before the receiver started, an unconnected UDP one, or, inside a
		 * TLS call, any socket */
		if (!socket_call) {
			if (!tls_enabled)
				return;
			t = ft_task_lookup();
			if (!t || !t->tls_active)
				return;
		}
		s = follow_socket(tgid, fd, FT_ROLE_UNKNOWN);
		if (!s)
			return;
	}
	if (s->flags & FT_SOCK_IGNORED)
		return;
	__u64 size = ret;
	if (kind == FT_IO_MMSG) {
		/* ret counts messages; the first one's length is in its mmsghdr */
		unsigned int first = 0;
		bpf_probe_read_user(&first, sizeof(first), (void *)(buf + __builtin_offsetof(struct mmsghdr, msg_len)));
		size = first;
	}
	if (out)
		__sync_fetch_and_add(&s->bytes_sent, size);
	else
		__sync_fetch_and_add(&s->bytes_received, size);
	/* a socket whose plaintext was recognised here is not a TLS library's: no need to ask */
	if (tls_enabled && !(s->flags & FT_SOCK_PLAIN)) {
		if (!t)
			t = ft_task_lookup();
		if (t && t->tls_active) {
			/* the encrypted side of SSL_read/SSL_write: tls.bpf.h reports the plaintext */
			if (t->tls_fd < 0)
				t->tls_fd = fd;
			s->flags |= FT_SOCK_TLS;
			return;
		}
	}
	if (!l7_enabled || size == 0 || (s->flags & (FT_SOCK_TLS | FT_SOCK_NOT_L7)) || !wants_bytes(s, out))
		return;
	struct ft_src src = {.limit = size};
	__u64 addr = kind == FT_IO_BUF && out ? dest : 0;
	src.addr = first_buffer(kind, buf, out, &addr, &src.limit, &src.iov);
	if (!src.addr && !src.iov)
		return;
	if (s->tuple.transport == FT_IPPROTO_UDP && out && addr && s->tuple.dport == 0)
		addr_tuple(addr, &s->tuple);
	l7_data(s, key, tgid, fd, &src, size, out, 0);
}

/* The fallback's exit: the arguments were kept by on_io_enter. */
static __always_inline void on_io_exit(__u64 id, long ret)
{
	struct ft_task *t = ft_task_lookup();
	if (!t || !t->io_active)
		return;
	t->io_active = 0;
	io_exit(id, ret, t->fd, t->buf, t->addr, t->kind, t->out, t->socket_call);
}

/* Plaintext `size` bytes at user address `buf`, written (`out`) or read by the application
 * through a TLS library on socket `fd` of the current process `tgid`. */
static __always_inline void ft_tls_data(__u32 tgid, __u64 fd, __u64 buf, __u64 size, __u32 out)
{
	if (!l7_enabled || size == 0 || tgid == self_tgid)
		return;
	__u64 key = sock_key(tgid, fd);
	struct ft_sock *s = bpf_map_lookup_elem(&sockets, &key);
	if (!s) {
		s = follow_socket(tgid, fd, FT_ROLE_UNKNOWN);
		if (!s)
			return;
	}
	if (s->flags & FT_SOCK_IGNORED)
		return;
	s->flags |= FT_SOCK_TLS;
	if (!wants_bytes(s, out))
		return;
	struct ft_src src = {.addr = buf, .limit = size};
	l7_data(s, key, tgid, fd, &src, size, out, 1);
}
