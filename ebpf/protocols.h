/* In-kernel L7 protocol detection on the first bytes of a syscall's buffer.
 *
 * Pure functions over bytes already copied out of user memory: no BPF helpers, so the
 * same file compiles for the host and is unit-tested there with real protocol samples
 * (components/receiver/ebpf/tests/protocols.rs and protocols_mq.rs). Every index is checked
 * against `len` (what was captured) before it is read; `size` is what the syscall moved, which the
 * length fields of binary protocols must agree with. Heuristics err on the side of "not
 * this protocol": a missed exchange costs one span, a false one costs a wrong span. */
#ifndef FERROTEL_PROTOCOLS_H
#define FERROTEL_PROTOCOLS_H

#include "events.h"

#define FT_IPPROTO_TCP 6
#define FT_IPPROTO_UDP 17

static __always_inline __u32 ft_be16(const __u8 *b, __u32 off)
{
	return ((__u32)b[off] << 8) | b[off + 1];
}

static __always_inline __u32 ft_be32(const __u8 *b, __u32 off)
{
	return ((__u32)b[off] << 24) | ((__u32)b[off + 1] << 16) | ((__u32)b[off + 2] << 8) | b[off + 3];
}

static __always_inline __u32 ft_le32(const __u8 *b, __u32 off)
{
	return ((__u32)b[off + 3] << 24) | ((__u32)b[off + 2] << 16) | ((__u32)b[off + 1] << 8) | b[off];
}

/* `word` is a string literal; its terminating NUL is not compared. */
#define FT_STARTS(b, len, word) ft_starts(b, len, word, sizeof(word) - 1)

static __always_inline int ft_starts(const __u8 *b, __u32 len, const char *word, __u32 n)
{
	if (len < n)
		return 0;
	for (__u32 i = 0; i < 16; i++) {
		if (i >= n)
			break;
		if (b[i] != (__u8)word[i])
			return 0;
	}
	return 1;
}

static __always_inline int ft_is_digit(__u8 c)
{
	return c >= '0' && c <= '9';
}

/* ---- HTTP/1.x ---- */

static __always_inline int ft_http1_request(const __u8 *b, __u32 len)
{
	return FT_STARTS(b, len, "GET ") || FT_STARTS(b, len, "POST ") || FT_STARTS(b, len, "PUT ") ||
	       FT_STARTS(b, len, "DELETE ") || FT_STARTS(b, len, "HEAD ") || FT_STARTS(b, len, "PATCH ") ||
	       FT_STARTS(b, len, "OPTIONS ") || FT_STARTS(b, len, "TRACE ") ||
	       /* NATS says CONNECT too, with a JSON object where HTTP has an authority */
	       (FT_STARTS(b, len, "CONNECT ") && !(len > 8 && b[8] == '{'));
}

/* "HTTP/1.1 404 ..." -> 404 */
static __always_inline int ft_http1_response(const __u8 *b, __u32 len, __u32 *status)
{
	if (len < 12 || !FT_STARTS(b, len, "HTTP/1.") || b[8] != ' ')
		return 0;
	if (!ft_is_digit(b[9]) || !ft_is_digit(b[10]) || !ft_is_digit(b[11]))
		return 0;
	*status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
	return 1;
}

/* ---- HTTP/2: a request or response is a HEADERS frame; its stream id pairs them ---- */

#define FT_H2_PREFACE_LEN 24
#define FT_H2_FRAME_HEADER 9
#define FT_H2_HEADERS 1
#define FT_H2_MAX_FRAMES 4
/* A response's first bytes user space reads without payload export: its header blocks, the
 * trailers of a small gRPC reply (grpcio's first one ends at byte 140) and what they add to the
 * server's HPACK table. */
#define FT_H2_RESPONSE_HEAD 256

/* Finds the first HEADERS frame among the first few frames from `off`; returns the offset
 * of its payload (after padding and priority fields) or 0, with its stream id and where its
 * frame header starts. */
static __always_inline __u32 ft_h2_headers(const __u8 *b, __u32 len, __u32 off, __u64 *stream, __u32 *frame)
{
	for (int i = 0; i < FT_H2_MAX_FRAMES; i++) {
		if (off > FT_MAX_CAPTURE - 16 || off + FT_H2_FRAME_HEADER + 1 > len)
			return 0;
		/* a no-op after the check above, kept so that the verifier sees the bound whatever
		 * order clang puts the comparisons in */
		off &= FT_MAX_CAPTURE - 1;
		__u32 frame_len = ((__u32)b[off] << 16) | ((__u32)b[off + 1] << 8) | b[off + 2];
		__u8 type = b[off + 3];
		__u8 flags = b[off + 4];
		__u32 id = ft_be32(b, off + 5) & 0x7fffffff;
		if (type > 9 || frame_len > (1 << 24) - 1)
			return 0;
		if (type == FT_H2_HEADERS && id != 0) {
			__u32 payload = off + FT_H2_FRAME_HEADER;
			if (flags & 0x8) /* PADDED */
				payload += 1;
			if (flags & 0x20) /* PRIORITY */
				payload += 5;
			*stream = id;
			*frame = off;
			return payload;
		}
		off += FT_H2_FRAME_HEADER + frame_len;
	}
	return 0;
}

static __always_inline int ft_h2_preface(const __u8 *b, __u32 len)
{
	return FT_STARTS(b, len, "PRI * HTTP/2.0\r\n");
}

/* A frame-only buffer counts as HTTP/2 only on a socket that already sent the preface. A
 * preface without a HEADERS frame is HTTP/2 with stream 0: the protocol, not yet a request. */
static __always_inline int ft_http2_request(const __u8 *b, __u32 len, __u32 prev, __u64 *stream)
{
	__u32 frame = 0;
	if (ft_h2_preface(b, len)) {
		ft_h2_headers(b, len, FT_H2_PREFACE_LEN, stream, &frame);
		return 1;
	}
	if (prev != FT_PROTO_HTTP2)
		return 0;
	return ft_h2_headers(b, len, 0, stream, &frame) != 0;
}

/* Where the HEADERS frame of a request starts: past the preface and the SETTINGS and
 * WINDOW_UPDATE frames a server reads with the first request, so that the head user space gets
 * starts at the frame that names the call. 0 when it starts the buffer, or none is seen. */
static __always_inline __u32 ft_http2_request_frame(const __u8 *b, __u32 len)
{
	__u64 stream = 0;
	__u32 frame = 0;
	if (!ft_h2_headers(b, len, ft_h2_preface(b, len) ? FT_H2_PREFACE_LEN : 0, &stream, &frame))
		return 0;
	return frame;
}

/* :status from HPACK's static table (indexed field 8..14), the form servers use for common codes. */
static __always_inline int ft_http2_response(const __u8 *b, __u32 len, __u64 *stream, __u32 *status)
{
	__u32 frame = 0;
	__u32 at = ft_h2_headers(b, len, 0, stream, &frame);
	if (at == 0)
		return 0;
	*status = 0;
	if (at < len && at < FT_MAX_CAPTURE) {
		switch (b[at]) {
		case 0x88: *status = 200; break;
		case 0x89: *status = 204; break;
		case 0x8a: *status = 206; break;
		case 0x8b: *status = 304; break;
		case 0x8c: *status = 400; break;
		case 0x8d: *status = 404; break;
		case 0x8e: *status = 500; break;
		}
	}
	return 1;
}

/* ---- PostgreSQL: simple query 'Q' or extended protocol 'P' (Parse), then B/D/E/S ---- */

static __always_inline int ft_postgres_request(const __u8 *b, __u32 len, __u32 size)
{
	if (len < 5 || (b[0] != 'Q' && b[0] != 'P'))
		return 0;
	__u32 msg_len = ft_be32(b, 1);
	if (msg_len < 5)
		return 0;
	/* a simple query is one whole message; Parse is followed by Bind/Execute/Sync */
	return b[0] == 'Q' ? msg_len + 1 == size : msg_len + 1 <= size;
}

/* On a socket known to speak PostgreSQL, a statement prepared under a name earlier is executed
 * again by a write that starts with its Bind (then Describe/Execute/Sync). A Bind carries at
 * least two names and three counts (12 bytes with its length); it is never the whole protocol's
 * first write, so an unknown socket is not taken on it. A Describe or Execute alone starts no
 * new statement (a portal described, or more rows of one already running): not a request. */
static __always_inline int ft_postgres_request_known(const __u8 *b, __u32 len, __u32 size)
{
	if (len >= 5 && b[0] == 'B') {
		__u32 msg_len = ft_be32(b, 1);
		return msg_len >= 12 && msg_len + 1 <= size;
	}
	return ft_postgres_request(b, len, size);
}

static __always_inline int ft_postgres_response(const __u8 *b, __u32 len, __u32 *status)
{
	if (len < 5)
		return 0;
	switch (b[0]) {
	case '1': case '2': case 'C': case 'D': case 'I': case 'n': case 's': case 't': case 'T': case 'Z':
		*status = 0;
		break;
	case 'E':
		*status = 1;
		break;
	default:
		return 0;
	}
	return ft_be32(b, 1) >= 4;
}

/* ---- MySQL: 3-byte length, sequence 0, command ---- */

#define FT_MYSQL_COM_QUERY 0x03
#define FT_MYSQL_COM_STMT_PREPARE 0x16
#define FT_MYSQL_COM_STMT_EXECUTE 0x17

static __always_inline int ft_mysql_request(const __u8 *b, __u32 len, __u32 size)
{
	if (len < 5 || b[3] != 0)
		return 0;
	__u32 payload = b[0] | ((__u32)b[1] << 8) | ((__u32)b[2] << 16);
	if (payload == 0 || payload + 4 != size)
		return 0;
	return b[4] == FT_MYSQL_COM_QUERY || b[4] == FT_MYSQL_COM_STMT_PREPARE || b[4] == FT_MYSQL_COM_STMT_EXECUTE;
}

/* A response is read only while a request awaits it, so its first read is either the first
 * packet (sequence 1) or, from a client that reads a packet's 4-byte header alone first
 * (mysql-connector-python), that header and then a read of the body: the body's first byte then
 * says OK (0x00), EOF (0xfe), ERR (0xff) or a result set's column count. */
static __always_inline int ft_mysql_response(const __u8 *b, __u32 len, __u32 size, __u32 *status)
{
	if (len == 4 && size == 4)
		return 0; /* the header alone: the body comes next */
	if (len >= 5 && b[3] == 1) {
		*status = b[4] == 0xff ? 1 : 0;
		return 1;
	}
	if (len < 1 || (b[0] >= 0xfb && b[0] <= 0xfd))
		return 0;
	*status = b[0] == 0xff ? 1 : 0;
	return 1;
}

/* ---- Redis (RESP): a command is an array of bulk strings ---- */

static __always_inline int ft_redis_request(const __u8 *b, __u32 len)
{
	if (len < 4 || b[0] != '*' || !ft_is_digit(b[1]))
		return 0;
	for (__u32 i = 2; i < 6; i++) {
		if (i + 2 >= len)
			return 0;
		if (b[i] == '\r')
			return b[i + 1] == '\n' && b[i + 2] == '$';
		if (!ft_is_digit(b[i]))
			return 0;
	}
	return 0;
}

static __always_inline int ft_redis_response(const __u8 *b, __u32 len, __u32 *status)
{
	if (len < 3)
		return 0;
	switch (b[0]) {
	case '+': case ':': case '$': case '*': case '_': case ',': case '#': case '%': case '~':
	case '(': case '=': case '|': case '>':
		*status = 0;
		return 1;
	case '-': case '!':
		*status = 1;
		return 1;
	}
	return 0;
}

/* ---- MongoDB: 16-byte header, little-endian; responseTo pairs a reply with its request ---- */

#define FT_MONGO_OP_REPLY 1
#define FT_MONGO_OP_QUERY 2004
#define FT_MONGO_OP_COMPRESSED 2012
#define FT_MONGO_OP_MSG 2013

static __always_inline int ft_mongo_request(const __u8 *b, __u32 len, __u32 size, __u64 *stream)
{
	if (len < 16 || ft_le32(b, 0) != size || ft_le32(b, 8) != 0)
		return 0;
	__u32 op = ft_le32(b, 12);
	if (op != FT_MONGO_OP_MSG && op != FT_MONGO_OP_QUERY && op != FT_MONGO_OP_COMPRESSED)
		return 0;
	*stream = ft_le32(b, 4);
	return 1;
}

static __always_inline int ft_mongo_response(const __u8 *b, __u32 len, __u64 *stream, __u32 *status)
{
	if (len < 16 || ft_le32(b, 0) < 16 || ft_le32(b, 8) == 0)
		return 0;
	__u32 op = ft_le32(b, 12);
	if (op != FT_MONGO_OP_MSG && op != FT_MONGO_OP_REPLY && op != FT_MONGO_OP_COMPRESSED)
		return 0;
	*stream = ft_le32(b, 8);
	*status = 0;
	return 1;
}

#include "protocols_db.h"

/* ---- DNS over UDP: one question, the id pairs a reply with its query ---- */

static __always_inline int ft_dns_request(const __u8 *b, __u32 len, __u32 size, __u64 *stream)
{
	if (len < 12 || size > 4096)
		return 0;
	if ((b[2] & 0x80) || ((b[2] >> 3) & 0xf) != 0) /* QR = query, OPCODE = QUERY */
		return 0;
	if (ft_be16(b, 4) != 1 || ft_be16(b, 6) != 0 || ft_be16(b, 8) != 0 || ft_be16(b, 10) > 1)
		return 0;
	*stream = ft_be16(b, 0);
	return 1;
}

static __always_inline int ft_dns_response(const __u8 *b, __u32 len, __u64 *stream, __u32 *status)
{
	if (len < 12 || !(b[2] & 0x80) || ft_be16(b, 4) != 1)
		return 0;
	*stream = ft_be16(b, 0);
	*status = b[3] & 0xf; /* RCODE */
	return 1;
}

#include "protocols_ext.h"

/* ---- dispatch ---- */

/* The protocol of a request, or FT_PROTO_UNKNOWN. `prev` is what this socket spoke last. */
static __always_inline __u32 ft_detect_request(const __u8 *b, __u32 len, __u32 size, __u8 transport, __u32 prev,
					       __u64 *stream)
{
	*stream = 0;
	if (transport == FT_IPPROTO_UDP)
		return ft_dns_request(b, len, size, stream) ? FT_PROTO_DNS : FT_PROTO_UNKNOWN;
	if (ft_http1_request(b, len))
		return FT_PROTO_HTTP;
	if (ft_http2_request(b, len, prev, stream))
		return FT_PROTO_HTTP2;
	if (ft_redis_request(b, len))
		return FT_PROTO_REDIS;
	if (ft_memcached_request(b, len))
		return FT_PROTO_MEMCACHED;
	if (ft_postgres_request(b, len, size))
		return FT_PROTO_POSTGRES;
	if (ft_mysql_request(b, len, size))
		return FT_PROTO_MYSQL;
	if (ft_mongo_request(b, len, size, stream))
		return FT_PROTO_MONGO;
	if (ft_cassandra_request(b, len, size, stream))
		return FT_PROTO_CASSANDRA;
	if (ft_memcached_binary_request(b, len, size))
		return FT_PROTO_MEMCACHED;
	/* the newer protocols: one call each, ZooKeeper before Kafka, whose header check takes
	 * ZooKeeper's frames for its own; the rest after every older protocol. AMQP before
	 * ClickHouse: a frame can look like a Query packet; MQTT, the weakest check, last. */
	const struct ft_head *head = (const struct ft_head *)b;
	if (ft_request_of_ext(FT_PROTO_ZOOKEEPER | FT_EXT_DETECT, head, len, size, stream))
		return FT_PROTO_ZOOKEEPER;
	if (ft_kafka_request(b, len, size, stream))
		return FT_PROTO_KAFKA;
	const __u32 later[] = {FT_PROTO_NATS, FT_PROTO_AMQP, FT_PROTO_DUBBO, FT_PROTO_CLICKHOUSE, FT_PROTO_MQTT};
	for (int i = 0; i < 5; i++) {
		if (ft_request_of_ext(later[i] | FT_EXT_DETECT, head, len, size, stream))
			return later[i];
	}
	*stream = 0;
	return FT_PROTO_UNKNOWN;
}

/* A request of a protocol already known on this socket: only that protocol's detector runs. */
static __always_inline __u32 ft_detect_request_of(__u32 proto, const __u8 *b, __u32 len, __u32 size, __u64 *stream)
{
	int found = 0;
	*stream = 0;
	switch (proto) {
	case FT_PROTO_HTTP:
		found = ft_http1_request(b, len);
		break;
	case FT_PROTO_HTTP2:
		found = ft_http2_request(b, len, FT_PROTO_HTTP2, stream);
		break;
	case FT_PROTO_REDIS:
		found = ft_redis_request(b, len);
		break;
	case FT_PROTO_MEMCACHED:
		found = ft_memcached_request(b, len) || ft_memcached_binary_request(b, len, size);
		break;
	case FT_PROTO_POSTGRES:
		found = ft_postgres_request_known(b, len, size);
		break;
	case FT_PROTO_MYSQL:
		found = ft_mysql_request(b, len, size);
		break;
	case FT_PROTO_MONGO:
		found = ft_mongo_request(b, len, size, stream);
		break;
	case FT_PROTO_CASSANDRA:
		found = ft_cassandra_request_known(b, len, size, stream);
		break;
	case FT_PROTO_KAFKA:
		found = ft_kafka_request(b, len, size, stream);
		break;
	case FT_PROTO_DNS:
		found = ft_dns_request(b, len, size, stream);
		break;
	default:
		found = ft_request_of_ext(proto, (const struct ft_head *)b, len, size, stream);
		break;
	}
	if (!found) {
		*stream = 0;
		return FT_PROTO_UNKNOWN;
	}
	return proto;
}

/* A TLS record header (handshake, alert, change_cipher_spec or application data, SSL 3.0 to TLS
 * 1.3, at most 16 KiB plus expansion): such a socket's bytes are encrypted. */
static __always_inline int ft_tls_record(const __u8 *b, __u32 len)
{
	if (len < 5 || b[0] < 20 || b[0] > 23 || b[1] != 3 || b[2] > 4)
		return 0;
	return ft_be16(b, 3) <= 16384 + 2048;
}

/* Whether these bytes are a response of `proto`; sets its stream id and status. */
static __always_inline int ft_parse_response(__u32 proto, const __u8 *b, __u32 len, __u32 size, __u64 *stream,
					     __u32 *status)
{
	*stream = 0;
	*status = 0;
	switch (proto) {
	case FT_PROTO_HTTP:
		return ft_http1_response(b, len, status);
	case FT_PROTO_HTTP2:
		return ft_http2_response(b, len, stream, status);
	case FT_PROTO_POSTGRES:
		return ft_postgres_response(b, len, status);
	case FT_PROTO_MYSQL:
		return ft_mysql_response(b, len, size, status);
	case FT_PROTO_REDIS:
		return ft_redis_response(b, len, status);
	case FT_PROTO_MONGO:
		return ft_mongo_response(b, len, stream, status);
	case FT_PROTO_MEMCACHED:
		return ft_memcached_response(b, len, status);
	case FT_PROTO_KAFKA:
		return ft_kafka_response(b, len, size, stream, status);
	case FT_PROTO_CASSANDRA:
		return ft_cassandra_response(b, len, size, stream, status);
	case FT_PROTO_DNS:
		return ft_dns_response(b, len, stream, status);
	}
	int ext = ft_parse_response_ext(proto, (const struct ft_head *)b, len, size, stream);
	if (ext < 0)
		return 0;
	*status = ext;
	return 1;
}

#endif
