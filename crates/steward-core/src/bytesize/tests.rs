//! Unit tests for the `bytesize` module.

use super::*;

#[test]
fn parses_binary_decimal_and_docker_units() {
    let cases = [
        ("0", 0),
        ("512", 512),
        ("1KiB", 1024),
        ("256MiB", 256 << 20),
        ("256mib", 256 << 20),
        ("1.5GiB", 3 << 29),
        ("2GB", 2_000_000_000),
        ("512M", 512 << 20),
        ("10 MB", 10_000_000),
    ];
    for (text, bytes) in cases {
        assert_eq!(text.parse::<ByteSize>(), Ok(ByteSize(bytes)), "{text}");
    }
}

#[test]
fn rejects_unknown_units_and_garbage() {
    for text in ["", "MiB", "10XB", "1..5G", "-1G", "1e400GB"] {
        assert!(text.parse::<ByteSize>().is_err(), "{text}");
    }
}

#[test]
fn displays_exact_binary_units_when_possible() {
    assert_eq!(ByteSize(256 << 20).to_string(), "256MiB");
    assert_eq!(ByteSize(1536).to_string(), "1.5KiB");
    assert_eq!(ByteSize(100).to_string(), "100B");
}
