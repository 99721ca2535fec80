//! `service.instance.id` as otelcol makes it: a UUID v5 (SHA-1, RFC 9562) of `address:port` in
//! OpenTelemetry's namespace `4d63009a-8d0f-11ee-aad7-4c796ed8e320`.

use ring::digest::{SHA1_FOR_LEGACY_USE_ONLY, digest};

const OTEL_NAMESPACE: [u8; 16] = [
    0x4d, 0x63, 0x00, 0x9a, 0x8d, 0x0f, 0x11, 0xee, 0xaa, 0xd7, 0x4c, 0x79, 0x6e, 0xd8, 0xe3, 0x20,
];

pub fn instance_id(address: &str, port: i64) -> String {
    let name = format!("{address}:{port}");
    let mut input = OTEL_NAMESPACE.to_vec();
    input.extend_from_slice(name.as_bytes());
    let hash = digest(&SHA1_FOR_LEGACY_USE_ONLY, &input);
    let mut b = [0u8; 16];
    b.copy_from_slice(&hash.as_ref()[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_uuid5_of_a_reference_implementation() {
        // expected values from Python's uuid.uuid5(UUID("4d63009a-…"), name)
        assert_eq!(
            super::instance_id("secantus", 27017),
            "f0e8d984-2625-5e79-9597-798df63690fe"
        );
        assert_eq!(
            super::instance_id("db1.example.com", 27018),
            "2f52dbb9-0ea0-53e7-bd09-38fb43b619b6"
        );
    }
}
