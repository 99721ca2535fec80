/* The records the kernel programs write to the ring buffer. The receiver reads them
 * with #[repr(C)] mirrors in components/receiver/ebpf/src/events.rs: change both
 * together (the sizes are asserted on both sides). Fixed-width types only, explicit
 * padding, so the layout is the same for the BPF target and the host. */
#ifndef FERROTEL_EVENTS_H
#define FERROTEL_EVENTS_H

/* Largest payload the kernel captures per request or response; the configured
 * capture size (payload_size, 1 KiB by default) is at most this. */
#define FT_MAX_CAPTURE 4096
#define FT_COMM_LEN 16
#define FT_PATH_LEN 256

enum ft_event_type {
	FT_EV_CONNECT = 1,        /* outbound TCP connection established */
	FT_EV_CONNECT_FAILED = 2, /* outbound TCP connection failed; error = errno */
	FT_EV_ACCEPT = 3,         /* inbound TCP connection accepted */
	FT_EV_CLOSE = 4,          /* a tracked TCP socket closed; bytes counted */
	FT_EV_LISTEN_OPEN = 5,
	FT_EV_LISTEN_CLOSE = 6,
	FT_EV_RETRANSMIT = 7,
	FT_EV_L7 = 8,             /* one request and its response (struct ft_l7_event) */
	FT_EV_DISK = 9,
	FT_EV_EXEC = 10,          /* struct ft_exec_event */
	FT_EV_EXIT = 11,
	FT_EV_OOM_KILL = 12,
};

enum ft_protocol {
	FT_PROTO_UNKNOWN = 0,
	FT_PROTO_HTTP = 1,
	FT_PROTO_HTTP2 = 2,
	FT_PROTO_POSTGRES = 3,
	FT_PROTO_MYSQL = 4,
	FT_PROTO_REDIS = 5,
	FT_PROTO_MONGO = 6,
	FT_PROTO_MEMCACHED = 7,
	FT_PROTO_KAFKA = 8,
	FT_PROTO_CASSANDRA = 9,
	FT_PROTO_DNS = 10,
	FT_PROTO_AMQP = 11,
	FT_PROTO_NATS = 12,
	FT_PROTO_MQTT = 13,
	FT_PROTO_ZOOKEEPER = 14,
	FT_PROTO_CLICKHOUSE = 15,
	FT_PROTO_DUBBO = 16,
};

enum ft_role {
	FT_ROLE_UNKNOWN = 0,
	FT_ROLE_CLIENT = 1, /* the socket came from connect() (or sends first) */
	FT_ROLE_SERVER = 2, /* the socket came from accept() */
};

/* Addresses in network byte order as on the wire; ports in host order. An IPv4
 * address sits in the first 4 bytes. */
struct ft_tuple {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u16 family;    /* AF_INET 2, AF_INET6 10 */
	__u8 transport;  /* IPPROTO_TCP 6, IPPROTO_UDP 17 */
	__u8 pad;
};

/* Every event but L7 and exec. What each field means depends on the type:
 * duration: connect time (CONNECT, CONNECT_FAILED), disk latency (DISK);
 * error: errno (CONNECT_FAILED, DISK), exit code (EXIT);
 * aux: device (DISK: major << 20 | minor, as the kernel's dev_t), TCP state (RETRANSMIT);
 * bytes: DISK size, CLOSE the struct sock's address; sent/received: CLOSE totals. */
struct ft_event {
	__u32 type;
	__u32 tgid;
	__u64 ts_ns;
	__u64 fd;
	__u64 duration_ns;
	__u64 bytes_sent;
	__u64 bytes_received;
	__u64 bytes;
	__s32 error;
	__u32 aux;
	__u8 op;        /* DISK: 'R' read, 'W' write, 'D' discard, 'F' flush */
	__u8 role;
	__u8 pad[6];
	struct ft_tuple tuple;
	char comm[FT_COMM_LEN];
};

struct ft_l7_event {
	__u32 type;
	__u32 tgid;
	__u64 ts_ns;          /* when the response's first bytes were read or written */
	__u64 fd;
	__u64 duration_ns;    /* request written (or read) to response's first bytes */
	__u64 stream_id;      /* HTTP/2 stream, Mongo request id, Kafka correlation id, DNS id */
	__u32 protocol;
	__u32 status;         /* HTTP status code, DNS rcode; otherwise 0 ok, 1 error */
	__u32 request_size;   /* bytes of the syscall that carried the request */
	__u32 response_size;
	__u32 request_len;    /* bytes captured of each, at most the capture size */
	__u32 response_len;
	__u32 capture_size;   /* where the response starts in payload */
	__u8 role;
	__u8 flags;           /* FT_L7_* */
	__u8 pad[2];
	struct ft_tuple tuple;
	char comm[FT_COMM_LEN];
	/* request at [0, request_len), response at [capture_size, capture_size + response_len);
	 * only the bytes up to the end of the response are written to the ring buffer. */
	__u8 payload[2 * FT_MAX_CAPTURE];
};

/* ft_l7_event.flags */
#define FT_L7_TLS 1     /* read from a TLS library's plaintext, not from the socket */
#define FT_L7_NO_SPAN 2 /* for the metrics only: the in-kernel statistics were full */
#define FT_L7_COUNTED 4 /* a span whose exchange l7_stats counted already: not for the metrics */
#define FT_L7_STATE_ONLY 8 /* no span: sent for what its reply teaches (a MySQL prepare's statement id) */

/* In-kernel L7 statistics (metrics only, no record per exchange): per process, protocol, role,
 * server address and status; read by user space at each collection. */
#define FT_L7_BUCKETS 15 /* 14 latency bounds (0.5 ms .. 10 s) and the overflow */

struct ft_l7_key {
	__u32 tgid;
	__u32 status;
	__u16 port;     /* the server's */
	__u8 protocol;
	__u8 role;
	__u8 family;
	__u8 flags;     /* FT_L7_TLS */
	__u8 pad[2];
	__u8 addr[16];  /* the server's */
};

struct ft_l7_stats {
	__u64 count;
	__u64 sum_ns;
	__u64 buckets[FT_L7_BUCKETS];
};

struct ft_exec_event {
	__u32 type;
	__u32 tgid;
	__u64 ts_ns;
	__u32 ppid;
	__u32 args_len;
	char comm[FT_COMM_LEN];
	char filename[FT_PATH_LEN];
	char args[FT_PATH_LEN]; /* argv, NUL-separated, truncated */
};

#define FT_EVENT_SIZE 128
#define FT_L7_HEADER_SIZE 128
#define FT_EXEC_EVENT_SIZE 552

/* Self-telemetry the kernel keeps: index into the per-CPU `counters` array. */
enum ft_counter {
	FT_CNT_RINGBUF_LOST = 0,     /* a record that found the ring buffer full */
	FT_CNT_SOCKETS_FULL = 1,     /* a socket that could not be followed: `sockets` was full */
	FT_CNT_REQUESTS_FULL = 2,    /* a request that could not be kept for pairing: `requests` was full */
	FT_CNT_PENDING_FULL = 3,     /* a syscall, connect or disk request not followed to its end */
	FT_CNT_MAX = 4,
};

#endif
