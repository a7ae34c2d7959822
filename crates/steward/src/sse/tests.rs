//! Tests of the event-stream decoder: frames cut anywhere, line endings,
//! keep-alives, and characters split across reads.

use super::{Decoder, Frame};

fn frame(id: Option<i64>, event: Option<&str>, data: &str) -> Frame {
    Frame {
        id,
        event: event.map(str::to_owned),
        data: data.to_owned(),
    }
}

#[test]
fn frames_give_their_fields_and_keep_alives_are_skipped() {
    let mut decoder = Decoder::default();
    let frames = decoder.push(
        b": keep-alive\n\nid: 42\ndata: {\"kind\":\"ci.x\"}\n\nevent: error\ndata: a\ndata: b\n\n",
    );
    assert_eq!(
        frames,
        [
            frame(Some(42), None, "{\"kind\":\"ci.x\"}"),
            frame(None, Some("error"), "a\nb"),
        ]
    );
}

#[test]
fn a_character_split_across_reads_arrives_whole() {
    let text = "id: 7\ndata: {\"summary\":\"déploiement réussi ✓ 🚀\"}\n\n";
    let bytes = text.as_bytes();
    // Every cut point, including inside each multi-byte character.
    for cut in 1..bytes.len() {
        let mut decoder = Decoder::default();
        let mut frames = decoder.push(&bytes[..cut]);
        frames.extend(decoder.push(&bytes[cut..]));
        assert_eq!(
            frames,
            [frame(
                Some(7),
                None,
                "{\"summary\":\"déploiement réussi ✓ 🚀\"}"
            )],
            "cut at byte {cut}"
        );
    }
}

#[test]
fn byte_by_byte_and_every_line_ending() {
    for ending in ["\n", "\r\n", "\r"] {
        let text =
            format!("id: 1{ending}data: x{ending}{ending}id: 2{ending}data: y{ending}{ending}");
        let mut decoder = Decoder::default();
        let mut frames = Vec::new();
        for byte in text.as_bytes() {
            frames.extend(decoder.push(&[*byte]));
        }
        assert_eq!(
            frames,
            [frame(Some(1), None, "x"), frame(Some(2), None, "y")],
            "line ending {ending:?}"
        );
    }
}

#[test]
fn an_unfinished_frame_waits_for_its_blank_line() {
    let mut decoder = Decoder::default();
    assert!(decoder.push(b"id: 3\ndata: partial\n").is_empty());
    assert_eq!(decoder.push(b"\n"), [frame(Some(3), None, "partial")]);
}
