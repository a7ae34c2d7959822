//! The queue on disk: order, resuming at the committed position after a
//! reopen, deletion of sent segments, the size limit, torn tails.

use super::*;
use crate::remote::proto::{Label, Sample, TimeSeries};

fn request(t: i64) -> WriteRequest {
    WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![Label {
                name: "__name__".into(),
                value: "up".into(),
            }],
            samples: vec![Sample {
                value: t as f64,
                timestamp: t,
            }],
            exemplars: Vec::new(),
        }],
        metadata: Vec::new(),
    }
}

fn times(records: &[Record]) -> Vec<i64> {
    records
        .iter()
        .map(|r| r.request.timeseries[0].samples[0].timestamp)
        .collect()
}

fn segments(dir: &Path) -> usize {
    fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_str().unwrap().parse::<u64>().is_ok()
        })
        .count()
}

#[test]
fn records_come_back_in_order_and_a_reopen_resumes_at_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path(), 100, u64::MAX).unwrap();
    for t in 1..=10 {
        queue.append(&request(t), 1).unwrap();
    }
    assert_eq!(queue.pending(), 10);
    let mut reader = QueueReader::new(queue.committed());
    let first = reader.read(&queue, 4).unwrap();
    assert_eq!(times(&first), vec![1, 2, 3, 4]);
    queue.commit(first[3].end, 4).unwrap();
    assert_eq!(queue.pending(), 6);
    // read further without committing: a crash now resends these
    assert_eq!(times(&reader.read(&queue, 3).unwrap()), vec![5, 6, 7]);
    drop(queue);

    let queue = Queue::open(dir.path(), 100, u64::MAX).unwrap();
    assert_eq!(queue.pending(), 6);
    let mut reader = QueueReader::new(queue.committed());
    let rest = reader.read(&queue, 100).unwrap();
    assert_eq!(times(&rest), vec![5, 6, 7, 8, 9, 10]);
    queue.append(&request(11), 1).unwrap();
    assert_eq!(times(&reader.read(&queue, 100).unwrap()), vec![11]);
    let before = segments(dir.path());
    queue.commit(reader.cursor(), 7).unwrap();
    assert_eq!(queue.pending(), 0);
    assert!(segments(dir.path()) < before, "sent segments are deleted");
    assert!(reader.read(&queue, 100).unwrap().is_empty());
}

#[test]
fn over_the_size_limit_the_oldest_segments_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path(), 60, 200).unwrap();
    for t in 1..=40 {
        queue.append(&request(t), 1).unwrap();
    }
    assert!(queue.dropped() > 0);
    assert_eq!(queue.pending() + queue.dropped(), 40);
    let mut reader = QueueReader::new(queue.committed());
    let got = times(&reader.read(&queue, 1000).unwrap());
    assert_eq!(got.len() as u64, queue.pending());
    assert_eq!(got.last(), Some(&40));
    assert!(got.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn a_torn_tail_of_an_older_segment_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    {
        let queue = Queue::open(dir.path(), u64::MAX, u64::MAX).unwrap();
        queue.append(&request(1), 1).unwrap();
        queue.append(&request(2), 1).unwrap();
    }
    // a crash in the middle of a third record
    let path = segment_path(dir.path(), 1);
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&[40, 0, 0, 0, 1, 2]).unwrap();
    drop(f);
    let queue = Queue::open(dir.path(), u64::MAX, u64::MAX).unwrap();
    assert_eq!(queue.pending(), 2);
    queue.append(&request(3), 1).unwrap();
    let mut reader = QueueReader::new(queue.committed());
    assert_eq!(times(&reader.read(&queue, 100).unwrap()), vec![1, 2, 3]);
}

#[test]
fn a_corrupt_position_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    drop(Queue::open(dir.path(), 100, u64::MAX).unwrap());
    fs::write(dir.path().join(POSITION_FILE), b"garbage").unwrap();
    assert!(matches!(
        Queue::open(dir.path(), 100, u64::MAX),
        Err(Error::Corrupt { .. })
    ));
}
