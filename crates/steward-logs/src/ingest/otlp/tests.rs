//! Tests of OTLP logs decoding and translation.
