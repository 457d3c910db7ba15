//! TFRecord framing, without TensorFlow.
//!
//! A TFRecord file is a sequence of records, each framed as
//!
//! | bytes | content |
//! |---|---|
//! | 8 | payload length `n`, little-endian `u64` |
//! | 4 | masked CRC-32C of those 8 bytes, little-endian `u32` |
//! | `n` | payload |
//! | 4 | masked CRC-32C of the payload, little-endian `u32` |
//!
//! where the mask of a CRC `c` is `((c >> 15) | (c << 17)) + 0xa282ead8` (wrapping), as
//! TensorFlow's `crc32c::Mask` defines it. [`Records`] checks both CRCs of every record; a bad
//! CRC or a truncated record is a [`TfRecordError`] naming the record's index and byte offset.

use std::fmt;
use std::io::{self, Write};

/// Bytes of framing before the payload (length and its CRC).
pub const HEADER_LEN: usize = 12;
/// Bytes of framing after the payload (its CRC).
pub const FOOTER_LEN: usize = 4;

const MASK_DELTA: u32 = 0xa282_ead8;

/// The masked CRC-32C TFRecord stores for `bytes`.
pub fn masked_crc(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    crc.rotate_right(15).wrapping_add(MASK_DELTA)
}

/// What is wrong with a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TfRecordErrorKind {
    /// The file ends inside the record.
    Truncated {
        /// Bytes the record needs from its offset on.
        needed: u64,
        /// Bytes left in the file from its offset on.
        available: u64,
    },
    /// The CRC of the length field does not match.
    LengthCrc {
        /// The CRC stored in the file.
        stored: u32,
        /// The CRC of the length bytes.
        computed: u32,
    },
    /// The CRC of the payload does not match.
    PayloadCrc {
        /// The CRC stored in the file.
        stored: u32,
        /// The CRC of the payload bytes.
        computed: u32,
    },
}

/// A framing error: which record, where, and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TfRecordError {
    /// 0-based index of the record.
    pub index: u64,
    /// Byte offset of the record's first byte (its length field).
    pub offset: u64,
    /// What is wrong.
    pub kind: TfRecordErrorKind,
}

impl fmt::Display for TfRecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "record {} at byte offset {}: ", self.index, self.offset)?;
        match &self.kind {
            TfRecordErrorKind::Truncated { needed, available } => write!(
                f,
                "truncated: the record needs {needed} bytes but the file has {available} left \
                 (incomplete download?)"
            ),
            TfRecordErrorKind::LengthCrc { stored, computed } => write!(
                f,
                "bad CRC of the length field (stored {stored:#010x}, computed {computed:#010x}): \
                 the file is corrupt"
            ),
            TfRecordErrorKind::PayloadCrc { stored, computed } => write!(
                f,
                "bad CRC of the payload (stored {stored:#010x}, computed {computed:#010x}): the \
                 file is corrupt"
            ),
        }
    }
}

impl std::error::Error for TfRecordError {}

/// One record of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// 0-based index.
    pub index: u64,
    /// Byte offset of the record's length field.
    pub offset: u64,
    /// The payload.
    pub payload: &'a [u8],
}

/// The frame of one record: where its payload is and the payload CRC stored for it, checked
/// for the length CRC and truncation but not yet for the payload CRC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    /// 0-based index.
    pub index: u64,
    /// Byte offset of the record's length field.
    pub offset: u64,
    /// Payload length.
    pub len: u64,
    /// The stored (masked) payload CRC.
    pub payload_crc: u32,
}

impl Frame {
    /// The payload within the file's bytes.
    pub fn payload<'a>(&self, data: &'a [u8]) -> &'a [u8] {
        let start = (self.offset as usize) + HEADER_LEN;
        &data[start..start + self.len as usize]
    }

    /// Checks the payload CRC and returns the record.
    pub fn check<'a>(&self, data: &'a [u8]) -> Result<Record<'a>, TfRecordError> {
        let payload = self.payload(data);
        let computed = masked_crc(payload);
        if computed != self.payload_crc {
            return Err(TfRecordError {
                index: self.index,
                offset: self.offset,
                kind: TfRecordErrorKind::PayloadCrc {
                    stored: self.payload_crc,
                    computed,
                },
            });
        }
        Ok(Record {
            index: self.index,
            offset: self.offset,
            payload,
        })
    }
}

/// Walks the frames of a file held in memory, checking lengths and length CRCs (cheap) but not
/// payload CRCs, so that payloads can then be checked and parsed in parallel.
#[derive(Clone, Debug)]
pub struct Frames<'a> {
    data: &'a [u8],
    offset: usize,
    index: u64,
    failed: bool,
}

impl<'a> Frames<'a> {
    /// The frames of `data`, a whole TFRecord file.
    pub fn new(data: &'a [u8]) -> Self {
        Frames {
            data,
            offset: 0,
            index: 0,
            failed: false,
        }
    }

    /// Byte offset of the next record.
    pub fn offset(&self) -> u64 {
        self.offset as u64
    }

    fn error(&mut self, kind: TfRecordErrorKind) -> Option<Result<Frame, TfRecordError>> {
        self.failed = true;
        Some(Err(TfRecordError {
            index: self.index,
            offset: self.offset as u64,
            kind,
        }))
    }
}

impl Iterator for Frames<'_> {
    type Item = Result<Frame, TfRecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.offset == self.data.len() {
            return None;
        }
        let rest = &self.data[self.offset..];
        let available = rest.len() as u64;
        if rest.len() < HEADER_LEN {
            return self.error(TfRecordErrorKind::Truncated {
                needed: HEADER_LEN as u64,
                available,
            });
        }
        let len_bytes: [u8; 8] = rest[..8].try_into().expect("8 bytes");
        let stored = u32::from_le_bytes(rest[8..12].try_into().expect("4 bytes"));
        let computed = masked_crc(&len_bytes);
        if stored != computed {
            return self.error(TfRecordErrorKind::LengthCrc { stored, computed });
        }
        let len = u64::from_le_bytes(len_bytes);
        let needed = len.saturating_add((HEADER_LEN + FOOTER_LEN) as u64);
        if needed > available {
            return self.error(TfRecordErrorKind::Truncated { needed, available });
        }
        let end = HEADER_LEN + len as usize;
        let payload_crc = u32::from_le_bytes(rest[end..end + 4].try_into().expect("4 bytes"));
        let frame = Frame {
            index: self.index,
            offset: self.offset as u64,
            len,
            payload_crc,
        };
        self.offset += needed as usize;
        self.index += 1;
        Some(Ok(frame))
    }
}

/// Iterates the records of a file held in memory, checking both CRCs of each. Iteration stops
/// after the first error.
#[derive(Clone, Debug)]
pub struct Records<'a> {
    frames: Frames<'a>,
}

impl<'a> Records<'a> {
    /// The records of `data`, a whole TFRecord file.
    pub fn new(data: &'a [u8]) -> Self {
        Records {
            frames: Frames::new(data),
        }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, TfRecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        let data = self.frames.data;
        match self.frames.next()? {
            Ok(frame) => {
                let checked = frame.check(data);
                if checked.is_err() {
                    self.frames.failed = true;
                }
                Some(checked)
            }
            Err(e) => Some(Err(e)),
        }
    }
}

/// Writes records in TFRecord framing.
#[derive(Debug)]
pub struct Writer<W: Write> {
    inner: W,
    records: u64,
    bytes: u64,
}

impl<W: Write> Writer<W> {
    /// A writer appending to `inner` (wrap files in a `BufWriter`).
    pub fn new(inner: W) -> Self {
        Writer {
            inner,
            records: 0,
            bytes: 0,
        }
    }

    /// Appends one record.
    pub fn write(&mut self, payload: &[u8]) -> io::Result<()> {
        let len = (payload.len() as u64).to_le_bytes();
        self.inner.write_all(&len)?;
        self.inner.write_all(&masked_crc(&len).to_le_bytes())?;
        self.inner.write_all(payload)?;
        self.inner.write_all(&masked_crc(payload).to_le_bytes())?;
        self.records += 1;
        self.bytes += (HEADER_LEN + payload.len() + FOOTER_LEN) as u64;
        Ok(())
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.inner.flush()?;
        Ok(self.inner)
    }
}

/// Appends one framed record to a buffer (for building files in memory or in parallel).
pub fn frame_into(out: &mut Vec<u8>, payload: &[u8]) {
    let len = (payload.len() as u64).to_le_bytes();
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&masked_crc(payload).to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(payloads: &[&[u8]]) -> Vec<u8> {
        let mut w = Writer::new(Vec::new());
        for p in payloads {
            w.write(p).unwrap();
        }
        assert_eq!(w.records(), payloads.len() as u64);
        let bytes = w.bytes();
        let out = w.finish().unwrap();
        assert_eq!(out.len() as u64, bytes);
        out
    }

    #[test]
    fn crc32c_and_mask_known_values() {
        // CRC-32C check value (RFC 3720 / iSCSI): "123456789" -> 0xe3069283.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
        // ((0xe3069283 >> 15) | (0xe3069283 << 17)) + 0xa282ead8, modulo 2^32.
        assert_eq!(masked_crc(b"123456789"), 0xc78a_b0e5);
        // An empty record as TensorFlow writes it: zero length, then the masked CRCs.
        let empty = file(&[b""]);
        assert_eq!(empty.len(), 16);
        assert_eq!(&empty[..8], &[0; 8]);
    }

    #[test]
    fn round_trip() {
        let payloads: [&[u8]; 3] = [b"first", b"", b"third record"];
        let data = file(&payloads);
        let records: Vec<Record> = Records::new(&data).map(Result::unwrap).collect();
        assert_eq!(records.len(), 3);
        for (i, (r, p)) in records.iter().zip(payloads).enumerate() {
            assert_eq!(r.index, i as u64);
            assert_eq!(r.payload, p);
        }
        assert_eq!(records[1].offset, (16 + 5) as u64);
        let mut framed = Vec::new();
        for p in payloads {
            frame_into(&mut framed, p);
        }
        assert_eq!(framed, data);
    }

    #[test]
    fn every_corrupted_byte_is_detected() {
        let data = file(&[b"alpha", b"beta", b"gamma"]);
        for i in 0..data.len() {
            let mut bad = data.clone();
            bad[i] ^= 0x20;
            let result: Result<Vec<Record>, TfRecordError> = Records::new(&bad).collect();
            let err = result.expect_err(&format!("flipping byte {i} goes unnoticed"));
            // The error names the record holding the byte.
            assert!(err.offset <= i as u64, "byte {i}: {err}");
            let text = err.to_string();
            assert!(
                text.starts_with(&format!(
                    "record {} at byte offset {}",
                    err.index, err.offset
                )),
                "{text}"
            );
        }
    }

    #[test]
    fn truncation_is_detected() {
        let data = file(&[b"alpha", b"beta"]);
        for cut in 1..data.len() {
            if cut == 21 {
                continue; // a whole first record
            }
            let result: Result<Vec<Record>, TfRecordError> = Records::new(&data[..cut]).collect();
            let err = result.expect_err(&format!("cut at {cut} goes unnoticed"));
            assert!(
                matches!(err.kind, TfRecordErrorKind::Truncated { .. }),
                "cut at {cut}: {err}"
            );
            assert_eq!(err.index, if cut < 21 { 0 } else { 1 });
            assert!(err.to_string().contains("truncated"));
        }
        assert_eq!(Records::new(&data[..21]).count(), 1);
        assert_eq!(Records::new(&[]).count(), 0);
    }

    #[test]
    fn iteration_stops_after_an_error() {
        let mut data = file(&[b"alpha", b"beta", b"gamma"]);
        data[12] ^= 1; // first payload
        let items: Vec<_> = Records::new(&data).collect();
        assert_eq!(items.len(), 1);
        let err = items[0].clone().unwrap_err();
        assert_eq!((err.index, err.offset), (0, 0));
        assert!(matches!(err.kind, TfRecordErrorKind::PayloadCrc { .. }));
    }
}
