//! gzip for `/metrics` without compressing the exposition per scrape: the rendered part is
//! compressed once into a deflate stream that is flushed but not finished, and each scrape adds
//! only its small tail (the per-scrape block) as the stream's last, stored blocks, then the CRC
//! and length of the whole. The result is one ordinary gzip member, which every client reads;
//! clients such as curl stop after a first member, so two concatenated members would not do.

use bytes::Bytes;
use flate2::{Compress, Compression, FlushCompress};

/// RFC 1952: magic, deflate, no flags, no time, no extra flags, OS "unknown".
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

/// The cached start of a gzip member: header and the rendered body's deflate blocks.
#[derive(Debug)]
pub struct GzipPrefix {
    bytes: Bytes,
    crc: crc32fast::Hasher,
    length: u64,
}

impl GzipPrefix {
    pub fn new(body: &[u8]) -> Self {
        Self::of_parts(&[body])
    }

    /// The prefix of a body sent as these parts, one after the other.
    pub fn of_parts(parts: &[&[u8]]) -> Self {
        let mut bytes = HEADER.to_vec();
        let mut compress = Compress::new(Compression::fast(), false);
        let mut crc = crc32fast::Hasher::new();
        for part in parts {
            deflate_into(&mut compress, &mut bytes, part);
            crc.update(part);
        }
        // A sync flush ends on a byte boundary without marking the last block, so more
        // blocks can follow.
        sync_flush_into(&mut compress, &mut bytes);
        // Held until the next render: without this the room reserved while compressing (an
        // eighth of the body per step) stayed allocated beside it.
        bytes.shrink_to_fit();
        GzipPrefix {
            bytes: Bytes::from(bytes),
            crc,
            length: parts.iter().map(|p| p.len() as u64).sum(),
        }
    }

    /// What is sent first, the same for every scrape.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The rest of the member for a scrape whose uncompressed body ends in `tail`.
    pub fn finish(&self, tail: &[u8]) -> Bytes {
        let mut out = Vec::with_capacity(tail.len() + tail.len() / 8192 * 5 + 16);
        stored_blocks_into(&mut out, tail);
        let mut crc = self.crc.clone();
        crc.update(tail);
        out.extend_from_slice(&crc.finalize().to_le_bytes());
        // ISIZE is the length modulo 2^32 (RFC 1952).
        let length = (self.length + tail.len() as u64) as u32;
        out.extend_from_slice(&length.to_le_bytes());
        Bytes::from(out)
    }
}

/// The tail as stored (uncompressed) deflate blocks, the last one final. The tail is a few
/// hundred bytes; a compressor's set-up (its window and tables) would cost more per scrape than
/// the bytes it saves.
fn stored_blocks_into(out: &mut Vec<u8>, tail: &[u8]) {
    // RFC 1951 3.2.4: after the prefix's sync flush the stream is byte-aligned, so each block is
    // a header byte (BFINAL, BTYPE 00), LEN and its one's complement, then the bytes.
    let mut chunks = tail.chunks(u16::MAX as usize).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        let length = chunk.len() as u16;
        out.push(u8::from(last));
        out.extend_from_slice(&length.to_le_bytes());
        out.extend_from_slice(&(!length).to_le_bytes());
        out.extend_from_slice(chunk);
    }
}

/// Feeds `input` to the raw deflate stream in `out`.
fn deflate_into(compress: &mut Compress, out: &mut Vec<u8>, input: &[u8]) {
    let start = compress.total_in();
    // Compressing into memory fails only on a stream already finished, so errors end the loops.
    while ((compress.total_in() - start) as usize) < input.len() {
        out.reserve((input.len() / 8).max(4096));
        let consumed = (compress.total_in() - start) as usize;
        if compress
            .compress_vec(&input[consumed..], out, FlushCompress::None)
            .is_err()
        {
            return;
        }
    }
}

/// Ends the deflate stream in `out` with a sync flush: byte-aligned, no final block.
fn sync_flush_into(compress: &mut Compress, out: &mut Vec<u8>) {
    loop {
        out.reserve(4096);
        let flushed = compress.compress_vec(&[], out, FlushCompress::Sync);
        // The flush is complete when it leaves room in the buffer.
        if flushed.is_err() || out.len() < out.capacity() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::GzipPrefix;
    use std::io::Read;

    fn gunzip_one_member(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        // GzDecoder reads one member only: what curl does.
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn a_prefix_and_any_tail_make_one_gzip_member_of_the_whole() {
        let body: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("series{{n=\"{}\"}} {}\n", i % 977, i).into_bytes())
            .collect();
        let prefix = GzipPrefix::new(&body);
        assert!(
            prefix.bytes().len() * 3 < body.len(),
            "it compresses: {} of {}",
            prefix.bytes().len(),
            body.len()
        );
        for tail in [&b""[..], b"process_open_fds 9\n# EOF\n", &body[..70_000]] {
            let mut member = prefix.bytes().to_vec();
            member.extend_from_slice(&prefix.finish(tail));
            let mut whole = body.clone();
            whole.extend_from_slice(tail);
            assert_eq!(gunzip_one_member(&member), whole);
        }
    }

    #[test]
    fn a_body_in_parts_gzips_as_the_whole_would() {
        let body: Vec<u8> = (0..50_000u32)
            .flat_map(|i| format!("series{{n=\"{}\"}} {}\n", i % 331, i).into_bytes())
            .collect();
        let (a, rest) = body.split_at(1_000);
        let (b, c) = rest.split_at(120_000);
        let prefix = GzipPrefix::of_parts(&[a, b, &[], c]);
        let mut member = prefix.bytes().to_vec();
        member.extend_from_slice(&prefix.finish(b"# EOF\n"));
        let mut whole = body.clone();
        whole.extend_from_slice(b"# EOF\n");
        assert_eq!(gunzip_one_member(&member), whole);
    }
}
