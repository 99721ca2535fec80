/* The syscalls ferrotel follows, and how its programs hook into them. Included by ferrotel.bpf.c.
 *
 * Preferred: one program on the raw sys_enter and one on sys_exit (tp_btf), called directly by
 * the kernel with the registers and the syscall number, returning at once for every syscall but
 * the dozen below. The fallback, for kernels that refuse tp_btf: one perf-event tracepoint per
 * syscall (syscalls:sys_enter_read, ...), slower because the kernel's perf path runs for each.
 * Both call the same functions. x86-64 syscall numbers. */

#define FT_NR_read 0
#define FT_NR_write 1
#define FT_NR_close 3
#define FT_NR_readv 19
#define FT_NR_writev 20
#define FT_NR_connect 42
#define FT_NR_accept 43
#define FT_NR_sendto 44
#define FT_NR_recvfrom 45
#define FT_NR_sendmsg 46
#define FT_NR_recvmsg 47
#define FT_NR_accept4 288
#define FT_NR_recvmmsg 299
#define FT_NR_sendmmsg 307

/* a0, a1: the first two arguments (fd, buffer or address); a4 the fifth (sendto's destination) */
static __always_inline void syscall_enter(__u64 id, long nr, __u64 a0, __u64 a1, __u64 a4)
{
	switch (nr) {
	case FT_NR_read:
		on_io_enter(id, a0, a1, 0, FT_IO_BUF, 0, 0);
		break;
	case FT_NR_write:
		on_io_enter(id, a0, a1, 0, FT_IO_BUF, 1, 0);
		break;
	case FT_NR_readv:
		on_io_enter(id, a0, a1, 0, FT_IO_IOV, 0, 0);
		break;
	case FT_NR_writev:
		on_io_enter(id, a0, a1, 0, FT_IO_IOV, 1, 0);
		break;
	case FT_NR_recvfrom:
		on_io_enter(id, a0, a1, 0, FT_IO_BUF, 0, 1);
		break;
	case FT_NR_sendto:
		on_io_enter(id, a0, a1, a4, FT_IO_BUF, 1, 1);
		break;
	case FT_NR_recvmsg:
		on_io_enter(id, a0, a1, 0, FT_IO_MSG, 0, 1);
		break;
	case FT_NR_sendmsg:
		on_io_enter(id, a0, a1, 0, FT_IO_MSG, 1, 1);
		break;
	case FT_NR_recvmmsg:
		on_io_enter(id, a0, a1, 0, FT_IO_MMSG, 0, 1);
		break;
	case FT_NR_sendmmsg:
		on_io_enter(id, a0, a1, 0, FT_IO_MMSG, 1, 1);
		break;
	case FT_NR_connect:
		on_connect_enter(id, a0, a1);
		break;
	case FT_NR_close:
		on_close_enter(id, a0);
		break;
	}
}

static __always_inline void syscall_exit(__u64 id, long nr, long ret)
{
	switch (nr) {
	case FT_NR_read:
	case FT_NR_write:
	case FT_NR_readv:
	case FT_NR_writev:
	case FT_NR_recvfrom:
	case FT_NR_sendto:
	case FT_NR_recvmsg:
	case FT_NR_sendmsg:
	case FT_NR_recvmmsg:
	case FT_NR_sendmmsg:
		on_io_exit(id, ret);
		break;
	case FT_NR_connect:
		on_connect_exit(id, ret, 0, 0); /* the entry program kept fd and address */
		break;
	case FT_NR_accept:
	case FT_NR_accept4:
		on_accept_exit(id, ret);
		break;
	}
}

static __always_inline int followed(long nr)
{
	switch (nr) {
	case FT_NR_read:
	case FT_NR_write:
	case FT_NR_close:
	case FT_NR_readv:
	case FT_NR_writev:
	case FT_NR_connect:
	case FT_NR_accept:
	case FT_NR_sendto:
	case FT_NR_recvfrom:
	case FT_NR_sendmsg:
	case FT_NR_recvmsg:
	case FT_NR_accept4:
	case FT_NR_recvmmsg:
	case FT_NR_sendmmsg:
		return 1;
	}
	return 0;
}

/* With tp_btf no entry program is needed: at exit the registers still hold the arguments the
 * syscall was called with (x86-64: di, si, dx, r10, r8, r9; only ax changes), so one program
 * does it all, and nothing is kept per thread. A connect is timed from its SYN (inet_sock_set_state in
 * ferrotel.bpf.c), a close handled once done. An entry program would cost every syscall of
 * every process one more BPF run. */
SEC("tp_btf/sys_exit")
int BPF_PROG(ft_sys_exit, struct pt_regs *regs, long ret)
{
	long nr = regs->orig_ax;
	if (!followed(nr))
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	if (is_self(id))
		return 0;
	/* one inlined copy of io_exit: its arguments vary, not its code */
	__u32 kind = FT_IO_BUF;
	__u8 out = 0, socket_call = 0;
	__u64 dest = 0;
	switch (nr) {
	case FT_NR_read:
		break;
	case FT_NR_write:
		out = 1;
		break;
	case FT_NR_readv:
		kind = FT_IO_IOV;
		break;
	case FT_NR_writev:
		kind = FT_IO_IOV;
		out = 1;
		break;
	case FT_NR_recvfrom:
		socket_call = 1;
		break;
	case FT_NR_sendto:
		out = socket_call = 1;
		dest = regs->r8;
		break;
	case FT_NR_recvmsg:
		kind = FT_IO_MSG;
		socket_call = 1;
		break;
	case FT_NR_sendmsg:
		kind = FT_IO_MSG;
		out = socket_call = 1;
		break;
	case FT_NR_recvmmsg:
		kind = FT_IO_MMSG;
		socket_call = 1;
		break;
	case FT_NR_sendmmsg:
		kind = FT_IO_MMSG;
		out = socket_call = 1;
		break;
	case FT_NR_connect:
		on_connect_exit(id, ret, regs->di, regs->si);
		return 0;
	case FT_NR_close:
		on_close_exit(id, ret, regs->di);
		return 0;
	default:
		syscall_exit(id, nr, ret);
		return 0;
	}
	io_exit(id, ret, regs->di, regs->si, dest, kind, out, socket_call);
	return 0;
}

/* ---- the fallback: a perf-event tracepoint per syscall ---- */

#define FT_SYSCALL_ENTER(name)                                                                   \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                              \
	int sys_enter_##name(struct trace_event_raw_sys_enter *ctx)                              \
	{                                                                                        \
		__u64 id = bpf_get_current_pid_tgid();                                           \
		if (!is_self(id))                                                                \
			syscall_enter(id, FT_NR_##name, ctx->args[0], ctx->args[1], ctx->args[4]); \
		return 0;                                                                        \
	}

#define FT_SYSCALL_EXIT(name)                                          \
	SEC("tracepoint/syscalls/sys_exit_" #name)                     \
	int sys_exit_##name(struct trace_event_raw_sys_exit *ctx)      \
	{                                                              \
		__u64 id = bpf_get_current_pid_tgid();                 \
		if (!is_self(id))                                      \
			syscall_exit(id, FT_NR_##name, ctx->ret);      \
		return 0;                                              \
	}

#define FT_SYSCALL(name) FT_SYSCALL_ENTER(name) FT_SYSCALL_EXIT(name)

FT_SYSCALL(read)
FT_SYSCALL(write)
FT_SYSCALL(readv)
FT_SYSCALL(writev)
FT_SYSCALL(recvfrom)
FT_SYSCALL(sendto)
FT_SYSCALL(recvmsg)
FT_SYSCALL(sendmsg)
FT_SYSCALL(recvmmsg)
FT_SYSCALL(sendmmsg)
FT_SYSCALL(connect)
FT_SYSCALL_EXIT(accept)
FT_SYSCALL_EXIT(accept4)
FT_SYSCALL_ENTER(close)
