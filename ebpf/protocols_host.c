/* The protocol detectors of protocols.h, compiled for the host so that the receiver's unit
 * tests run the same C the kernel runs (components/receiver/ebpf/tests/protocols.rs). */
#include <stdint.h>
typedef uint8_t __u8;
typedef uint16_t __u16;
typedef uint32_t __u32;
typedef int32_t __s32;
typedef uint64_t __u64;
#undef __always_inline
#define __always_inline inline __attribute__((always_inline))
#include "protocols.h"

__u32 ft_host_detect_request(const __u8 *b, __u32 len, __u32 size, __u8 transport, __u32 prev, __u64 *stream)
{
	return ft_detect_request(b, len, size, transport, prev, stream);
}

int ft_host_parse_response(__u32 proto, const __u8 *b, __u32 len, __u32 size, __u64 *stream, __u32 *status)
{
	return ft_parse_response(proto, b, len, size, stream, status);
}

__u32 ft_host_detect_request_of(__u32 proto, const __u8 *b, __u32 len, __u32 size, __u64 *stream)
{
	return ft_detect_request_of(proto, b, len, size, stream);
}

int ft_host_tls_record(const __u8 *b, __u32 len)
{
	return ft_tls_record(b, len);
}

__u32 ft_host_http2_request_frame(const __u8 *b, __u32 len)
{
	return ft_http2_request_frame(b, len);
}
