/* TLS plaintext from uprobes, included at the end of ferrotel.bpf.c (one object, shared maps).
 *
 * - OpenSSL (libssl.so.1.1/.3, or linked into an executable): SSL_write, SSL_read, SSL_write_ex and
 *   SSL_read_ex. The entry remembers the arguments per thread and tells the syscall hooks (through
 *   ft_task) to note the socket of the first read/write syscall the call makes; the return, a
 *   uretprobe, hands the plaintext to ft_tls_data. A call served from OpenSSL's own buffer makes no
 *   syscall: its fd is the one last seen for that SSL object (`ssl_fds`, also filled by an entry
 *   uprobe on SSL_set_fd).
 * - Go crypto/tls (register ABI, amd64): (*Conn).Write and (*Conn).Read, an entry uprobe and one
 *   uprobe at every RET of the function (a uretprobe rewrites the return address on the stack,
 *   which Go's stack copying and traceback cannot stand). State is kept per goroutine: one that
 *   parks in Read may resume on another thread. The fd is read from the Conn itself. Write is
 *   reported at its entry, where the plaintext is all there: at its return would be too late in
 *   a client whose reading goroutine gets the response first. A 1-byte Read is held back and
 *   joined to the next Read (`go_tls_byte`).
 *
 * User space (components/receiver/ebpf/src/tls.rs) finds the functions and attaches these programs;
 * the BPF cookie says which function a probe sits on. */

#ifndef FT_TLS_INTERFACE
#error "tls.bpf.h needs ft_task_get() and ft_tls_data() from l7.bpf.h, included first"
#endif

/* Cookies of the OpenSSL probes (components/receiver/ebpf/src/tls/elf.rs: SSL_FUNCTIONS). */
#define FT_SSL_WRITE 0
#define FT_SSL_READ 1
#define FT_SSL_WRITE_EX 2
#define FT_SSL_READ_EX 3
#define FT_SSL_SET_FD 4 /* entry only: SSL_set_fd(ssl, fd) names the socket up front */

/* An SSL_* call between its entry and its return, by pid_tgid. */
struct ft_ssl_call {
	__u64 ssl;
	__u64 buf;
	__u64 size_ptr; /* _ex: where the byte count is written */
	__u32 out;
	__u32 ex;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct ft_ssl_call);
} ssl_calls SEC(".maps");

struct ft_ssl_key {
	__u64 ssl;
	__u32 tgid;
	__u32 pad;
};

/* SSL object -> the socket its last syscall used. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ft_ssl_key);
	__type(value, __s32);
} ssl_fds SEC(".maps");

SEC("uprobe")
int ft_ssl_enter(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (is_self(id))
		return 0;
	__u64 fn = bpf_get_attach_cookie(ctx);
	if (fn == FT_SSL_SET_FD) {
		struct ft_ssl_key key = {.ssl = ctx->di, .tgid = id >> 32};
		__s32 fd = ctx->si;
		bpf_map_update_elem(&ssl_fds, &key, &fd, BPF_ANY);
		return 0;
	}
	/* SSL_write(ssl, buf, num); SSL_write_ex(ssl, buf, num, size_t *written): System V ABI */
	struct ft_ssl_call c = {
		.ssl = ctx->di,
		.buf = ctx->si,
		.out = fn == FT_SSL_WRITE || fn == FT_SSL_WRITE_EX,
		.ex = fn == FT_SSL_WRITE_EX || fn == FT_SSL_READ_EX,
	};
	if (c.ex)
		c.size_ptr = ctx->cx;
	if (bpf_map_update_elem(&ssl_calls, &id, &c, BPF_ANY))
		return 0;
	struct ft_task *t = ft_task_get();
	if (t) {
		t->tls_active = 1;
		t->tls_out = c.out;
		t->tls_fd = -1;
	}
	return 0;
}

SEC("uretprobe")
int ft_ssl_return(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ft_ssl_call *pending = bpf_map_lookup_elem(&ssl_calls, &id);
	if (!pending)
		return 0;
	struct ft_ssl_call c = *pending;
	bpf_map_delete_elem(&ssl_calls, &id);
	__s32 fd = -1;
	struct ft_task *t = ft_task_get();
	if (t) {
		fd = t->tls_fd;
		t->tls_active = 0;
		t->tls_fd = -1;
	}
	struct ft_ssl_key key = {.ssl = c.ssl, .tgid = id >> 32};
	/* remembered even when the call fails: a non-blocking read ends in EAGAIN and WANT_READ */
	if (fd >= 0) {
		bpf_map_update_elem(&ssl_fds, &key, &fd, BPF_ANY);
	} else {
		__s32 *known = bpf_map_lookup_elem(&ssl_fds, &key);
		if (!known)
			return 0;
		fd = *known;
	}
	int ret = (int)ctx->ax;
	__u64 size = 0;
	if (c.ex) {
		if (ret != 1 || bpf_probe_read_user(&size, sizeof(size), (void *)c.size_ptr))
			return 0;
	} else {
		if (ret <= 0)
			return 0;
		size = ret;
	}
	if (size == 0)
		return 0;
	ft_tls_data(id >> 32, fd, c.buf, size, c.out);
	return 0;
}

/* ---- Go crypto/tls ---- */

struct ft_go_key {
	__u64 g; /* the goroutine (R14 in Go's register ABI) */
	__u32 tgid;
	__u32 pad;
};

struct ft_go_call {
	__u64 conn;
	__u64 buf;
	__u32 out;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct ft_go_key);
	__type(value, struct ft_go_call);
} go_tls_calls SEC(".maps");

/* A 1-byte Read, by *tls.Conn: net/http's server reads one byte in the background while a handler
 * runs (connReader.backgroundRead), and when the client's next request comes in meanwhile, that
 * is its first byte; the server's bufio.Reader then reads the rest right after it in the same
 * buffer. The byte is kept here and reported with the Read that follows it in memory. */
struct ft_go_conn_key {
	__u64 conn;
	__u32 tgid;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct ft_go_conn_key);
	__type(value, __u8);
} go_tls_byte SEC(".maps");

/* The socket under a *tls.Conn, as laid out by Go 1.17 to 1.26 on amd64 (checked with reflect on
 * go1.26: `conn net.Conn` is tls.Conn's first field, an interface (itab, data); data is the
 * *net.TCPConn, whose first field (through the embedded net.conn) is `fd *netFD`; netFD starts
 * with `pfd poll.FD`, and poll.FD with `fdmu fdMutex` (state uint64, rsema, wsema uint32) followed
 * by `Sysfd int` at 16). A Conn over something other than a TCP or Unix socket reads garbage
 * here: the fd is checked for range, and ft_tls_data only acts on sockets it knows. */
#define FT_GO_IFACE_DATA 8
#define FT_GO_NETFD 0
#define FT_GO_SYSFD 16

static __always_inline long go_conn_fd(__u64 conn)
{
	__u64 tcp = 0, netfd = 0;
	long fd = -1;
	if (bpf_probe_read_user(&tcp, sizeof(tcp), (void *)(conn + FT_GO_IFACE_DATA)) || !tcp)
		return -1;
	if (bpf_probe_read_user(&netfd, sizeof(netfd), (void *)(tcp + FT_GO_NETFD)) || !netfd)
		return -1;
	if (bpf_probe_read_user(&fd, sizeof(fd), (void *)(netfd + FT_GO_SYSFD)))
		return -1;
	return fd >= 0 && fd < (1 << 24) ? fd : -1;
}

/* (*Conn).Write(b []byte) / (*Conn).Read(b []byte): c in RAX, b's pointer in RBX and length in
 * RCX. Cookie: 1 for Write, 0 for Read. */
SEC("uprobe")
int ft_go_tls_enter(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (is_self(id))
		return 0;
	struct ft_go_key key = {.g = ctx->r14, .tgid = id >> 32};
	struct ft_go_call c = {.conn = ctx->ax, .buf = ctx->bx, .out = bpf_get_attach_cookie(ctx) != 0};
	/* a function whose stack must grow runs its first instruction twice (morestack jumps back to
	 * it): the same call, not a second one */
	struct ft_go_call *prev = bpf_map_lookup_elem(&go_tls_calls, &key);
	int again = prev && prev->conn == c.conn && prev->buf == c.buf && prev->out == c.out;
	bpf_map_update_elem(&go_tls_calls, &key, &c, BPF_ANY);
	long size = ctx->cx;
	if (!c.out || again || size <= 0)
		return 0;
	long fd = go_conn_fd(c.conn);
	if (fd >= 0)
		ft_tls_data(id >> 32, fd, c.buf, size, 1);
	return 0;
}

/* At each RET: n in RAX (err in RBX, RCX); R14 is still the goroutine. Read reports here. */
SEC("uprobe")
int ft_go_tls_return(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ft_go_key key = {.g = ctx->r14, .tgid = id >> 32};
	struct ft_go_call *pending = bpf_map_lookup_elem(&go_tls_calls, &key);
	if (!pending)
		return 0;
	struct ft_go_call c = *pending;
	bpf_map_delete_elem(&go_tls_calls, &key);
	long n = ctx->ax;
	if (c.out || n <= 0)
		return 0; /* a Write was reported at its entry */
	struct ft_go_conn_key ckey = {.conn = c.conn, .tgid = id >> 32};
	__u8 byte = 0;
	if (n == 1) {
		if (bpf_probe_read_user(&byte, 1, (void *)c.buf) == 0)
			bpf_map_update_elem(&go_tls_byte, &ckey, &byte, BPF_ANY);
		return 0;
	}
	__u8 *kept = bpf_map_lookup_elem(&go_tls_byte, &ckey);
	if (kept) {
		if (bpf_probe_read_user(&byte, 1, (void *)(c.buf - 1)) == 0 && byte == *kept) {
			c.buf -= 1;
			n += 1;
		}
		bpf_map_delete_elem(&go_tls_byte, &ckey);
	}
	long fd = go_conn_fd(c.conn);
	if (fd < 0)
		return 0;
	ft_tls_data(id >> 32, fd, c.buf, n, 0);
	return 0;
}
