/* Memcached, Kafka and Cassandra for protocols.h: included after its byte helpers and FT_STARTS. */
#ifndef FERROTEL_PROTOCOLS_DB_H
#define FERROTEL_PROTOCOLS_DB_H

/* ---- Memcached: text (classic and meta commands) and binary protocols ---- */

/* A meta command: two letters, then a key (printable) or, for mn, the line's end. */
static __always_inline int ft_memcached_meta(const __u8 *b, __u32 len)
{
	if (len < 4 || b[0] != 'm' || b[2] != ' ')
		return FT_STARTS(b, len, "mn\r\n");
	switch (b[1]) {
	case 'g': case 's': case 'd': case 'a': case 'e':
		return b[3] > ' ' && b[3] < 0x7f;
	}
	return 0;
}

/* A command word alone on its line, or followed by arguments. */
static __always_inline int ft_memcached_word(const __u8 *b, __u32 len, const char *word, __u32 n)
{
	return ft_starts(b, len, word, n) && len > n && (b[n] == '\r' || b[n] == ' ');
}

static __always_inline int ft_memcached_request(const __u8 *b, __u32 len)
{
	return FT_STARTS(b, len, "get ") || FT_STARTS(b, len, "gets ") || FT_STARTS(b, len, "set ") ||
	       FT_STARTS(b, len, "add ") || FT_STARTS(b, len, "replace ") || FT_STARTS(b, len, "append ") ||
	       FT_STARTS(b, len, "prepend ") || FT_STARTS(b, len, "cas ") || FT_STARTS(b, len, "delete ") ||
	       FT_STARTS(b, len, "incr ") || FT_STARTS(b, len, "decr ") || FT_STARTS(b, len, "touch ") ||
	       FT_STARTS(b, len, "gat ") || FT_STARTS(b, len, "gats ") || ft_memcached_meta(b, len) ||
	       ft_memcached_word(b, len, "flush_all", 9) || ft_memcached_word(b, len, "version", 7) ||
	       ft_memcached_word(b, len, "stats", 5);
}

/* The binary protocol's 24-byte header: magic 0x80 (request) or 0x81, opcode, key length, extras
 * length, data type 0, vbucket or status, body length, opaque, CAS. A write holds whole requests. */
static __always_inline int ft_memcached_binary_request(const __u8 *b, __u32 len, __u32 size)
{
	if (len < 24 || b[0] != 0x80 || b[1] > 0x48 || b[5] != 0)
		return 0;
	__u32 body = ft_be32(b, 8);
	return ft_be16(b, 2) + b[4] <= body && body + 24 <= size;
}

static __always_inline int ft_memcached_response(const __u8 *b, __u32 len, __u32 *status)
{
	*status = 0;
	if (len >= 24 && b[0] == 0x81 && b[5] == 0) {
		/* not found, exists, not stored: answers, as their text forms are */
		__u32 code = ft_be16(b, 6);
		*status = code != 0 && code != 1 && code != 2 && code != 5;
		return 1;
	}
	if (FT_STARTS(b, len, "VALUE ") || FT_STARTS(b, len, "END\r\n") || FT_STARTS(b, len, "STORED\r\n") ||
	    FT_STARTS(b, len, "NOT_STORED") || FT_STARTS(b, len, "EXISTS") || FT_STARTS(b, len, "NOT_FOUND") ||
	    FT_STARTS(b, len, "DELETED") || FT_STARTS(b, len, "TOUCHED") || FT_STARTS(b, len, "OK\r\n") ||
	    FT_STARTS(b, len, "VERSION ") || FT_STARTS(b, len, "STAT ") || (len > 0 && ft_is_digit(b[0])))
		return 1;
	/* meta: HD (stored, deleted…), VA value, EN miss, NF/NS/EX, MN, ME debug */
	if (len >= 4 && (b[2] == ' ' || b[2] == '\r') &&
	    (FT_STARTS(b, len, "HD") || FT_STARTS(b, len, "VA") || FT_STARTS(b, len, "EN") ||
	     FT_STARTS(b, len, "NF") || FT_STARTS(b, len, "NS") || FT_STARTS(b, len, "EX") ||
	     FT_STARTS(b, len, "MN") || FT_STARTS(b, len, "ME")))
		return 1;
	if (FT_STARTS(b, len, "ERROR") || FT_STARTS(b, len, "CLIENT_ERROR") || FT_STARTS(b, len, "SERVER_ERROR")) {
		*status = 1;
		return 1;
	}
	return 0;
}

/* ---- Kafka: length, api_key, api_version, correlation_id, client_id ---- */

#define FT_KAFKA_MAX_API_KEY 92 /* Kafka 4.1 */

static __always_inline int ft_kafka_request(const __u8 *b, __u32 len, __u32 size, __u64 *stream)
{
	if (len < 14 || ft_be32(b, 0) + 4 != size)
		return 0;
	__u32 api_key = ft_be16(b, 4);
	__u32 api_version = ft_be16(b, 6);
	__u32 correlation = ft_be32(b, 8);
	__u32 client_id_len = ft_be16(b, 12);
	if (api_key > FT_KAFKA_MAX_API_KEY || api_version > 20 || (correlation & 0x80000000))
		return 0;
	if (client_id_len != 0xffff && client_id_len + 14 > size)
		return 0;
	*stream = correlation;
	return 1;
}

/* A response: its length, then the correlation id. Java's client reads the length alone, then
 * the rest, which then starts at the correlation id: a read shorter than its length says is a
 * whole response (or its start); one longer is such a rest. */
static __always_inline int ft_kafka_response(const __u8 *b, __u32 len, __u32 size, __u64 *stream, __u32 *status)
{
	if (len < 8 || size <= 4)
		return 0; /* the length read alone */
	__u32 first = ft_be32(b, 0);
	if (first & 0x80000000)
		return 0;
	*stream = first + 4 >= size ? ft_be32(b, 4) : first;
	*status = 0;
	return 1;
}

/* The other reading of a response's first 8 bytes (its length and correlation id, or the
 * correlation id of a rest read after the length): tried when the first pairs with nothing. */
static __always_inline __u64 ft_kafka_other_stream(const __u8 *b, __u64 stream)
{
	__u32 first = ft_be32(b, 0);
	return stream == first ? ft_be32(b, 4) : first;
}

/* ---- Cassandra (CQL native protocol v3-v5) ---- */

static __always_inline int ft_cql_request_opcode(__u8 op)
{
	switch (op) {
	case 0x01: case 0x05: case 0x07: case 0x09: case 0x0a: case 0x0b: case 0x0d: case 0x0f:
		return 1;
	}
	return 0;
}

/* Protocol v5 wraps frames in segments once STARTUP is done: a 3-byte little-endian word (17
 * bits of payload length, a self-contained flag) and its CRC24, or with compression on a 5-byte
 * word (17 bits of payload length, 17 of uncompressed length: 0 when left uncompressed) and its
 * CRC24. Where the segment's first frame starts (6 or 8) when its header and `version` byte
 * agree with the segment's length, else 0. The CRC is not checked: the frame header's fields
 * inside the segment's length say enough, and only on a socket known to speak CQL. A request's
 * segment is written whole; a response's may come in several reads. */
static __always_inline __u32 ft_cql_segment(const __u8 *b, __u32 len, __u32 size, __u8 version)
{
	if (len < 17)
		return 0;
	__u32 seg = b[0] | ((__u32)b[1] << 8) | (((__u32)b[2] & 1) << 16);
	__u32 off = 6;
	if (b[6] != version) {
		/* the compressed form: the uncompressed length (bits 17..33) must be 0 */
		if (b[8] != version || (b[2] & 0xfe) || b[3] || (b[4] & 0x3))
			return 0;
		off = 8;
	} else if (b[2] & 0xfc) {
		return 0; /* the padding bits */
	}
	if (b[off + 1] > 0x1f || seg < 9 || (version == 0x05 && seg + off > size))
		return 0;
	/* a frame longer than its segment is split over several: the first is not self-contained */
	int self_contained = off == 6 ? b[2] & 0x2 : b[4] & 0x4;
	if (ft_be32(b, off + 5) + 9 > seg && self_contained)
		return 0;
	return off;
}

static __always_inline int ft_cassandra_request(const __u8 *b, __u32 len, __u32 size, __u64 *stream)
{
	if (len < 9 || b[0] < 0x03 || b[0] > 0x05 || b[1] > 0x1f || !ft_cql_request_opcode(b[4]))
		return 0;
	if (ft_be32(b, 5) + 9 > size)
		return 0;
	*stream = ft_be16(b, 2);
	return 1;
}

/* On a socket known to speak CQL, a v5 request may also come in a segment. */
static __always_inline int ft_cassandra_request_known(const __u8 *b, __u32 len, __u32 size, __u64 *stream)
{
	if (ft_cassandra_request(b, len, size, stream))
		return 1;
	__u32 off = ft_cql_segment(b, len, size, 0x05);
	if (off == 0 || off + 9 > len || off > 8 || !ft_cql_request_opcode(b[off + 4]))
		return 0;
	*stream = ft_be16(b, off + 2);
	return 1;
}

static __always_inline int ft_cassandra_response(const __u8 *b, __u32 len, __u32 size, __u64 *stream,
						 __u32 *status)
{
	/* a v5 segment first: its length's low byte may look like a v3-v5 frame's version */
	__u32 off = ft_cql_segment(b, len, size, 0x85);
	if (off > 8 || off + 9 > len)
		off = 0;
	if (off == 0 && (len < 9 || b[0] < 0x83 || b[0] > 0x85))
		return 0;
	if (b[off + 4] > 0x10)
		return 0;
	*stream = ft_be16(b, off + 2);
	*status = b[off + 4] == 0x00 ? 1 : 0; /* ERROR */
	return 1;
}

#endif
