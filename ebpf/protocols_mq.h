/* Message brokers for protocols.h: AMQP 0-9-1, NATS and MQTT 3.1.1/5.
 *
 * What counts as a request here is a client message that the broker answers; fire-and-forget
 * messages (an unconfirmed AMQP publish aside, see below), acknowledgements the client owes the
 * broker, keep-alives and everything the broker pushes (deliveries, INFO) are not requests, and
 * pushes are not responses either, so that they never complete another request's exchange. */
#ifndef FERROTEL_PROTOCOLS_MQ_H
#define FERROTEL_PROTOCOLS_MQ_H

/* The bytes these detectors see (FT_DETECT_BYTES in ferrotel.bpf.c): they run as BPF global
 * functions (protocols.h), which the verifier checks on their own, knowing only this size. */
#define FT_HEAD_BYTES 128

/* Hides a value from clang's range analysis: a mask that follows is then kept, though clang
 * can prove it a no-op, and bounds the offset for the verifier, which proves less. */
#define FT_OPAQUE(x) asm volatile("" : "+r"(x))

/* b[off], or -1 past what was captured. Offsets computed from the bytes go through here. */
static __always_inline int ft_at(const __u8 *b, __u32 len, __u32 off)
{
	if (off >= len)
		return -1;
	FT_OPAQUE(off);
	return b[off & (FT_HEAD_BYTES - 1)];
}

/* ft_be32 at a computed offset; 0 past what was captured. */
static __always_inline __u32 ft_be32_at(const __u8 *b, __u32 len, __u32 off)
{
	int b0 = ft_at(b, len, off), b1 = ft_at(b, len, off + 1), b2 = ft_at(b, len, off + 2),
	    b3 = ft_at(b, len, off + 3);
	if (b3 < 0)
		return 0;
	return ((__u32)b0 << 24) | ((__u32)b1 << 16) | ((__u32)b2 << 8) | (__u32)b3;
}

/* ---- AMQP 0-9-1: frames of type, channel, size, payload, 0xCE; a method payload starts with
 * class and method ids. Synchronous methods are answered on their channel: the stream. ---- */

#define FT_AMQP_METHOD(class, method) (((__u32)(class) << 16) | (method))

/* The class and method of the method frame at the start of `b`, or 0. */
static __always_inline __u32 ft_amqp_method(const __u8 *b, __u32 len, __u32 size)
{
	if (len < 11 || b[0] != 1)
		return 0;
	__u32 payload = ft_be32(b, 3);
	if (payload < 4 || payload > size || payload + 8 > size)
		return 0;
	/* the frame end, when captured: what makes a method frame unmistakable */
	int end = ft_at(b, len, payload + 7);
	if (end >= 0 && end != 0xce)
		return 0;
	return FT_AMQP_METHOD(ft_be16(b, 7), ft_be16(b, 9));
}

/* The protocol header a client opens a connection with; the broker answers Connection.Start. */
static __always_inline int ft_amqp_header(const __u8 *b, __u32 len)
{
	return len >= 8 && FT_STARTS(b, len, "AMQP") && b[4] == 0 && b[5] == 0 && b[6] == 9 && b[7] == 1;
}

static __always_inline int ft_amqp_request(const __u8 *b, __u32 len, __u32 size, __u64 *stream)
{
	if (ft_amqp_header(b, len))
		return 1;
	switch (ft_amqp_method(b, len, size)) {
	case FT_AMQP_METHOD(10, 11): /* connection.start-ok -> tune */
	case FT_AMQP_METHOD(10, 21): /* connection.secure-ok */
	case FT_AMQP_METHOD(10, 40): /* connection.open */
	case FT_AMQP_METHOD(10, 50): /* connection.close */
	case FT_AMQP_METHOD(20, 10): /* channel.open */
	case FT_AMQP_METHOD(20, 20): /* channel.flow */
	case FT_AMQP_METHOD(20, 40): /* channel.close */
	case FT_AMQP_METHOD(40, 10): case FT_AMQP_METHOD(40, 20): case FT_AMQP_METHOD(40, 30):
	case FT_AMQP_METHOD(40, 40): /* exchange.declare/delete/bind/unbind */
	case FT_AMQP_METHOD(50, 10): case FT_AMQP_METHOD(50, 20): case FT_AMQP_METHOD(50, 30):
	case FT_AMQP_METHOD(50, 40): case FT_AMQP_METHOD(50, 50): /* queue.declare/bind/purge/delete/unbind */
	case FT_AMQP_METHOD(60, 10): /* basic.qos */
	case FT_AMQP_METHOD(60, 20): /* basic.consume */
	case FT_AMQP_METHOD(60, 30): /* basic.cancel */
	/* basic.publish: answered by basic.ack/nack in confirm mode and by basic.return when
	 * unroutable; unanswered, it waits under its channel until the channel's next request */
	case FT_AMQP_METHOD(60, 40):
	case FT_AMQP_METHOD(60, 70): /* basic.get */
	case FT_AMQP_METHOD(60, 110): /* basic.recover */
	case FT_AMQP_METHOD(85, 10): /* confirm.select */
	case FT_AMQP_METHOD(90, 10): case FT_AMQP_METHOD(90, 20): case FT_AMQP_METHOD(90, 30): /* tx.* */
		*stream = ft_be16(b, 1);
		return 1;
	}
	return 0;
}

/* Answers to the requests above; a close (of the channel or the connection) and a returned
 * message carry an AMQP reply code, 3xx to 5xx being failures. Deliveries, flow control and
 * connection.blocked are pushed, not answers. */
static __always_inline int ft_amqp_response(const __u8 *b, __u32 len, __u32 size, __u64 *stream, __u32 *status)
{
	__u32 method = ft_amqp_method(b, len, size);
	switch (method) {
	case FT_AMQP_METHOD(10, 50): /* connection.close */
	case FT_AMQP_METHOD(20, 40): /* channel.close */
	case FT_AMQP_METHOD(60, 50): /* basic.return */
		*status = len >= 13 && ft_be16(b, 11) >= 300;
		break;
	case FT_AMQP_METHOD(60, 120): /* basic.nack: the broker could not take a confirmed message */
		*status = 1;
		break;
	case FT_AMQP_METHOD(10, 10): case FT_AMQP_METHOD(10, 20): case FT_AMQP_METHOD(10, 30):
	case FT_AMQP_METHOD(10, 41): case FT_AMQP_METHOD(10, 51):
	case FT_AMQP_METHOD(20, 11): case FT_AMQP_METHOD(20, 21): case FT_AMQP_METHOD(20, 41):
	case FT_AMQP_METHOD(40, 11): case FT_AMQP_METHOD(40, 21): case FT_AMQP_METHOD(40, 31):
	case FT_AMQP_METHOD(40, 51):
	case FT_AMQP_METHOD(50, 11): case FT_AMQP_METHOD(50, 21): case FT_AMQP_METHOD(50, 31):
	case FT_AMQP_METHOD(50, 41): case FT_AMQP_METHOD(50, 51):
	case FT_AMQP_METHOD(60, 11): case FT_AMQP_METHOD(60, 21): case FT_AMQP_METHOD(60, 31):
	case FT_AMQP_METHOD(60, 71): case FT_AMQP_METHOD(60, 72): case FT_AMQP_METHOD(60, 80):
	case FT_AMQP_METHOD(60, 111):
	case FT_AMQP_METHOD(85, 11):
	case FT_AMQP_METHOD(90, 11): case FT_AMQP_METHOD(90, 21): case FT_AMQP_METHOD(90, 31):
		*status = 0;
		break;
	default:
		return 0;
	}
	*stream = ft_be16(b, 1);
	return 1;
}

/* ---- NATS: text operations. The server speaks first (INFO) and pushes MSG, PING and INFO at
 * any time; of the client's operations only PING is always answered (PONG), and a client
 * flushes with one, so a PUB or SUB awaits the next PONG, +OK (verbose), -ERR or MSG (the reply
 * of a request-reply, or a subscription's first message). UNSUB, PONG and +OK are never
 * requests: nothing answers them. ---- */

static __always_inline int ft_nats_request(const __u8 *b, __u32 len)
{
	return FT_STARTS(b, len, "PUB ") || FT_STARTS(b, len, "HPUB ") || FT_STARTS(b, len, "SUB ") ||
	       FT_STARTS(b, len, "PING\r\n") || FT_STARTS(b, len, "CONNECT {");
}

static __always_inline int ft_nats_response(const __u8 *b, __u32 len, __u32 *status)
{
	if (FT_STARTS(b, len, "-ERR")) {
		*status = 1;
		return 1;
	}
	*status = 0;
	return FT_STARTS(b, len, "PONG\r\n") || FT_STARTS(b, len, "+OK\r\n") || FT_STARTS(b, len, "MSG ") ||
	       FT_STARTS(b, len, "HMSG ");
}

/* ---- MQTT 3.1.1 and 5: a fixed header (type << 4 | flags, then a varint length). Common
 * clients and brokers (libmosquitto, paho) read the type byte, the length and the rest in three
 * syscalls, so a response is often one byte: its type is all there is to pair on. Requests are
 * then paired like those of a protocol without ids, with the next acknowledgement. ---- */

/* The offset past the fixed header of the packet at `b`, its remaining length in *rest, or 0. */
static __always_inline __u32 ft_mqtt_header(const __u8 *b, __u32 len, __u32 *rest)
{
	__u32 value = 0;
	for (__u32 i = 1; i < 5; i++) {
		if (i >= len)
			return 0;
		value |= (__u32)(b[i] & 0x7f) << (7 * (i - 1));
		if (!(b[i] & 0x80)) {
			*rest = value;
			__u32 at = i + 1;
			FT_OPAQUE(at);
			return at & 7; /* at most 5: a bound the verifier sees */
		}
	}
	return 0;
}

static __always_inline int ft_mqtt_printable(int c)
{
	return c >= 0x20 && c != 0x7f;
}

/* A topic filter at `off` (a 2-byte length, then UTF-8) within a packet ending at `end`. */
static __always_inline int ft_mqtt_filter(const __u8 *b, __u32 len, __u32 off, __u32 end)
{
	int hi = ft_at(b, len, off), lo = ft_at(b, len, off + 1);
	if (hi < 0 || lo < 0)
		return 0;
	__u32 n = ((__u32)hi << 8) | (__u32)lo;
	return n >= 1 && off + 2 + n <= end && ft_mqtt_printable(ft_at(b, len, off + 2));
}

static __always_inline int ft_mqtt_request(const __u8 *b, __u32 len, __u32 size)
{
	__u32 rest = 0;
	__u32 at = len > 0 ? ft_mqtt_header(b, len, &rest) : 0;
	if (at == 0 || at + rest > size || rest < 2)
		return 0;
	if (at + 2 > len)
		return 0;
	__u8 type = b[0] >> 4, flags = b[0] & 0xf;
	__u32 n = ft_be16(b, at);
	switch (type) {
	case 1: /* CONNECT: the protocol name and level */
		if (flags != 0 || at + 7 > len || b[at + 2] != 'M' || b[at + 3] != 'Q')
			return 0;
		if (n == 4 && b[at + 4] == 'T' && b[at + 5] == 'T')
			return b[at + 6] == 4 || b[at + 6] == 5;
		/* 3.1's "MQIsdp", level 3 */
		return n == 6 && b[at + 4] == 'I' && b[at + 5] == 's' && ft_at(b, len, at + 8) == 3;
	case 3: { /* PUBLISH at QoS 1 or 2 (acknowledged): a topic name, then the packet id */
		__u32 qos = (flags >> 1) & 3;
		if (qos == 0 || qos == 3 || n == 0 || at + 2 + n + 2 > at + rest)
			return 0;
		return ft_mqtt_printable(ft_at(b, len, at + 2));
	}
	case 8:  /* SUBSCRIBE */
	case 10: { /* UNSUBSCRIBE: a packet id, (v5) properties, topic filters */
		if (flags != 2 || n == 0 || rest < 5)
			return 0;
		if (ft_mqtt_filter(b, len, at + 2, at + rest))
			return 1;
		int props = ft_at(b, len, at + 2);
		return props >= 0 && props < 0x80 && ft_mqtt_filter(b, len, at + 3 + props, at + rest);
	}
	}
	return 0;
}

/* CONNACK, PUBACK, PUBREC, SUBACK and UNSUBACK. Not PINGRESP (keep-alives are not requests), nor
 * PUBCOMP (it ends QoS 2's second round, PUBREL -> PUBCOMP, after PUBREC answered the PUBLISH):
 * arriving while another request waits they would complete it. Reason codes from 0x80 (v5) and
 * CONNACK's non-zero codes (3.1.1) are failures. */
static __always_inline int ft_mqtt_response(const __u8 *b, __u32 len, __u32 size, __u32 *status)
{
	*status = 0;
	if (len == 0)
		return 0;
	__u8 type = b[0] >> 4;
	if (b[0] != 0x20 && b[0] != 0x40 && b[0] != 0x50 && b[0] != 0x90 && b[0] != 0xb0)
		return 0;
	if (size == 1)
		return 1; /* the type byte alone: the client reads the rest afterwards */
	__u32 rest = 0;
	__u32 at = ft_mqtt_header(b, len, &rest);
	if (at == 0 || at + rest > size || rest < 2)
		return 0;
	__u32 end = at + rest;
	if (type == 2) { /* CONNACK: flags, code */
		int code = ft_at(b, len, at + 1);
		*status = code > 0;
		return 1;
	}
	if (type == 4 || type == 5) { /* packet id, (v5) reason code */
		*status = rest > 2 && ft_at(b, len, at + 2) >= 0x80;
		return 1;
	}
	/* SUBACK/UNSUBACK: packet id, (v5) properties, one code per filter. Short ones are read
	 * whole: a code from 0x80 is a refused filter; long properties are left alone. */
	if (rest <= 2 + 16) {
		for (__u32 i = 0; i < 18; i++) {
			if (at + 2 + i >= end)
				break;
			if (ft_at(b, len, at + 2 + i) >= 0x80)
				*status = 1;
		}
	}
	return 1;
}

#endif
