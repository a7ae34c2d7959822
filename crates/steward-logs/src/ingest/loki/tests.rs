//! Tests of Loki push decoding: JSON, protobuf, validation, encoding.
