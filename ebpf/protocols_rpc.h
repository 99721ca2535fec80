/* Binary request/response protocols for protocols.h: ZooKeeper, ClickHouse's native protocol
 * and Dubbo 2. Included after protocols_mq.h (ft_at). Keep-alives (ZooKeeper and ClickHouse
 * pings, Dubbo heartbeats) are not requests: a client sends them on its own, every few seconds. */
#ifndef FERROTEL_PROTOCOLS_RPC_H
#define FERROTEL_PROTOCOLS_RPC_H

/* ---- ZooKeeper (jute): a 4-byte length, then a request (xid, op, body) or a reply (xid, zxid,
 * err, body); the xid pairs them. The session starts with a connect request and response,
 * which have no xid (stream 0; the first xid is 1). Java's client and server and kazoo read the
 * length alone, then the rest: a read may start at the xid. ---- */

#define FT_ZK_CLOSE_SESSION -11

/* Operations whose request starts with a path. */
static __always_inline int ft_zk_path_op(__s32 op)
{
	switch (op) {
	case 1: case 2: case 3: case 4: case 5: case 6: case 7: case 8: case 9: case 12: case 13: case 15:
	case 17: case 18: case 19: case 20: case 21: case 103: case 104: case 106:
		return 1;
	}
	return 0;
}

/* A path's length at `off`, and its first byte, '/', when captured: what tells jute from look-alikes. */
static __always_inline int ft_zk_path(const __u8 *b, __u32 len, __u32 off, __u32 body_end)
{
	if (off + 5 > len)
		return 0;
	__u32 n = ft_be32(b, off);
	return n >= 1 && n <= body_end && off + 4 + n <= body_end && b[off + 4] == '/';
}

/* A connect request's body at `off`: protocol version 0, last zxid, timeout, session id, a
 * 16-byte password, (3.5+) read-only flag. */
static __always_inline int ft_zk_connect(const __u8 *b, __u32 len, __u32 size, __u32 off)
{
	if (size != off + 44 && size != off + 45)
		return 0;
	if (off + 28 > len)
		return 0;
	return ft_be32(b, off) == 0 && ft_be32(b, off + 12) != 0 && ft_be32(b, off + 24) == 16;
}

/* A request header (xid, op) at `off`, the message ending at `end`. */
static __always_inline int ft_zk_op(const __u8 *b, __u32 len, __u32 off, __u32 end, __u64 *stream)
{
	if (off + 8 > len || off + 8 > end)
		return 0;
	__s32 xid = ft_be32(b, off);
	__s32 op = ft_be32(b, off + 4);
	int ok;
	if (xid == -4) /* auth */
		ok = op == 100;
	else if (xid == -8) /* setWatches, setWatches2 */
		ok = op == 101 || op == 105;
	else if (xid <= 0) /* 0: no request has it; -2: pings */
		ok = 0;
	else if (ft_zk_path_op(op))
		ok = ft_zk_path(b, len, off + 8, end);
	else if (op == 14 || op == 22) /* multi, multiRead: the first op's header (op, done, err), then its path */
		ok = off + 17 <= len && ft_zk_path_op(ft_be32(b, off + 8)) && b[off + 12] == 0 &&
		     ft_be32(b, off + 13) == 0xffffffff && ft_zk_path(b, len, off + 17, end);
	else if (op == FT_ZK_CLOSE_SESSION)
		ok = end == off + 8;
	else if (op == 107) /* whoAmI: no body */
		ok = end == off + 8;
	else if (op == 102) /* sasl: one buffer */
		ok = off + 12 <= len && ft_be32(b, off + 8) <= end && off + 12 + ft_be32(b, off + 8) == end;
	else if (op == 16) /* reconfig: joining servers, a string (or null) first */
		ok = off + 12 <= len &&
		     (ft_be32(b, off + 8) == 0xffffffff || (ft_be32(b, off + 8) <= end && off + 12 + ft_be32(b, off + 8) <= end));
	else
		ok = 0;
	if (ok)
		*stream = (__u32)xid;
	return ok;
}

/* `known`: the socket already speaks ZooKeeper, so a message without its length (a server's
 * read) is taken too. A connect request is recognised in either form: it starts the session. */
static __always_inline int ft_zk_request_in(const __u8 *b, __u32 len, __u32 size, __u64 *stream, int known)
{
	if (len < 8)
		return 0;
	if (len >= 12 && ft_be32(b, 0) + 4 == size) {
		if (ft_zk_connect(b, len, size, 4))
			return 1;
		if (ft_zk_op(b, len, 4, size, stream))
			return 1;
	}
	if (ft_zk_connect(b, len, size, 0))
		return 1;
	return known && ft_zk_op(b, len, 0, size, stream);
}

static __always_inline int ft_zookeeper_request(const __u8 *b, __u32 len, __u32 size, __u64 *stream)
{
	return ft_zk_request_in(b, len, size, stream, 0);
}

/* A reply header (xid, zxid, err) or a connect response (version 0, timeout, session id,
 * password) at `off`; watch notifications (xid -1) answer nothing. */
static __always_inline int ft_zk_reply(const __u8 *b, __u32 len, __u32 size, __u32 off, __u64 *stream,
				       __u32 *status)
{
	if (off + 16 > len || off + 16 > size)
		return 0;
	if ((size == off + 36 || size == off + 37) && off + 20 <= len && ft_be32_at(b, len, off) == 0 &&
	    ft_be32_at(b, len, off + 16) == 16) {
		*stream = 0;
		*status = ft_be32_at(b, len, off + 4) == 0; /* timeout 0: the session expired */
		return 1;
	}
	__s32 xid = ft_be32_at(b, len, off);
	__s32 err = ft_be32_at(b, len, off + 12);
	if (xid == -1 || err > 0 || err < -200)
		return 0;
	*stream = (__u32)xid;
	*status = err != 0;
	return 1;
}

static __always_inline int ft_zookeeper_response(const __u8 *b, __u32 len, __u32 size, __u64 *stream,
						 __u32 *status)
{
	if (size < 16 || len < 16)
		return 0; /* the length read alone */
	__u32 first = ft_be32(b, 0) + 4;
	if (first == size && ft_zk_reply(b, len, size, 4, stream, status))
		return 1;
	/* the server writes a watch's notification and the reply that fired it together */
	if (first < size && first >= 20 && first <= 96 && ft_be32(b, 4) == 0xffffffff &&
	    ft_be32(b, 8) == 0xffffffff && ft_be32(b, 12) == 0xffffffff) {
		if (first + 4 + 16 <= len && ft_be32_at(b, len, first) + first + 4 <= size)
			return ft_zk_reply(b, len, size, first + 4, stream, status);
		return 0;
	}
	return ft_zk_reply(b, len, size, 0, stream, status);
}

/* ---- ClickHouse native protocol: packets start with a varint type. The client says Hello
 * first; a query is one Query packet (then data blocks); the server's first packet answers it,
 * an Exception (2) being a failure. No ids: one query at a time per connection. ---- */

static __always_inline int ft_ch_printable(const __u8 *b, __u32 len, __u32 off, __u32 n)
{
	for (__u32 i = 0; i < 24; i++) {
		if (i >= n)
			break;
		int c = ft_at(b, len, off + i);
		if (c < 0)
			break;
		if (c < 0x20 || c > 0x7e)
			return 0;
	}
	return 1;
}

/* Hello: client name, version major, minor, protocol revision, database, user, password. */
static __always_inline int ft_ch_hello(const __u8 *b, __u32 len, __u32 size)
{
	if (len < 4 || b[0] != 0 || b[1] == 0 || b[1] > 64 || size < 2 + (__u32)b[1] + 6)
		return 0;
	__u32 n = b[1];
	if (!ft_ch_printable(b, len, 2, n))
		return 0;
	/* the server's Hello has the same fields, and its name (a client's name says which client) */
	if (n == 10 && ft_starts(b + 2, len - 2, "ClickHouse", 10))
		return 0;
	int major = ft_at(b, len, 2 + n), minor = ft_at(b, len, 3 + n);
	int r0 = ft_at(b, len, 4 + n), r1 = ft_at(b, len, 5 + n), r2 = ft_at(b, len, 6 + n);
	if (r2 < 0)
		return 1; /* a long name: what was seen is a Hello */
	/* revisions are 54xxx: three varint bytes, the last one 3 */
	return major < 0x80 && minor < 0x80 && (r0 & 0x80) && (r1 & 0x80) && r2 == 3;
}

/* A query id: empty, or a UUID (clickhouse-client, most drivers when set). */
static __always_inline int ft_ch_id(const __u8 *b, __u32 len, __u32 off, __u32 n)
{
	if (n == 0)
		return 1;
	return n == 36 && ft_at(b, len, off + 8) == '-' && ft_at(b, len, off + 13) == '-' &&
	       ft_at(b, len, off + 18) == '-' && ft_at(b, len, off + 23) == '-';
}

/* Query: id, then the client info (kind, initial user, initial query id, initial address, start
 * time, interface, ...), then settings and the query text. The first query after Hello may
 * follow the addendum (an empty quota key) in the same write. Fields past the captured bytes
 * are not checked. */
static __always_inline int ft_ch_query(const __u8 *b, __u32 len, __u32 size)
{
	if (size < 40)
		return 0;
	__u32 at = len >= 2 && b[0] == 0 && b[1] == 1 ? 1 : 0;
	if (ft_at(b, len, at) != 1)
		return 0;
	int n = ft_at(b, len, at + 1);
	if (n < 0 || !ft_ch_id(b, len, at + 2, n))
		return 0;
	at += 2 + n;
	int kind = ft_at(b, len, at); /* initial or secondary query */
	if (kind != 1 && kind != 2)
		return 0;
	int user = ft_at(b, len, at + 1);
	if (user < 0)
		return 1;
	if (user > 63)
		return 0;
	at += 2 + user;
	n = ft_at(b, len, at);
	if (n < 0)
		return 1;
	if (!ft_ch_id(b, len, at + 1, n))
		return 0;
	at += 1 + n;
	int addr = ft_at(b, len, at), c = ft_at(b, len, at + 1);
	if (addr > 48 || (addr > 0 && c >= 0 && !ft_is_digit(c) && c != '[' && c != ':'))
		return 0;
	if (addr < 0)
		return 1;
	int iface = ft_at(b, len, at + 1 + addr + 8);
	return iface < 0 || (iface >= 1 && iface <= 8);
}

static __always_inline int ft_clickhouse_request(const __u8 *b, __u32 len, __u32 size)
{
	return ft_ch_hello(b, len, size) || ft_ch_query(b, len, size);
}

static __always_inline int ft_clickhouse_response(const __u8 *b, __u32 len, __u32 *status)
{
	if (len < 1)
		return 0;
	*status = 0;
	switch (b[0]) {
	case 0: /* Hello */
		return len >= 3 && b[1] > 0 && b[1] <= 64 && ft_ch_printable(b, len, 2, 1);
	case 1: case 7: case 8: case 10: case 11: case 14: /* blocks and lists: an empty table name first */
		return len >= 2 && b[1] == 0;
	case 2: { /* Exception: a 4-byte little-endian code */
		if (len < 5)
			return 0;
		__u32 code = ft_le32(b, 1);
		*status = 1;
		return code > 0 && code < 100000;
	}
	case 3: case 4: case 5: case 6: /* Progress, Pong, EndOfStream, ProfileInfo */
		return 1;
	}
	return 0;
}

/* ---- Dubbo 2: a 16-byte header: magic 0xdabb, flags (request, two-way, event, serialization
 * id), status, 8-byte request id, body length. The id pairs a response with its request; one-way
 * requests and events (heartbeats) have no response to wait for. ---- */

#define FT_DUBBO_REQUEST 0x80
#define FT_DUBBO_TWO_WAY 0x40
#define FT_DUBBO_EVENT 0x20
#define FT_DUBBO_OK 20
#define FT_DUBBO_MAX_BODY (8 << 20) /* the default payload limit */

static __always_inline int ft_dubbo_header(const __u8 *b, __u32 len)
{
	return len >= 16 && b[0] == 0xda && b[1] == 0xbb && (b[2] & 0x1f) != 0 && !(b[2] & FT_DUBBO_EVENT) &&
	       ft_be32(b, 12) <= FT_DUBBO_MAX_BODY;
}

static __always_inline int ft_dubbo_request(const __u8 *b, __u32 len, __u64 *stream)
{
	if (!ft_dubbo_header(b, len) || (b[2] & (FT_DUBBO_REQUEST | FT_DUBBO_TWO_WAY)) != 0xc0)
		return 0;
	*stream = ((__u64)ft_be32(b, 4) << 32) | ft_be32(b, 8);
	return 1;
}

/* Status 20 is OK, unless (Hessian 2, id 2) the body says the call threw: its first byte is the
 * response kind, a small int, 0 or 3 meaning "exception". */
static __always_inline int ft_dubbo_response(const __u8 *b, __u32 len, __u64 *stream, __u32 *status)
{
	if (!ft_dubbo_header(b, len) || (b[2] & FT_DUBBO_REQUEST))
		return 0;
	*stream = ((__u64)ft_be32(b, 4) << 32) | ft_be32(b, 8);
	int kind = ft_at(b, len, 16);
	*status = b[3] != FT_DUBBO_OK || ((b[2] & 0x1f) == 2 && (kind == 0x90 || kind == 0x93));
	return 1;
}

#endif
