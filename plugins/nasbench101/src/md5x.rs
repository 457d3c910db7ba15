//! MD5 of up to eight short messages at once, lane by lane (RFC 1321).
//!
//! The module hash digests every vertex of a cell once per refinement round; those digests are
//! independent, so they are computed side by side: each MD5 step is written over arrays of
//! eight lanes, which the compiler turns into SIMD instructions (with AVX2 when the CPU has
//! it, chosen at run time). Messages may differ in length; each lane stops updating after its
//! last block.

/// Lanes per batch.
pub const LANES: usize = 8;
/// Longest message a lane holds (enough for a vertex of an 8-vertex cell: 7 neighbours).
pub const MAX_MESSAGE: usize = 320 - 9;
const BUF: usize = 320;

/// The sine table of RFC 1321: `K[i] = floor(|sin(i + 1)| * 2^32)`.
const K: [u32; 64] = [
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
];

/// Left-rotation amounts of the four rounds.
const S: [[u32; 4]; 4] = [[7, 12, 17, 22], [5, 9, 14, 20], [4, 11, 16, 23], [6, 10, 15, 21]];

const INIT: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];

/// Up to [`LANES`] messages, written in place, then digested together.
pub struct Batch {
    buf: [[u8; BUF]; LANES],
    len: [usize; LANES],
    count: usize,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Batch {
            buf: [[0; BUF]; LANES],
            len: [0; LANES],
            count: 0,
        }
    }

    /// Number of messages.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Starts a new message; returns its lane.
    ///
    /// # Panics
    /// When the batch already holds [`LANES`] messages.
    pub fn start(&mut self) -> usize {
        assert!(self.count < LANES, "at most {LANES} messages a batch");
        self.len[self.count] = 0;
        self.count += 1;
        self.count - 1
    }

    /// Appends bytes to the message of `lane`.
    ///
    /// # Panics
    /// When the message would exceed [`MAX_MESSAGE`] bytes.
    #[inline]
    pub fn push(&mut self, lane: usize, bytes: &[u8]) {
        let at = self.len[lane];
        assert!(at + bytes.len() <= MAX_MESSAGE, "message too long");
        self.buf[lane][at..at + bytes.len()].copy_from_slice(bytes);
        self.len[lane] = at + bytes.len();
    }

    /// The MD5 digests of the messages (lanes past [`len`](Self::len) are meaningless), and
    /// empties the batch.
    pub fn digest(&mut self) -> [[u8; 16]; LANES] {
        let mut blocks = [0usize; LANES];
        for lane in 0..self.count {
            let len = self.len[lane];
            let padded = (len + 9).div_ceil(64) * 64;
            let buf = &mut self.buf[lane];
            buf[len] = 0x80;
            buf[len + 1..padded - 8].fill(0);
            buf[padded - 8..padded].copy_from_slice(&((len as u64) * 8).to_le_bytes());
            blocks[lane] = padded / 64;
        }
        let out = digest_lanes(&self.buf, &blocks, self.count);
        self.count = 0;
        out
    }
}

fn digest_lanes(buf: &[[u8; BUF]; LANES], blocks: &[usize; LANES], count: usize) -> [[u8; 16]; LANES] {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { digest_lanes_avx2(buf, blocks, count) };
        }
    }
    digest_lanes_portable(buf, blocks, count)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn digest_lanes_avx2(buf: &[[u8; BUF]; LANES], blocks: &[usize; LANES], count: usize) -> [[u8; 16]; LANES] {
    digest_lanes_portable(buf, blocks, count)
}

#[inline(always)]
fn digest_lanes_portable(buf: &[[u8; BUF]; LANES], blocks: &[usize; LANES], count: usize) -> [[u8; 16]; LANES] {
    let mut state = [[INIT[0]; LANES], [INIT[1]; LANES], [INIT[2]; LANES], [INIT[3]; LANES]];
    let most = blocks[..count].iter().copied().max().unwrap_or(0);
    for block in 0..most {
        // Message words, lane-minor.
        let mut m = [[0u32; LANES]; 16];
        for (lane, data) in buf.iter().enumerate() {
            let bytes = &data[block * 64..block * 64 + 64];
            for (w, word) in m.iter_mut().enumerate() {
                word[lane] = u32::from_le_bytes(bytes[4 * w..4 * w + 4].try_into().expect("4 bytes"));
            }
        }
        let [mut a, mut b, mut c, mut d] = state;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => (lanes(|l| (b[l] & c[l]) | (!b[l] & d[l])), i),
                1 => (lanes(|l| (d[l] & b[l]) | (!d[l] & c[l])), (5 * i + 1) % 16),
                2 => (lanes(|l| b[l] ^ c[l] ^ d[l]), (3 * i + 5) % 16),
                _ => (lanes(|l| c[l] ^ (b[l] | !d[l])), (7 * i) % 16),
            };
            let s = S[i / 16][i % 4];
            let k = K[i];
            let mg = &m[g];
            let rotated = lanes(|l| {
                a[l].wrapping_add(f[l])
                    .wrapping_add(k)
                    .wrapping_add(mg[l])
                    .rotate_left(s)
            });
            let new_b = lanes(|l| b[l].wrapping_add(rotated[l]));
            a = d;
            d = c;
            c = b;
            b = new_b;
        }
        for lane in 0..LANES {
            if block < blocks[lane] {
                state[0][lane] = state[0][lane].wrapping_add(a[lane]);
                state[1][lane] = state[1][lane].wrapping_add(b[lane]);
                state[2][lane] = state[2][lane].wrapping_add(c[lane]);
                state[3][lane] = state[3][lane].wrapping_add(d[lane]);
            }
        }
    }
    let mut out = [[0u8; 16]; LANES];
    for (lane, digest) in out.iter_mut().enumerate() {
        for w in 0..4 {
            digest[4 * w..4 * w + 4].copy_from_slice(&state[w][lane].to_le_bytes());
        }
    }
    out
}

#[inline(always)]
fn lanes(f: impl Fn(usize) -> u32) -> [u32; LANES] {
    std::array::from_fn(f)
}

#[cfg(test)]
mod tests {
    use md5::{Digest, Md5};
    use rand::{Rng, SeedableRng};

    use super::*;

    #[test]
    fn sine_table() {
        for (i, &k) in K.iter().enumerate() {
            let want = ((i as f64 + 1.0).sin().abs() * 4_294_967_296.0).floor() as u32;
            assert_eq!(k, want, "K[{i}]");
        }
    }

    #[test]
    fn matches_md5_on_messages_of_every_length() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut batch = Batch::new();
        for round in 0..200 {
            let count = 1 + round % LANES;
            let mut messages = Vec::new();
            for _ in 0..count {
                let len = rng.random_range(0..=MAX_MESSAGE);
                let msg: Vec<u8> = (0..len).map(|_| rng.random()).collect();
                let lane = batch.start();
                // In pieces, as the hash writes them.
                let cut = len / 3;
                batch.push(lane, &msg[..cut]);
                batch.push(lane, &msg[cut..]);
                messages.push(msg);
            }
            assert_eq!(batch.len(), count);
            let digests = batch.digest();
            for (lane, msg) in messages.iter().enumerate() {
                let want: [u8; 16] = Md5::digest(msg).into();
                assert_eq!(digests[lane], want, "length {}", msg.len());
            }
        }
        // Boundary lengths around the padding limits.
        for len in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 183, 184, 247, 248, MAX_MESSAGE] {
            let msg = vec![0xa5u8; len];
            let lane = batch.start();
            batch.push(lane, &msg);
            let want: [u8; 16] = Md5::digest(&msg).into();
            assert_eq!(batch.digest()[0], want, "length {len}");
        }
        // The portable path agrees with the dispatched one.
        let lane = batch.start();
        batch.push(lane, b"abc");
        let mut blocks = [0; LANES];
        blocks[0] = 1;
        let mut buf = [[0u8; BUF]; LANES];
        buf[0][..3].copy_from_slice(b"abc");
        buf[0][3] = 0x80;
        buf[0][56] = 24;
        let want: [u8; 16] = Md5::digest(b"abc").into();
        assert_eq!(digest_lanes_portable(&buf, &blocks, 1)[0], want);
        assert_eq!(batch.digest()[0], want);
    }
}
