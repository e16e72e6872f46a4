use super::*;

fn entry(instance: &str, seq: Option<u64>, at: i64) -> Entry {
    Entry {
        instance: instance.into(),
        seq,
        transition: Transition::Started,
        at,
        size: Resources::new(1000, 1 << 30, 0, 0),
    }
}

fn small() -> Options {
    Options {
        segment_bytes: 300,
        ..Options::default()
    }
}

fn all(journal: &Journal, from: Cursor) -> Vec<(String, u64, i64)> {
    let (records, _) = journal.read(from, usize::MAX).unwrap();
    records
        .into_iter()
        .map(|(r, _)| (r.instance, r.event.seq, r.event.at))
        .collect()
}

#[tokio::test]
async fn numbers_dedupes_and_refuses_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), Options::default()).unwrap();
    let got = journal
        .append(vec![
            entry("a", None, 10),
            entry("a", None, 11),
            entry("b", Some(1), 12),
            entry("a", Some(2), 13),
        ])
        .await
        .unwrap();
    let seqs: Vec<_> = got.iter().map(Appended::seq).collect();
    assert_eq!(seqs, [1, 2, 1, 2]);
    assert!(matches!(got[3], Appended::Duplicate { seq: 2 }));
    // A gap refuses the whole request: nothing of it is written.
    let gap = journal
        .append(vec![entry("c", None, 14), entry("a", Some(4), 15)])
        .await
        .unwrap_err();
    assert_eq!(gap.kind(), nubes_core::ErrorKind::InvalidInput, "{gap}");
    let long = journal
        .append(vec![entry(&"x".repeat(MAX_KEY + 1), None, 1)])
        .await
        .unwrap_err();
    assert_eq!(long.kind(), nubes_core::ErrorKind::InvalidInput);
    assert_eq!(
        all(&journal, Cursor::default()),
        [
            ("a".into(), 1, 10),
            ("a".into(), 2, 11),
            ("b".into(), 1, 12)
        ]
    );
    let Appended::Recorded { end, .. } = got[2] else {
        panic!("b 1 was recorded")
    };
    assert_eq!(
        end,
        *journal.durable().borrow(),
        "the last record ends where the journal does"
    );
}

#[tokio::test]
async fn concurrent_appends_each_get_their_own_number() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), small()).unwrap();
    let mut tasks = Vec::new();
    for t in 0..16 {
        let journal = journal.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..25 {
                let got = journal
                    .append(vec![entry(&format!("i{}", t % 4), None, i)])
                    .await
                    .unwrap();
                seqs.push(got[0].seq());
            }
            seqs
        }));
    }
    let mut by_instance: HashMap<u64, Vec<u64>> = HashMap::new();
    for (t, task) in tasks.into_iter().enumerate() {
        by_instance
            .entry(t as u64 % 4)
            .or_default()
            .extend(task.await.unwrap());
    }
    for seqs in by_instance.values_mut() {
        seqs.sort_unstable();
        assert_eq!(*seqs, (1..=100).collect::<Vec<_>>());
    }
    // Spread over many small segments, all read back in order.
    assert!(segments(dir.path()).unwrap().len() > 10);
    let read = all(&journal, Cursor::default());
    assert_eq!(read.len(), 400);
    for i in 0..4 {
        let seqs: Vec<u64> = read
            .iter()
            .filter(|(k, _, _)| *k == format!("i{i}"))
            .map(|(_, s, _)| *s)
            .collect();
        assert_eq!(seqs, (1..=100).collect::<Vec<_>>());
    }
}

#[tokio::test]
async fn reads_in_pieces_and_releases_segments() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), small()).unwrap();
    for i in 0..40 {
        journal.append(vec![entry("a", None, i)]).await.unwrap();
    }
    let mut at = journal.released();
    let mut seen = Vec::new();
    let mut resumed = None;
    loop {
        let (records, next) = journal.read(at, 7).unwrap();
        if records.is_empty() {
            break;
        }
        assert!(records.len() <= 7);
        assert_eq!(records.last().unwrap().1, next);
        seen.extend(records.iter().map(|(r, _)| r.event.seq));
        if seen.len() >= 20 && resumed.is_none() {
            journal.release(next).unwrap();
            resumed = Some((next, seen.len() as u64));
        }
        at = next;
    }
    assert_eq!(seen, (1..=40).collect::<Vec<_>>());
    // Half applied: the segments before it are gone, and a reopened journal resumes there.
    let (resumed, applied) = resumed.unwrap();
    let first = segments(dir.path()).unwrap()[0];
    assert_eq!(first, resumed.segment, "the segments before it are gone");
    assert!(first > 0);
    drop(journal);
    let journal = Journal::open(dir.path(), small()).unwrap();
    assert_eq!(journal.released(), resumed);
    let rest: Vec<u64> = all(&journal, resumed).iter().map(|r| r.1).collect();
    assert_eq!(rest, (applied + 1..=40).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_reopened_journal_keeps_its_numbers_and_cuts_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), Options::default()).unwrap();
    journal
        .append(vec![entry("a", None, 1), entry("a", None, 2)])
        .await
        .unwrap();
    drop(journal);
    // A crash in the middle of the next write leaves half a record.
    let path = segment_path(dir.path(), 0);
    let whole = fs::read(&path).unwrap();
    let mut half = Vec::new();
    record::encode(
        "a",
        &UsageEvent {
            seq: 3,
            transition: Transition::Stopped,
            at: 3,
            size: Resources::default(),
        },
        &mut half,
    );
    let mut torn = whole.clone();
    torn.extend_from_slice(&half[..half.len() / 2]);
    fs::write(&path, &torn).unwrap();

    let journal = Journal::open(dir.path(), Options::default()).unwrap();
    assert_eq!(fs::read(&path).unwrap(), whole, "the torn tail is cut");
    let again = journal
        .append(vec![entry("a", Some(2), 9), entry("a", None, 3)])
        .await
        .unwrap();
    assert!(matches!(again[0], Appended::Duplicate { seq: 2 }));
    assert_eq!(again[1].seq(), 3);
    assert_eq!(
        all(&journal, Cursor::default()),
        [("a".into(), 1, 1), ("a".into(), 2, 2), ("a".into(), 3, 3)]
    );
    // Numbers a database holds for released events count too.
    journal.seed(vec![("b".into(), 41)]).unwrap();
    let b = journal.append(vec![entry("b", None, 4)]).await.unwrap();
    assert_eq!(b[0].seq(), 42);
}

#[tokio::test]
async fn damage_before_the_last_segment_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), small()).unwrap();
    for i in 0..20 {
        journal.append(vec![entry("a", None, i)]).await.unwrap();
    }
    drop(journal);
    let path = segment_path(dir.path(), 0);
    let mut bytes = fs::read(&path).unwrap();
    bytes[20] ^= 1;
    fs::write(&path, &bytes).unwrap();
    let e = Journal::open(dir.path(), small()).unwrap_err();
    assert!(e.message().contains("damaged"), "{e}");
}
