//! Tests of reading the engine's messages (no engine needed: what the
//! stream carries is fed directly).

use super::*;
use crate::collect::{
    multiline::MultilineConfig,
    pipeline::{Origin, StreamName},
};

fn lines(resume: Option<DockerCursor>) -> Lines {
    let origin = Origin {
        service: "api".to_owned(),
        version: "1".to_owned(),
        replica: "api-1".to_owned(),
        stream: StreamName::Stdout,
    };
    let config = MultilineConfig {
        max_lines: 1,
        ..MultilineConfig::default()
    };
    Lines::new(ContainerStream {
        pipeline: Pipeline::new(&origin, &config).expect("valid"),
        resume,
    })
}

fn taken(lines: &mut Lines) -> Vec<(i64, String)> {
    lines.stream.pipeline.take().map_or_else(Vec::new, |c| {
        c.stream
            .entries
            .into_iter()
            .map(|e| (e.ts, e.line))
            .collect()
    })
}

const T1: &str = "2024-05-01T12:00:00.000000001Z";
const T1_NS: i64 = 1_714_564_800_000_000_001;

#[test]
fn reads_timestamps_and_joins_split_lines() {
    let mut l = lines(None);
    l.message(format!("{T1} first\n").as_bytes());
    l.message(format!("{T1} a long li").as_bytes());
    l.message(b"2024-05-01T12:00:01Z ne\n");
    l.message(b"no timestamp\n");
    let got = taken(&mut l);
    assert_eq!(got[0], (T1_NS, "first".to_owned()));
    assert_eq!(got[1], (T1_NS, "a long line".to_owned()));
    assert_eq!(got[2].1, "no timestamp");
    assert_eq!(
        l.cursor,
        DockerCursor {
            ts: got[2].0,
            seen: 1
        }
    );
}

#[test]
fn several_lines_in_one_message_and_a_partial_at_the_end() {
    let mut l = lines(None);
    l.message(format!("{T1} a\n{T1} b\n{T1} c").as_bytes());
    assert_eq!(taken(&mut l).len(), 2);
    assert_eq!(l.cursor, DockerCursor { ts: T1_NS, seen: 2 });
    l.finish();
    assert_eq!(taken(&mut l), [(T1_NS, "c".to_owned())]);
    assert_eq!(l.cursor, DockerCursor { ts: T1_NS, seen: 3 });
}

#[test]
fn resuming_skips_what_was_handed_on() {
    let mut l = lines(Some(DockerCursor { ts: T1_NS, seen: 2 }));
    l.message(b"2024-05-01T12:00:00Z older\n");
    l.message(format!("{T1} a\n{T1} b\n{T1} c\n").as_bytes());
    l.message(b"2024-05-01T12:00:02Z d\n");
    let got: Vec<String> = taken(&mut l).into_iter().map(|(_, line)| line).collect();
    assert_eq!(got, ["c", "d"]);
}
