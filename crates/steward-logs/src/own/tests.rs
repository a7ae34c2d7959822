//! The queue of steward's own log lines.

use std::io::Write;

use super::*;

#[test]
fn each_writer_queues_one_line_and_the_receiver_is_taken_once() {
    {
        let mut w = OwnWriter::new();
        write!(w, "{{\"level\":\"INFO\",").unwrap();
        writeln!(w, "\"message\":\"hello\"}}").unwrap();
    }
    drop(OwnWriter::new());
    let lines = take_lines().expect("the first take");
    assert!(take_lines().is_none());
    let (ts, line) = lines.try_recv().expect("a line");
    assert!(ts > 0);
    assert_eq!(line, "{\"level\":\"INFO\",\"message\":\"hello\"}");
    assert!(lines.try_recv().is_err(), "an empty event queues nothing");
}
