//! How one usage event is laid out in a journal segment: a length, a checksum of the payload,
//! then the payload. Pure, so torn and corrupt records are tested without files.

use crc::{Crc, Table, CRC_32_ISCSI};

use crate::meter::{Transition, UsageEvent};
use nubes_core::Resources;

const CASTAGNOLI: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISCSI);
const VERSION: u8 = 1;
/// Length and checksum.
pub(crate) const HEADER: usize = 8;
/// Version, transition, key length, then seq, at, millicpus and memory.
const FIXED: usize = 1 + 1 + 2 + 8 * 4;
/// Instance keys are backend names, far shorter than this.
pub const MAX_KEY: usize = 1024;

/// One instance's usage event, as journaled: keyed by the instance and its number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub instance: String,
    pub event: UsageEvent,
}

fn transition_code(t: Transition) -> u8 {
    match t {
        Transition::Created => 1,
        Transition::Started => 2,
        Transition::Stopped => 3,
        Transition::Resized => 4,
        Transition::Deleted => 5,
    }
}

fn transition_of(code: u8) -> Option<Transition> {
    Some(match code {
        1 => Transition::Created,
        2 => Transition::Started,
        3 => Transition::Stopped,
        4 => Transition::Resized,
        5 => Transition::Deleted,
        _ => return None,
    })
}

/// Appends the record's bytes to `out`; the key must be at most [`MAX_KEY`] bytes.
pub(crate) fn encode(instance: &str, event: &UsageEvent, out: &mut Vec<u8>) {
    debug_assert!(instance.len() <= MAX_KEY);
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    out.push(VERSION);
    out.push(transition_code(event.transition));
    out.extend_from_slice(&(instance.len() as u16).to_le_bytes());
    out.extend_from_slice(instance.as_bytes());
    out.extend_from_slice(&event.seq.to_le_bytes());
    out.extend_from_slice(&event.at.to_le_bytes());
    out.extend_from_slice(&event.size.millicpus.to_le_bytes());
    out.extend_from_slice(&event.size.memory.to_le_bytes());
    let payload = &out[start + HEADER..];
    let len = payload.len() as u32;
    let sum = CASTAGNOLI.checksum(payload);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&sum.to_le_bytes());
}

/// What reading at the start of `bytes` found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decoded {
    /// A whole record, and how many bytes it took.
    Record(Record, usize),
    /// The bytes end inside a record: a write that did not finish.
    Torn,
    /// A whole record whose checksum or layout is wrong.
    Corrupt,
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("eight bytes"))
}

pub(crate) fn decode(bytes: &[u8]) -> Decoded {
    if bytes.len() < HEADER {
        return Decoded::Torn;
    }
    let len = u32::from_le_bytes(bytes[0..4].try_into().expect("four bytes")) as usize;
    let sum = u32::from_le_bytes(bytes[4..8].try_into().expect("four bytes"));
    if !(FIXED..=FIXED + MAX_KEY).contains(&len) {
        return Decoded::Corrupt;
    }
    let Some(payload) = bytes.get(HEADER..HEADER + len) else {
        return Decoded::Torn;
    };
    if CASTAGNOLI.checksum(payload) != sum || payload[0] != VERSION {
        return Decoded::Corrupt;
    }
    let Some(transition) = transition_of(payload[1]) else {
        return Decoded::Corrupt;
    };
    let key = u16::from_le_bytes([payload[2], payload[3]]) as usize;
    if FIXED + key != len {
        return Decoded::Corrupt;
    }
    let Ok(instance) = std::str::from_utf8(&payload[4..4 + key]) else {
        return Decoded::Corrupt;
    };
    let rest = 4 + key;
    let event = UsageEvent {
        seq: u64_at(payload, rest),
        transition,
        at: u64_at(payload, rest + 8) as i64,
        size: Resources::new(u64_at(payload, rest + 16), u64_at(payload, rest + 24), 0, 0),
    };
    Decoded::Record(
        Record {
            instance: instance.to_string(),
            event,
        },
        HEADER + len,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64) -> UsageEvent {
        UsageEvent {
            seq,
            transition: Transition::Resized,
            at: -5,
            size: Resources::new(1500, 1 << 33, 0, 0),
        }
    }

    #[test]
    fn records_read_back_as_written() {
        let mut out = Vec::new();
        encode("nubes-abc", &event(7), &mut out);
        encode("", &event(u64::MAX), &mut out);
        let Decoded::Record(first, n) = decode(&out) else {
            panic!("not a record")
        };
        assert_eq!(first.instance, "nubes-abc");
        assert_eq!(first.event, event(7));
        let Decoded::Record(second, m) = decode(&out[n..]) else {
            panic!("not a record")
        };
        assert_eq!(
            (second.instance.as_str(), second.event),
            ("", event(u64::MAX))
        );
        assert_eq!(n + m, out.len());
    }

    #[test]
    fn a_cut_record_is_torn_and_a_changed_one_corrupt() {
        let mut out = Vec::new();
        encode("nubes-abc", &event(1), &mut out);
        for cut in 0..out.len() {
            assert_eq!(decode(&out[..cut]), Decoded::Torn, "cut at {cut}");
        }
        for flip in HEADER..out.len() {
            let mut bad = out.clone();
            bad[flip] ^= 0x40;
            assert_eq!(decode(&bad), Decoded::Corrupt, "flipped byte {flip}");
        }
        let mut huge = out.clone();
        huge[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode(&huge), Decoded::Corrupt);
    }
}
