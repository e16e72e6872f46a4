//! The small POSIX shell programs that wrap what runs in a container.
//!
//! A 1.20 API server speaks only `v4.channel.k8s.io` on its exec and attach WebSockets, and v4
//! cannot close stdin without closing the whole stream (v5, which can, came with 1.29). So stdin
//! travels framed: each piece as a decimal length line and then its bytes, a `0` line for the
//! end. A shell loop in the container reads the frames with `read` (a byte at a time) and
//! `dd bs=N count=1 iflag=fullblock` (which asks for exactly N bytes: busybox's `head -c`
//! reads ahead through stdio and would swallow the next frame), and pipes them to the command,
//! which sees a real end of file. The exec API has no environment or working directory either, so the wrapper sets them,
//! and marks every process it starts with `NUBES_EXEC` so an abandoned command can be found and
//! killed: closing an exec stream does not stop what it started.
//!
//! And Docker (the runtime behind a 1.20 kubelet) ends an exec whose stdin is attached only when
//! that stdin closes, which v4 cannot do. So the wrapper ends each of stdout and stderr with a
//! trailer, `\x1e` + the marker + ` ` + the exit code + `\n`: once both are read the command has
//! ended and its code is known, and the stream is dropped. The marker is random per command, so
//! the command cannot forge the end of its own output.

/// The program name the wrappers run under (`$0`); errors they print start with it.
pub const EXEC_NAME: &str = "nubes-exec";

/// Reads frames from stdin and writes their bytes to stdout, until the `0` frame or a broken one.
const DEFRAME: &str = "while IFS= read -r n; do case $n in ''|*[!0-9]*) break;; esac; \
                       [ \"$n\" -eq 0 ] && break; dd bs=\"$n\" count=1 iflag=fullblock 2>/dev/null; done";

/// Single-quotes `s` for a POSIX shell.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The largest frame: `dd` holds one frame in memory.
pub const FRAME_MAX: usize = 64 * 1024;

/// Stdin bytes as frames of at most [`FRAME_MAX`].
pub fn frame(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 16);
    for piece in bytes.chunks(FRAME_MAX) {
        out.extend_from_slice(format!("{}\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
    }
    out
}

/// The frame that ends stdin.
pub const END: &[u8] = b"0\n";

/// What the wrapper prints, exiting 127, when the command's program does not exist.
pub fn not_found_line(program: &str) -> String {
    format!("{EXEC_NAME}: {program}: not found\n")
}

/// Prints the trailer on both streams and exits with its code (a shell function, `$1` the code).
const TRAILER_FN: &str = "nubes_end() { printf '\\036%s %s\\n' \"$NUBES_EXEC\" \"$1\"; \
                          printf '\\036%s %s\\n' \"$NUBES_EXEC\" \"$1\" >&2; exit \"$1\"; }\n";

/// Checks the program exists, so a missing one is told apart from a command that fails.
const FIND: &str = "command -v \"$1\" >/dev/null 2>&1 || \
                    { printf 'nubes-exec: %s: not found\\n' \"$1\" >&2; nubes_end 127; }\n";

/// The argv that runs `command` with `env` in `workdir`, marked with `marker`; with `framed`,
/// its stdin comes framed.
pub fn exec(
    command: &[String],
    env: &std::collections::BTreeMap<String, String>,
    workdir: Option<&str>,
    marker: &str,
    framed: bool,
) -> Vec<String> {
    let mut script = format!("export NUBES_EXEC={}", quote(marker));
    for (k, v) in env {
        script.push(' ');
        script.push_str(&quote(&format!("{k}={v}")));
    }
    script.push('\n');
    script.push_str(TRAILER_FN);
    if let Some(dir) = workdir {
        script.push_str(&format!(
            "cd {} || {{ echo \"{EXEC_NAME}: no directory {}\" >&2; nubes_end 126; }}\n",
            quote(dir),
            dir.replace(['"', '\\', '$', '`'], "_")
        ));
    }
    script.push_str(FIND);
    if framed {
        script.push_str(&format!("{DEFRAME} | \"$@\"\n"));
    } else {
        script.push_str("\"$@\" </dev/null\n");
    }
    script.push_str("nubes_end $?\n");
    let mut argv = vec!["sh".into(), "-c".into(), script, EXEC_NAME.into()];
    argv.extend(command.iter().cloned());
    argv
}

/// The longest exit code a trailer carries, in bytes.
const CODE_MAX: usize = 24;

/// Finds the trailer at the end of one output stream, passing on everything before it.
#[derive(Debug)]
pub struct Trailer {
    pattern: Vec<u8>,
    pending: Vec<u8>,
    code: Option<i64>,
}

impl Trailer {
    pub fn new(marker: &str) -> Self {
        let mut pattern = vec![0x1e];
        pattern.extend_from_slice(marker.as_bytes());
        pattern.push(b' ');
        Self {
            pattern,
            pending: Vec::new(),
            code: None,
        }
    }

    /// The exit code, once the whole trailer has been read.
    pub fn code(&self) -> Option<i64> {
        self.code
    }

    /// Takes the next bytes of the stream and returns those that are output for sure: bytes
    /// that may be the start of the trailer are held back until it is clear they are not, and
    /// never more than the pattern and a short code, so memory stays bounded.
    pub fn feed(&mut self, data: &[u8]) -> Vec<u8> {
        if self.code.is_some() {
            return Vec::new();
        }
        self.pending.extend_from_slice(data);
        let mut out = Vec::new();
        loop {
            let Some(pos) = find(&self.pending, &self.pattern) else {
                let hold = (1..self.pattern.len())
                    .rev()
                    .find(|&k| self.pending.ends_with(&self.pattern[..k]))
                    .unwrap_or(0);
                out.extend(self.pending.drain(..self.pending.len() - hold));
                return out;
            };
            out.extend(self.pending.drain(..pos));
            let rest = &self.pending[self.pattern.len()..];
            match rest.iter().position(|&b| b == b'\n') {
                Some(nl) => {
                    let code = std::str::from_utf8(&rest[..nl])
                        .ok()
                        .and_then(|c| c.parse::<i64>().ok());
                    if let Some(code) = code {
                        self.code = Some(code);
                        self.pending.clear();
                        return out;
                    }
                }
                None if rest.len() <= CODE_MAX => return out,
                None => {}
            }
            // Not a trailer after all: its first byte is output, and the search goes on.
            out.push(self.pending.remove(0));
        }
    }

    /// The stream ended without a trailer: what was held back is output after all.
    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.pending)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The argv that kills every process `exec` started under `marker`.
pub fn kill(marker: &str) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        "for p in /proc/[0-9]*; do grep -q \"NUBES_EXEC=$1\" \"$p/environ\" 2>/dev/null \
         && kill -9 \"${p#/proc/}\" 2>/dev/null; done; exit 0"
            .into(),
        EXEC_NAME.into(),
        marker.into(),
    ]
}

/// The command of a function's Job: it waits for the `go MARKER` line (sent once the
/// invocation is attached, so no output is written before anyone reads it), then runs the
/// handler (`"$@"`) with the framed payload as its stdin, and ends both streams with the trailer.
pub fn function() -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        format!(
            "IFS=' ' read -r go NUBES_EXEC && [ \"$go\" = go ] || exit 125\nexport NUBES_EXEC\n\
             {TRAILER_FN}{FIND}{DEFRAME} | \"$@\"\nnubes_end $?\n"
        ),
        EXEC_NAME.into(),
    ]
}

/// The line that lets a function's handler start.
pub fn go(marker: &str) -> Vec<u8> {
    format!("go {marker}\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::process::{Command, Stdio};

    fn run(argv: &[String], stdin: &[u8]) -> (i32, Vec<u8>, Vec<u8>) {
        use std::io::Write;
        let mut child = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        let out = child.wait_with_output().unwrap();
        (out.status.code().unwrap(), out.stdout, out.stderr)
    }

    // The wrappers are shell programs: run them in this machine's `sh` as a container would.
    #[test]
    fn framed_stdin_reaches_the_command_whole_and_ends() {
        let mut input = Vec::new();
        let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        for piece in [&b"line one\n"[..], &binary[..], b"", b"no newline"] {
            if !piece.is_empty() {
                input.extend(frame(piece));
            }
        }
        input.extend_from_slice(END);
        input.extend_from_slice(b"after the end, never read");
        let argv = exec(&["cat".into()], &BTreeMap::new(), None, "m1", true);
        let (code, stdout, _) = run(&argv, &input);
        assert_eq!(code, 0);
        let stdout = strip(&stdout, "m1", 0);
        let mut want = b"line one\n".to_vec();
        want.extend(&binary);
        want.extend(b"no newline");
        assert_eq!(stdout, want);
    }

    #[test]
    fn env_workdir_exit_code_and_missing_programs() {
        let mut env = BTreeMap::new();
        env.insert("NUBES_X".to_string(), "it's \"quoted\" $HOME".to_string());
        let argv = exec(
            &[
                "sh".into(),
                "-c".into(),
                "echo \"$NUBES_X\"; pwd; echo e >&2; exit 4".into(),
            ],
            &env,
            Some("/tmp"),
            "m2",
            false,
        );
        let (code, stdout, stderr) = run(&argv, b"");
        assert_eq!(code, 4);
        let stdout = strip(&stdout, "m2", 4);
        assert_eq!(
            String::from_utf8(stdout).unwrap(),
            "it's \"quoted\" $HOME\n/tmp\n"
        );
        assert_eq!(strip(&stderr, "m2", 4), b"e\n");

        let argv = exec(
            &["nubes-no-such".into()],
            &BTreeMap::new(),
            None,
            "m3",
            false,
        );
        let (code, _, stderr) = run(&argv, b"");
        assert_eq!(code, 127);
        let stderr = strip(&stderr, "m3", 127);
        assert_eq!(
            String::from_utf8(stderr).unwrap(),
            not_found_line("nubes-no-such")
        );
    }

    #[test]
    fn function_waits_for_go_then_runs_the_handler_on_the_payload() {
        let mut input = go("m4");
        input.extend(frame(b"{\"a\":1}"));
        input.extend_from_slice(END);
        let mut argv = function();
        argv.extend(["tr".to_string(), "a".into(), "b".into()]);
        let (code, stdout, _) = run(&argv, &input);
        assert_eq!((code, strip(&stdout, "m4", 0)), (0, b"{\"b\":1}".to_vec()));
        let (code, _, _) = run(&argv, b"no\n");
        assert_eq!(code, 125);
    }

    /// Feeds `out` through a trailer scanner in small pieces, as the WebSocket might deliver it.
    fn strip(out: &[u8], marker: &str, code: i64) -> Vec<u8> {
        let mut t = Trailer::new(marker);
        let mut kept = Vec::new();
        for piece in out.chunks(3) {
            kept.extend(t.feed(piece));
        }
        assert_eq!(
            t.code(),
            Some(code),
            "no trailer in {:?}",
            String::from_utf8_lossy(out)
        );
        kept
    }

    #[test]
    fn the_trailer_is_found_across_pieces_and_never_passed_on() {
        let mut t = Trailer::new("abc");
        let mut out = t.feed(b"data \x1eab");
        out.extend(t.feed(b"x \x1eabc 4"));
        assert_eq!(t.code(), None);
        out.extend(t.feed(b"2\nignored"));
        assert_eq!(t.code(), Some(42));
        assert_eq!(out, b"data \x1eabx ");
        let mut t = Trailer::new("abc");
        let mut out = t.feed(b"tail \x1ea");
        out.extend(t.finish());
        assert_eq!(out, b"tail \x1ea");
        // A pattern followed by no code is output, and nothing is held back for long.
        let mut t = Trailer::new("abc");
        let mut out = t.feed(b"\x1eabc ");
        out.extend(t.feed(&[b'z'; 100_000]));
        assert_eq!(t.code(), None);
        assert_eq!(out.len() + t.pending.len(), 100_005);
        assert!(t.pending.len() <= 1, "held back {}", t.pending.len());
        out.extend(t.feed(b"\x1eabc x\n\x1eabc 5\n"));
        assert_eq!(t.code(), Some(5));
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("a'b"), r"'a'\''b'");
    }
}
