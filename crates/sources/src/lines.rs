//! Bounded line splitting for byte streams (X's `\r\n` framing, Mastodon SSE).

/// One piece of a byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// A line without its `\n` and without a trailing `\r` (empty for heartbeats).
    Line(Vec<u8>),
    /// A line longer than the limit: only its length is kept, never its bytes.
    Oversized(usize),
}

/// Splits a byte stream into lines, keeping at most `max` bytes of any line in memory.
/// Bytes of a line that ended with the connection are dropped with the splitter.
#[derive(Debug)]
pub(crate) struct LineSplitter {
    buf: Vec<u8>,
    max: usize,
    /// Length so far of an over-long line being skipped.
    skipping: Option<usize>,
}

impl LineSplitter {
    /// A splitter for lines of at most `max` bytes.
    pub(crate) fn new(max: usize) -> LineSplitter {
        LineSplitter {
            buf: Vec::new(),
            max,
            skipping: None,
        }
    }

    /// Feeds bytes and appends every completed line to `out`.
    pub(crate) fn push(&mut self, mut data: &[u8], out: &mut Vec<Piece>) {
        while !data.is_empty() {
            let nl = memchr_nl(data);
            let (chunk, rest, complete) = match nl {
                Some(i) => (&data[..i], &data[i + 1..], true),
                None => (data, &data[data.len()..], false),
            };
            data = rest;
            if let Some(n) = self.skipping.as_mut() {
                *n += chunk.len() + usize::from(complete);
                if complete {
                    out.push(Piece::Oversized(*n - 1));
                    self.skipping = None;
                }
                continue;
            }
            if self.buf.len() + chunk.len() > self.max + 1 {
                // +1 tolerates the `\r` of a line of exactly `max` bytes.
                let n = self.buf.len() + chunk.len() + usize::from(complete);
                self.buf.clear();
                self.buf.shrink_to(64 * 1024);
                if complete {
                    out.push(Piece::Oversized(n - 1));
                } else {
                    self.skipping = Some(n);
                }
                continue;
            }
            self.buf.extend_from_slice(chunk);
            if complete {
                let mut line = std::mem::take(&mut self.buf);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if line.len() > self.max {
                    out.push(Piece::Oversized(line.len()));
                } else {
                    out.push(Piece::Line(line));
                }
            }
        }
    }
}

fn memchr_nl(data: &[u8]) -> Option<usize> {
    data.iter().position(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(max: usize, chunks: &[&[u8]]) -> Vec<Piece> {
        let mut s = LineSplitter::new(max);
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, &mut out);
        }
        out
    }

    fn line(s: &str) -> Piece {
        Piece::Line(s.as_bytes().to_vec())
    }

    #[test]
    fn crlf_lines_and_heartbeats_across_chunks() {
        let got = split(
            100,
            &[b"{\"a\"", b":1}\r", b"\n\r\n{\"b\":2}\r\n", b"partial"],
        );
        assert_eq!(got, [line("{\"a\":1}"), line(""), line("{\"b\":2}")]);
    }

    #[test]
    fn byte_by_byte_is_the_same_as_whole() {
        let text = b"one\r\ntwo\r\n\r\nthree\n";
        let bytes: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(split(100, &bytes), split(100, &[text]));
    }

    #[test]
    fn oversized_lines_are_skipped_and_counted_and_the_next_line_survives() {
        let big = vec![b'x'; 50];
        let got = split(10, &[&big[..20], &big[20..], b"\r\nok\r\n", &big, b"\n"]);
        assert_eq!(
            got,
            [Piece::Oversized(51), line("ok"), Piece::Oversized(50)]
        );
        assert_eq!(split(3, &[b"abc\r\n"]), [line("abc")]);
    }
}
