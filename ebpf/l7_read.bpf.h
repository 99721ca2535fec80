/* Reading a data syscall's bytes from user memory, for l7.bpf.h: its first buffer, or those
 * of a vectored call (readv/writev, recvmsg/sendmsg), and the payload capture. */

/* Where the first bytes are, and how many of them belong to the first buffer; `*iov` is set
 * to the iovec array of a vectored call (0 otherwise), whose later buffers ft_gather() reads. */
static __always_inline __u64 first_buffer(__u32 kind, __u64 buf, __u8 out, __u64 *addr, __u64 *limit, __u64 *iov)
{
	struct iovec first = {};
	__u64 iov_ptr = buf;
	*iov = 0;
	if (kind == FT_IO_BUF)
		return buf;
	if (kind == FT_IO_MSG || kind == FT_IO_MMSG) {
		/* an mmsghdr starts with its msghdr */
		struct user_msghdr msg = {};
		if (bpf_probe_read_user(&msg, sizeof(msg), (void *)buf))
			return 0;
		iov_ptr = (__u64)msg.msg_iov;
		if (kind == FT_IO_MSG && msg.msg_name && out)
			*addr = (__u64)msg.msg_name;
	}
	if (bpf_probe_read_user(&first, sizeof(first), (void *)iov_ptr))
		return 0;
	*iov = iov_ptr;
	if (first.iov_len < *limit)
		*limit = first.iov_len;
	return (__u64)first.iov_base;
}

/* Bounds of ft_gather(): the buffers it reads, and where in `dst` a read may start and how long it
 * may be (their sum fits `dst`, FT_MAX_CAPTURE bytes, in a way the verifier can see). */
#define FT_GATHER_IOVECS 16
#define FT_GATHER_HALF (FT_MAX_CAPTURE / 2)

/* Reads up to `want` (at most FT_MAX_CAPTURE) of the bytes a vectored call moved, buffer after
 * buffer, into `dst`: a gRPC HEADERS frame written as many small iovecs, a writev that starts
 * with an empty one. The bytes moved fill the buffers in order and `want` is at most those, so no
 * buffer past the last one used is read, whatever the array's length. Returns how many bytes it
 * read. A global function: the verifier checks its loop once, not at every caller's path. */
__noinline __u32 ft_gather(struct ft_payload *dst, __u64 iov_ptr, __u64 want)
{
	struct iovec v = {};
	__u32 off = 0;
	if (!dst)
		return 0;
	for (int i = 0; i < FT_GATHER_IOVECS; i++) {
		if (off >= want || off >= FT_GATHER_HALF)
			break;
		if (bpf_probe_read_user(&v, sizeof(v), (void *)(iov_ptr + i * sizeof(struct iovec))))
			break;
		__u64 n = v.iov_len;
		if (n > want - off)
			n = want - off;
		if (n > FT_GATHER_HALF)
			n = FT_GATHER_HALF;
		if (n == 0)
			continue;
		off &= FT_GATHER_HALF - 1;
		if (bpf_probe_read_user(dst->bytes + off, n, v.iov_base))
			break;
		off += n;
	}
	return off;
}

/* A call's bytes: a buffer (`iov` 0), or the first of a vectored call's buffers. */
struct ft_src {
	__u64 addr;
	__u64 limit; /* bytes at addr */
	__u64 iov;
};

/* Reads up to `want` bytes of what the call moved into `dst`; how many. */
static __always_inline __u32 read_src(struct ft_payload *dst, const struct ft_src *src, __u64 want, __u64 size)
{
	if (src->iov && src->limit < want && src->limit < size)
		return ft_gather(dst, src->iov, want < size ? want : size);
	__u32 n = want < src->limit ? want : src->limit;
	if (n > FT_MAX_CAPTURE)
		n = FT_MAX_CAPTURE;
	if (bpf_probe_read_user(dst->bytes, n, (void *)src->addr))
		return 0;
	return n;
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

/* Fills `buf` with up to `limit` (at most FT_MAX_CAPTURE) of the call's first bytes; it holds the
 * detection bytes already. */
static __always_inline void capture_upto(struct ft_request *buf, const struct ft_src *src, __u64 size, __u32 limit)
{
	__u32 n = size < limit ? size : limit;
	if (n > FT_MAX_CAPTURE)
		return;
	if (n > buf->meta.len) {
		__u32 got = read_src(&buf->payload, src, n, size);
		if (got > buf->meta.len)
			buf->meta.len = got;
	} else if (n < buf->meta.len) {
		buf->meta.len = n;
	}
}

/* Fills `buf` with the configured capture of the call's bytes when the payload will leave the
 * kernel: for a span, and for DNS, whose question name is read in user space. */
static __always_inline void capture(struct ft_request *buf, const struct ft_src *src, __u64 size, int wanted)
{
	if (!wanted) {
		buf->meta.len = 0;
		return;
	}
	capture_upto(buf, src, size, clamp_capture(size));
}
