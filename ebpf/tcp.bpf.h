/* TCP connections: connect, accept and close, the kernel's state changes and retransmits.
 * Included by ferrotel.bpf.c (one object, shared maps). */

static __always_inline void on_connect_enter(__u64 id, __u64 fd, __u64 addr)
{
	struct ft_pending_connect p = {.fd = fd, .addr = addr, .start_ns = bpf_ktime_get_ns()};
	if (bpf_map_update_elem(&pending_connect, &id, &p, BPF_ANY))
		count(FT_CNT_PENDING_FULL);
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

/* connect() returned `ret`. With tp_btf there is no entry program: `fd` and `addr` come from the
 * registers, and a pending entry exists only if a SYN left (inet_sock_set_state made it). The
 * fallback's entry program made one for every connect, with the arguments. */
static __always_inline void on_connect_exit(__u64 id, long ret, __u64 fd, __u64 addr)
{
	struct ft_pending_connect p = {.fd = fd, .addr = addr, .start_ns = bpf_ktime_get_ns()};
	struct ft_pending_connect *pending = bpf_map_lookup_elem(&pending_connect, &id);
	if (pending) {
		p.start_ns = pending->start_ns;
		p.syn_sent = pending->syn_sent;
		if (pending->fd != FT_FD_UNKNOWN) {
			p.fd = pending->fd;
			p.addr = pending->addr;
		}
		bpf_map_delete_elem(&pending_connect, &id);
	}
	__u32 tgid = id >> 32;
	if (ret == 0 || ret == -EINPROGRESS) {
		follow_socket(tgid, p.fd, FT_ROLE_CLIENT);
		return;
	}
	/* Failed before a SYN left (no state change to report it), e.g. a refused loopback connect
	 * is reported by inet_sock_set_state instead. */
	if (p.syn_sent || !tcp_enabled)
		return;
	struct sock *sk = fd_sock(p.fd);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != FT_IPPROTO_TCP)
		return;
	struct ft_event e = {};
	fill_event(&e, FT_EV_CONNECT_FAILED, tgid, p.fd);
	e.error = -ret;
	e.duration_ns = e.ts_ns - p.start_ns;
	e.role = FT_ROLE_CLIENT;
	e.tuple.transport = FT_IPPROTO_TCP;
	addr_tuple(p.addr, &e.tuple);
	emit(&e, sizeof(e));
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
		/* runs inside connect(): the current task is the one connecting. Without an entry
		 * program (tp_btf) the connect is timed from here and its fd learnt at its exit. */
		if (is_self(id))
			return 0;
		struct ft_pending_connect *p = bpf_map_lookup_elem(&pending_connect, &id);
		struct ft_pending_connect fresh = {.fd = FT_FD_UNKNOWN, .start_ns = bpf_ktime_get_ns(), .syn_sent = 1};
		if (p)
			p->syn_sent = 1;
		else if (bpf_map_update_elem(&pending_connect, &id, &fresh, BPF_ANY))
			count(FT_CNT_PENDING_FULL);
		struct ft_pending_connect *now = p ? p : &fresh;
		struct ft_connecting c = {.sock_key = sock_key(id >> 32, now->fd), .start_ns = now->start_ns};
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

static __always_inline void on_accept_exit(__u64 id, long fd)
{
	if (fd < 0)
		return;
	struct ft_sock *s = follow_socket(id >> 32, fd, FT_ROLE_SERVER);
	if (!tcp_enabled || !s || (s->flags & FT_SOCK_IGNORED) || s->tuple.transport != FT_IPPROTO_TCP)
		return;
	struct ft_event e = {};
	fill_event(&e, FT_EV_ACCEPT, id >> 32, fd);
	e.role = FT_ROLE_SERVER;
	e.tuple = s->tuple;
	emit(&e, sizeof(e));
}

static __always_inline void on_close_enter(__u64 id, __u64 fd)
{
	__u64 key = sock_key(id >> 32, fd);
	struct ft_sock *s = bpf_map_lookup_elem(&sockets, &key);
	if (s)
		forget_socket(key, s);
}

/* close() returned 0 (tp_btf: no entry program). Another thread may already have been given the
 * same fd number for a new socket and followed it: then the fd names the entry's socket again. */
static __always_inline void on_close_exit(__u64 id, long ret, __u64 fd)
{
	if (ret != 0)
		return;
	__u64 key = sock_key(id >> 32, fd);
	struct ft_sock *s = bpf_map_lookup_elem(&sockets, &key);
	if (!s)
		return;
	struct sock *now = fd_sock(fd);
	if (now && (__u64)now == s->sk)
		return;
	forget_socket(key, s);
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
