/* L7: the data syscalls on sockets. Included by ferrotel.bpf.c (one object, shared maps).
 *
 * Enter records the buffer; exit, once the kernel says how many bytes moved, counts them on
 * the socket and, with L7 capture on, copies the first bytes. A request (client writes, or
 * server reads, something a protocol recognises) is kept in `requests` under its socket and
 * stream; the first bytes of the matching response complete it into one ft_l7_event. */

static __always_inline int enter_io(struct trace_event_raw_sys_enter *ctx, __u32 kind, __u32 out, __u32 socket_call)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (is_self(id))
		return 0;
	__u64 fd = ctx->args[0];
	if (!socket_call) {
		/* read/write/readv/writev: only on sockets already followed, not on every file */
		__u64 key = sock_key(id >> 32, fd);
		if (!bpf_map_lookup_elem(&sockets, &key))
			return 0;
	}
	struct ft_pending_io p = {.fd = fd, .buf = ctx->args[1], .kind = kind, .out = out, .socket_call = socket_call};
	if (kind == FT_IO_BUF && socket_call && out)
		p.addr = ctx->args[4];
	if (bpf_map_update_elem(&pending_io, &id, &p, BPF_ANY))
		count(FT_CNT_PENDING_FULL);
	return 0;
}

/* Where the first bytes are, and how many of them belong to the first buffer. */
static __always_inline __u64 first_buffer(struct ft_pending_io *p, __u64 *limit)
{
	struct iovec iov = {};
	__u64 iov_ptr = p->buf;
	if (p->kind == FT_IO_BUF)
		return p->buf;
	if (p->kind == FT_IO_MSG || p->kind == FT_IO_MMSG) {
		/* an mmsghdr starts with its msghdr */
		struct user_msghdr msg = {};
		if (bpf_probe_read_user(&msg, sizeof(msg), (void *)p->buf))
			return 0;
		iov_ptr = (__u64)msg.msg_iov;
		if (p->kind == FT_IO_MSG && msg.msg_name && p->out)
			p->addr = (__u64)msg.msg_name;
	}
	if (bpf_probe_read_user(&iov, sizeof(iov), (void *)iov_ptr))
		return 0;
	if (iov.iov_len < *limit)
		*limit = iov.iov_len;
	return (__u64)iov.iov_base;
}

static __always_inline __u32 clamp_capture(__u64 n)
{
	__u32 cap = capture_size;
	if (cap > FT_MAX_CAPTURE)
		cap = FT_MAX_CAPTURE;
	if (n > cap)
		n = cap;
	return n;
}

/* Whether the payloads go to user space: when spans carry them, and for DNS, whose question
 * name is read there. */
static __always_inline int payload_wanted(__u32 proto)
{
	return send_payload || proto == FT_PROTO_DNS;
}

/* Fills `buf` with the configured capture of the buffer at `src` (it holds the detection bytes). */
static __always_inline void capture(struct ft_request *buf, __u64 src, __u64 limit, __u32 proto)
{
	if (!payload_wanted(proto)) {
		buf->meta.len = 0;
		return;
	}
	__u32 n = clamp_capture(limit);
	if (n > FT_MAX_CAPTURE)
		return;
	if (n > buf->meta.len && bpf_probe_read_user(buf->payload.bytes, n, (void *)src) == 0)
		buf->meta.len = n;
	else if (n < buf->meta.len)
		buf->meta.len = n;
}

static __always_inline void complete_exchange(struct ft_sock *s, __u64 key, __u32 tgid, __u64 fd,
					      struct ft_request_key *rkey, struct ft_request_meta *req,
					      struct ft_request *resp, __u32 resp_size, __u32 status)
{
	__u32 zero = 0;
	struct ft_l7_event *e = bpf_map_lookup_elem(&scratch_l7, &zero);
	if (!e)
		return;
	__u32 cap = capture_size;
	if (cap > FT_MAX_CAPTURE)
		cap = FT_MAX_CAPTURE;
	e->type = FT_EV_L7;
	e->tgid = tgid;
	e->ts_ns = bpf_ktime_get_ns();
	e->fd = fd;
	e->duration_ns = e->ts_ns - req->start_ns;
	e->stream_id = rkey->stream;
	e->protocol = req->proto;
	e->status = status;
	e->request_size = req->size;
	e->response_size = resp_size;
	e->capture_size = cap;
	e->role = s->role;
	e->tuple = s->tuple;
	bpf_get_current_comm(e->comm, sizeof(e->comm));

	__u32 req_len = 0;
	if (req->len > 0) {
		struct ft_payload *payload = bpf_map_lookup_elem(&request_payloads, rkey);
		if (payload) {
			req_len = req->len;
			if (req_len > FT_MAX_CAPTURE)
				req_len = FT_MAX_CAPTURE;
			bpf_probe_read_kernel(e->payload, req_len, payload->bytes);
			bpf_map_delete_elem(&request_payloads, rkey);
		}
	}
	e->request_len = req_len;
	__u32 resp_len = resp->meta.len;
	if (resp_len > FT_MAX_CAPTURE)
		resp_len = FT_MAX_CAPTURE;
	bpf_probe_read_kernel(e->payload + cap, resp_len, resp->payload.bytes);
	e->response_len = resp_len;
	bpf_map_delete_elem(&requests, rkey);
	/* only what was captured is written: the request's bytes, then the response's at `cap` */
	if (resp_len > 0)
		emit(e, FT_L7_HEADER_SIZE + cap + resp_len);
	else
		emit(e, FT_L7_HEADER_SIZE + req_len);
}

static __always_inline int exit_io(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ft_pending_io *pending = bpf_map_lookup_elem(&pending_io, &id);
	if (!pending)
		return 0;
	struct ft_pending_io p = *pending;
	bpf_map_delete_elem(&pending_io, &id);
	long ret = ctx->ret;
	if (ret <= 0)
		return 0;
	__u32 tgid = id >> 32;
	__u64 key = sock_key(tgid, p.fd);
	struct ft_sock *s = bpf_map_lookup_elem(&sockets, &key);
	if (!s) {
		/* a socket from before the receiver started, or an unconnected UDP one */
		if (!p.socket_call)
			return 0;
		s = follow_socket(tgid, p.fd, FT_ROLE_UNKNOWN);
		if (!s)
			return 0;
	}
	__u64 size = ret;
	if (p.kind == FT_IO_MMSG) {
		/* ret counts messages; the first one's length is in its mmsghdr */
		unsigned int first = 0;
		bpf_probe_read_user(&first, sizeof(first), (void *)(p.buf + __builtin_offsetof(struct mmsghdr, msg_len)));
		size = first;
	}
	if (p.out)
		__sync_fetch_and_add(&s->bytes_sent, size);
	else
		__sync_fetch_and_add(&s->bytes_received, size);
	if (!l7_enabled || size == 0)
		return 0;

	__u32 zero = 0;
	struct ft_request *buf = bpf_map_lookup_elem(&scratch_request, &zero);
	if (!buf)
		return 0;
	__u64 limit = size;
	__u64 src = first_buffer(&p, &limit);
	if (!src)
		return 0;
	/* the first bytes decide; the rest of the capture is read only for an exchange that will be
	 * reported with its payload */
	__u32 n = limit < FT_DETECT_BYTES ? limit : FT_DETECT_BYTES;
	if (bpf_probe_read_user(buf->payload.bytes, n, (void *)src))
		return 0;
	buf->meta.len = n;
	buf->meta.size = size;

	if (s->tuple.transport == FT_IPPROTO_UDP && p.out && p.addr && s->tuple.dport == 0)
		addr_tuple(p.addr, &s->tuple);

	__u8 role = s->role;
	int request_side = role == FT_ROLE_UNKNOWN || (role == FT_ROLE_CLIENT && p.out) ||
			   (role == FT_ROLE_SERVER && !p.out);
	struct ft_request_key rkey = {.sock_key = key};
	if (request_side) {
		__u32 proto = ft_detect_request(buf->payload.bytes, n, size, s->tuple.transport, s->proto, &rkey.stream);
		if (proto != FT_PROTO_UNKNOWN) {
			if (role == FT_ROLE_UNKNOWN)
				s->role = p.out ? FT_ROLE_CLIENT : FT_ROLE_SERVER;
			s->proto = proto;
			if (proto == FT_PROTO_HTTP2 && rkey.stream == 0)
				return 0; /* the preface alone */
			buf->meta.start_ns = bpf_ktime_get_ns();
			buf->meta.proto = proto;
			capture(buf, src, limit, proto);
			if (bpf_map_update_elem(&requests, &rkey, &buf->meta, BPF_ANY))
				count(FT_CNT_REQUESTS_FULL);
			else if (buf->meta.len > 0)
				bpf_map_update_elem(&request_payloads, &rkey, &buf->payload, BPF_ANY);
			return 0;
		}
		if (role == FT_ROLE_UNKNOWN)
			return 0;
	}
	if (request_side || s->proto == FT_PROTO_UNKNOWN)
		return 0;
	__u32 status = 0;
	if (!ft_parse_response(s->proto, buf->payload.bytes, n, size, &rkey.stream, &status))
		return 0;
	struct ft_request_meta *req = bpf_map_lookup_elem(&requests, &rkey);
	if (!req)
		return 0;
	capture(buf, src, limit, s->proto);
	complete_exchange(s, key, tgid, p.fd, &rkey, req, buf, size, status);
	return 0;
}

#define FT_IO_PROGRAMS(name, kind, out, socket_call)                              \
	SEC("tracepoint/syscalls/sys_enter_" #name)                               \
	int sys_enter_##name(struct trace_event_raw_sys_enter *ctx)               \
	{                                                                         \
		return enter_io(ctx, kind, out, socket_call);                     \
	}                                                                         \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                \
	int sys_exit_##name(struct trace_event_raw_sys_exit *ctx)                 \
	{                                                                         \
		return exit_io(ctx);                                              \
	}

FT_IO_PROGRAMS(read, FT_IO_BUF, 0, 0)
FT_IO_PROGRAMS(write, FT_IO_BUF, 1, 0)
FT_IO_PROGRAMS(readv, FT_IO_IOV, 0, 0)
FT_IO_PROGRAMS(writev, FT_IO_IOV, 1, 0)
FT_IO_PROGRAMS(recvfrom, FT_IO_BUF, 0, 1)
FT_IO_PROGRAMS(sendto, FT_IO_BUF, 1, 1)
FT_IO_PROGRAMS(recvmsg, FT_IO_MSG, 0, 1)
FT_IO_PROGRAMS(sendmsg, FT_IO_MSG, 1, 1)
FT_IO_PROGRAMS(recvmmsg, FT_IO_MMSG, 0, 1)
FT_IO_PROGRAMS(sendmmsg, FT_IO_MMSG, 1, 1)
