/* The protocols added after the first ten (protocols_mq.h, protocols_rpc.h), reached from
 * protocols.h's dispatch through two BPF global functions. */
#ifndef FERROTEL_PROTOCOLS_EXT_H
#define FERROTEL_PROTOCOLS_EXT_H

#include "protocols_mq.h"
#include "protocols_rpc.h"

/* The detectors of protocols_mq.h and protocols_rpc.h run behind two BPF global functions: the
 * verifier checks each once on its own, instead of along every path of every program that
 * inlines the dispatch (which multiplied its work tenfold). A call costs a few instructions, paid
 * only on sockets of unknown protocol or of these protocols. On the host: plain functions. */
#if defined(__bpf__)
#define FT_GLOBAL __attribute__((noinline))
#else
#define FT_GLOBAL static
#endif

struct ft_head {
	__u8 bytes[FT_HEAD_BYTES];
};

/* Set in `proto` when the socket's protocol is not known yet: ZooKeeper then takes only whole
 * messages (a server's read of a message without its length could be anything). */
#define FT_EXT_DETECT 0x100

/* Whether these bytes are a request of `proto`, one of protocols_mq.h's and protocols_rpc.h's. */
FT_GLOBAL int ft_request_of_ext(__u32 proto, const struct ft_head *head, __u32 len, __u32 size, __u64 *stream)
{
	if (!head || !stream)
		return 0;
	const __u8 *b = head->bytes;
	if (len > FT_HEAD_BYTES)
		len = FT_HEAD_BYTES;
	int known = !(proto & FT_EXT_DETECT);
	switch (proto & ~FT_EXT_DETECT) {
	case FT_PROTO_AMQP:
		return ft_amqp_request(b, len, size, stream);
	case FT_PROTO_NATS:
		return ft_nats_request(b, len);
	case FT_PROTO_MQTT:
		return ft_mqtt_request(b, len, size);
	case FT_PROTO_ZOOKEEPER:
		return ft_zk_request_in(b, len, size, stream, known);
	case FT_PROTO_CLICKHOUSE:
		return ft_clickhouse_request(b, len, size);
	case FT_PROTO_DUBBO:
		return ft_dubbo_request(b, len, stream);
	}
	return 0;
}

/* A response's status, or -1 when these bytes are none (BPF functions take five arguments). */
FT_GLOBAL int ft_parse_response_ext(__u32 proto, const struct ft_head *head, __u32 len, __u32 size, __u64 *stream)
{
	if (!head || !stream)
		return -1;
	const __u8 *b = head->bytes;
	if (len > FT_HEAD_BYTES)
		len = FT_HEAD_BYTES;
	__u32 status = 0;
	int found = 0;
	switch (proto) {
	case FT_PROTO_AMQP:
		found = ft_amqp_response(b, len, size, stream, &status);
		break;
	case FT_PROTO_NATS:
		found = ft_nats_response(b, len, &status);
		break;
	case FT_PROTO_MQTT:
		found = ft_mqtt_response(b, len, size, &status);
		break;
	case FT_PROTO_ZOOKEEPER:
		found = ft_zookeeper_response(b, len, size, stream, &status);
		break;
	case FT_PROTO_CLICKHOUSE:
		found = ft_clickhouse_response(b, len, &status);
		break;
	case FT_PROTO_DUBBO:
		found = ft_dubbo_response(b, len, stream, &status);
		break;
	}
	return found ? (int)(status & 0xffff) : -1;
}

#endif
