//! Which stream a piece of an exec's input or output belongs to, as one byte before the bytes
//! themselves: Kubernetes' exec channel numbering. The interactive exec WebSocket frames output
//! as `[channel][bytes]`, and the agent protocol as `[request id][channel][bytes]`, so output
//! crosses from an agent to the caller as the raw bytes it was, tagged the same way.

use nubes_core::LogStreamKind;

pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;

/// The largest frame a client may send on an exec or console WebSocket: the server refuses a
/// larger one before buffering it, and clients send bulk input in pieces of at most this.
pub const FRAME_MAX: usize = 64 << 10;

/// The channel of an output stream.
pub fn of(stream: LogStreamKind) -> u8 {
    match stream {
        LogStreamKind::Stdout => STDOUT,
        LogStreamKind::Stderr => STDERR,
    }
}

/// The output stream a channel names; `None` for stdin or an unknown channel.
pub fn output(channel: u8) -> Option<LogStreamKind> {
    match channel {
        STDOUT => Some(LogStreamKind::Stdout),
        STDERR => Some(LogStreamKind::Stderr),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_channels_round_trip() {
        for s in [LogStreamKind::Stdout, LogStreamKind::Stderr] {
            assert_eq!(output(of(s)), Some(s));
        }
        assert_eq!(output(STDIN), None);
        assert_eq!(output(9), None);
    }
}
