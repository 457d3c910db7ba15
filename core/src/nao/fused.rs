//! A hand-written, single-threaded f32 CPU engine for the NAO network of `model.rs`.
//!
//! Burn dispatches every tensor operation separately, and for the controller's tiny tensors
//! (hidden size 16, sequences of 27 tokens) that overhead dominates a training step. This
//! engine computes exactly the same network, its gradients (by hand-written backward passes),
//! global gradient-norm clipping and Adam with L2 weight decay in plain loops.
//!
//! # Layout
//!
//! Sequences are processed [`L`] at a time, one per SIMD lane: every activation is a
//! `[f32; L]` holding the same quantity of `L` sequences, so each lane computes exactly the
//! scalar network for its sequence, and every loop vectorises across lanes without horizontal
//! operations. A batch whose size is not a multiple of `L` is padded with lanes whose loss
//! weight is zero. Activations of one lane group are stored `[position][feature]` (each a
//! `[f32; L]`); the group's buffers stay in the L2 cache. Weight gradients are accumulated per
//! lane and summed over lanes once per batch. On x86-64 CPUs with AVX2 the passes (encoder,
//! predictor, decoder, their backward passes, greedy decoding) run in AVX2 copies of their code
//! (see `multiversion!`).
//!
//! The parameters live in one flat `Vec<f32>`, in the order Burn's module visitor walks
//! [`NaoModel`], so that converting to and from the Burn module is a linear copy
//! ([`Fused::from_model`], [`Fused::to_model`]). A linear layer's weight is `[d_in, d_out]`
//! row-major (`y = x W + b`). Dropout masks are drawn from the controller's generator in the
//! same order and shapes as [`super::Noise`] draws them in [`NaoModel::losses`] (encoder
//! embedding `[batch, length, h]`, each predictor layer `[batch, d_out]`, decoder embedding
//! `[batch, length, h]`), so both engines see the same masks.
// The kernels copy register blocks element by element on purpose (see `multiversion!`).
#![allow(clippy::manual_memcpy)]

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Tensor, TensorData};
use rand::distr::Bernoulli;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{NaoModel, NaoSettings};
use crate::Token;

const SQRT_HALF: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// Lower bound of a norm in L2 normalisation (as `F.normalize`).
const NORM_EPS: f32 = 1e-12;
const BETA_1: f32 = 0.9;
const BETA_2: f32 = 0.999;
const ADAM_EPS: f32 = 1e-8;

/// Sequences processed together, one per SIMD lane (8 f32 = one AVX2 register).
const L: usize = 8;
/// One quantity of `L` sequences.
type V = [f32; L];
const ZERO: V = [0.0; L];

/// Defines `fn $name` running its body in an AVX2 copy when the CPU has AVX2 and FMA (LLVM then
/// vectorises the inlined loops 8 lanes wide; Rust never contracts `a * b + c` into an FMA, so
/// both copies compute bit-identical results), and in the baseline copy otherwise. Everything
/// the body calls is `#[inline(always)]`, so it is compiled into both copies; the dispatch is
/// one cached feature check per call.
///
/// The kernels avoid `copy_from_slice` and slice-to-array conversions on their register blocks:
/// with debug assertions on (the dev and test profiles), the standard library's precondition
/// checks there keep LLVM from holding the blocks in registers, which made the kernels several
/// times slower.
macro_rules! multiversion {
    ($(#[$meta:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        #[allow(clippy::too_many_arguments)]
        fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn imp($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                    imp($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                    // SAFETY: the running CPU supports the features `avx2` was compiled for.
                    return unsafe { avx2($($arg),*) };
                }
            }
            imp($($arg),*)
        }
    };
}

/// Shape of the network.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Dims {
    /// Vocabulary size.
    pub vocab: usize,
    /// Sequence length.
    pub length: usize,
    /// Hidden size.
    pub hidden: usize,
    /// `(d_in, d_out)` of each predictor MLP layer.
    pub mlp: Vec<(usize, usize)>,
}

impl Dims {
    pub fn new(vocab: usize, length: usize, hidden: usize, mlp_hidden: usize, mlp_layers: usize) -> Self {
        let mlp = (0..mlp_layers)
            .map(|i| {
                let d_in = if i == 0 { hidden } else { mlp_hidden };
                let d_out = if i + 1 == mlp_layers { hidden } else { mlp_hidden };
                (d_in, d_out)
            })
            .collect();
        Dims { vocab, length, hidden, mlp }
    }

    /// Element counts of the parameter tensors, in the order Burn's visitor walks `NaoModel`.
    fn sizes(&self) -> Vec<usize> {
        let (v, h) = (self.vocab, self.hidden);
        // Encoder: embedding, input_gates (weight, bias), recurrent, out_proj (weight, bias).
        let mut sizes = vec![v * h, h * 8 * h, 8 * h, 2 * h * 4 * h, 2 * h * h, h];
        // Predictor: mlp layers, regressor.
        for &(i, o) in &self.mlp {
            sizes.extend([i * o, o]);
        }
        sizes.extend([h, 1]);
        // Decoder: embedding, input_gates, recurrent, attn_input, attn_output, out.
        sizes.extend([v * h, h * 4 * h, 4 * h, h * 4 * h, h * h, 2 * h * h, h * v, v]);
        sizes
    }
}

/// Named pieces of a parameter-shaped flat buffer (parameters, gradients).
struct Parts<S> {
    enc_emb: S,
    enc_wig: S,
    enc_big: S,
    enc_rec: S,
    enc_wop: S,
    enc_bop: S,
    mlp: Vec<(S, S)>,
    reg_w: S,
    reg_b: S,
    dec_emb: S,
    dec_wig: S,
    dec_big: S,
    dec_rec: S,
    dec_wai: S,
    dec_wao: S,
    dec_wout: S,
    dec_bout: S,
}

impl<S> Parts<S> {
    fn build(layers: usize, pieces: Vec<S>) -> Self {
        let mut it = pieces.into_iter();
        let mut next = move || it.next().expect("parameter layout");
        let (enc_emb, enc_wig, enc_big, enc_rec, enc_wop, enc_bop) = (next(), next(), next(), next(), next(), next());
        let mlp = (0..layers).map(|_| (next(), next())).collect();
        let (reg_w, reg_b) = (next(), next());
        let (dec_emb, dec_wig, dec_big, dec_rec) = (next(), next(), next(), next());
        let (dec_wai, dec_wao, dec_wout, dec_bout) = (next(), next(), next(), next());
        Parts {
            enc_emb,
            enc_wig,
            enc_big,
            enc_rec,
            enc_wop,
            enc_bop,
            mlp,
            reg_w,
            reg_b,
            dec_emb,
            dec_wig,
            dec_big,
            dec_rec,
            dec_wai,
            dec_wao,
            dec_wout,
            dec_bout,
        }
    }
}

fn parts<'a, T>(buf: &'a [T], dims: &Dims) -> Parts<&'a [T]> {
    let mut rest = buf;
    let pieces = dims
        .sizes()
        .into_iter()
        .map(|n| {
            let (head, tail) = rest.split_at(n);
            rest = tail;
            head
        })
        .collect();
    Parts::build(dims.mlp.len(), pieces)
}

fn parts_mut<'a, T>(buf: &'a mut [T], dims: &Dims) -> Parts<&'a mut [T]> {
    let mut rest = buf;
    let pieces = dims
        .sizes()
        .into_iter()
        .map(|n| {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(n);
            rest = tail;
            head
        })
        .collect();
    Parts::build(dims.mlp.len(), pieces)
}

/// Transposed weights (`[d_out, d_in]`) for the backward passes.
#[derive(Default)]
struct Transposed {
    enc_wig: Vec<f32>,
    enc_rec: Vec<f32>,
    enc_wop: Vec<f32>,
    mlp: Vec<Vec<f32>>,
    dec_wig: Vec<f32>,
    dec_rec: Vec<f32>,
    dec_wai: Vec<f32>,
    dec_wao: Vec<f32>,
    dec_wout: Vec<f32>,
}

fn transpose_into(src: &[f32], rows: usize, cols: usize, dst: &mut Vec<f32>) {
    dst.resize(rows * cols, 0.0);
    for r in 0..rows {
        for c in 0..cols {
            dst[c * rows + r] = src[r * cols + c];
        }
    }
}

impl Transposed {
    fn update(&mut self, p: &Parts<&[f32]>, d: &Dims) {
        let (h, v) = (d.hidden, d.vocab);
        transpose_into(p.enc_wig, h, 8 * h, &mut self.enc_wig);
        self.enc_rec.resize(2 * 4 * h * h, 0.0);
        let mut tmp = Vec::new();
        for dir in 0..2 {
            transpose_into(&p.enc_rec[dir * h * 4 * h..(dir + 1) * h * 4 * h], h, 4 * h, &mut tmp);
            self.enc_rec[dir * 4 * h * h..(dir + 1) * 4 * h * h].copy_from_slice(&tmp);
        }
        transpose_into(p.enc_wop, 2 * h, h, &mut self.enc_wop);
        self.mlp.resize_with(d.mlp.len(), Vec::new);
        for (l, &(i, o)) in d.mlp.iter().enumerate() {
            transpose_into(p.mlp[l].0, i, o, &mut self.mlp[l]);
        }
        transpose_into(p.dec_wig, h, 4 * h, &mut self.dec_wig);
        transpose_into(p.dec_rec, h, 4 * h, &mut self.dec_rec);
        transpose_into(p.dec_wai, h, h, &mut self.dec_wai);
        transpose_into(p.dec_wao, 2 * h, h, &mut self.dec_wao);
        transpose_into(p.dec_wout, h, v, &mut self.dec_wout);
    }
}

/// Everything the passes read.
struct Net<'a> {
    d: &'a Dims,
    p: Parts<&'a [f32]>,
    t: &'a Transposed,
}

// ----------------------------------------------------------------------------------------------
// Scalar functions. All `inline(always)` so that they are compiled into the AVX2 copies.

/// `e^x` to about 1 ulp, in plain arithmetic that vectorises: `x = n ln 2 + r`, `|r| <= ln 2 / 2`,
/// a degree-7 Taylor polynomial for `e^r` (truncation error below 1e-8 relative), and `2^n`
/// assembled in the exponent bits.
#[inline(always)]
fn exp(x: f32) -> f32 {
    // Round-to-nearest of x / ln 2 by the 1.5 * 2^23 trick; the rounded value sits in the low
    // mantissa bits of `shifted`.
    const SHIFT: f32 = 12_582_912.0;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * std::f32::consts::LOG2_E + SHIFT;
    let n = shifted - SHIFT;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let mut p = 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    let exponent = shifted.to_bits().wrapping_sub(SHIFT.to_bits()).wrapping_add(127) << 23;
    p * f32::from_bits(exponent)
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

#[inline(always)]
fn tanh(x: f32) -> f32 {
    // Odd Taylor polynomial near 0, where (e - 1) / (e + 1) loses relative precision (its
    // truncation error at |x| = 1/4 is below 1e-8 relative).
    let x2 = x * x;
    let mut p = 62.0 / 2835.0;
    p = p * x2 - 17.0 / 315.0;
    p = p * x2 + 2.0 / 15.0;
    p = p * x2 - 1.0 / 3.0;
    let small = x + x * x2 * p;
    let e = exp(2.0 * x);
    let large = (e - 1.0) / (e + 1.0);
    if x.abs() < 0.25 {
        small
    } else {
        large
    }
}

// ----------------------------------------------------------------------------------------------
// Lane kernels.

/// `y[j] += sum_k x[k] w[k, j]` for each lane; `w` is `[x.len(), y.len()]`. Blocks of 8 outputs
/// stay in registers while `k` runs.
#[inline(always)]
fn lmm(x: &[V], w: &[f32], y: &mut [V]) {
    #[inline(always)]
    fn block<const W: usize>(x: &[V], w: &[f32], m: usize, j: usize, y: &mut [V]) {
        let mut acc: [V; W] = std::array::from_fn(|i| y[j + i]);
        for (xk, wr) in x.iter().zip(w.chunks_exact(m)) {
            let wr = &wr[j..j + W];
            for i in 0..W {
                for l in 0..L {
                    acc[i][l] += wr[i] * xk[l];
                }
            }
        }
        y[j..j + W].copy_from_slice(&acc);
    }
    let m = y.len();
    if m == 0 {
        return;
    }
    debug_assert_eq!(w.len(), x.len() * m);
    let mut j = 0;
    while j + 8 <= m {
        block::<8>(x, w, m, j, y);
        j += 8;
    }
    while j + 4 <= m {
        block::<4>(x, w, m, j, y);
        j += 4;
    }
    while j < m {
        block::<1>(x, w, m, j, y);
        j += 1;
    }
}

/// Weight gradient of `rows` uses of a linear map, per lane: `dw[k, j] += sum_r x_r[k] dy_r[j]`
/// where row `r` of `x` starts at `r * xs` (`k_n` features) and row `r` of `dy` at `r * ys`
/// (`m` features).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn louter(x: &[V], xs: usize, k_n: usize, dy: &[V], ys: usize, m: usize, rows: usize, dw: &mut [V]) {
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn block<const W: usize>(x: &[V], xs: usize, k: usize, dy: &[V], ys: usize, rows: usize, j: usize, dwr: &mut [V]) {
        let mut acc: [V; W] = std::array::from_fn(|i| dwr[j + i]);
        for r in 0..rows {
            let xv = x[r * xs + k];
            let d = &dy[r * ys + j..r * ys + j + W];
            for i in 0..W {
                for l in 0..L {
                    acc[i][l] += xv[l] * d[i][l];
                }
            }
        }
        dwr[j..j + W].copy_from_slice(&acc);
    }
    for k in 0..k_n {
        let dwr = &mut dw[k * m..(k + 1) * m];
        let mut j = 0;
        while j + 8 <= m {
            block::<8>(x, xs, k, dy, ys, rows, j, dwr);
            j += 8;
        }
        while j < m {
            block::<1>(x, xs, k, dy, ys, rows, j, dwr);
            j += 1;
        }
    }
}

/// Lane-wise matrix product: `c[i cs + j] += sum_k a[i ai + k ak] b[k bk + j bj]` for `i < n`,
/// `j < m`, `k < p` (the strides express transposes). Blocks of outputs stay in registers.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn lvv(
    n: usize,
    m: usize,
    p: usize,
    a: &[V],
    ai: usize,
    ak: usize,
    b: &[V],
    bk: usize,
    bj: usize,
    c: &mut [V],
    cs: usize,
) {
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn block<const W: usize>(
        i: usize,
        j: usize,
        p: usize,
        a: &[V],
        ai: usize,
        ak: usize,
        b: &[V],
        bk: usize,
        bj: usize,
        out: &mut [V],
    ) {
        let mut acc = [ZERO; W];
        for (a, o) in acc.iter_mut().zip(out.iter()) {
            *a = *o;
        }
        for k in 0..p {
            let av = a[i * ai + k * ak];
            for (jj, acc) in acc.iter_mut().enumerate() {
                let bv = b[k * bk + (j + jj) * bj];
                for l in 0..L {
                    acc[l] += av[l] * bv[l];
                }
            }
        }
        for (o, a) in out.iter_mut().zip(acc) {
            *o = a;
        }
    }
    for i in 0..n {
        let row = &mut c[i * cs..i * cs + m];
        let mut j = 0;
        while j + 8 <= m {
            block::<8>(i, j, p, a, ai, ak, b, bk, bj, &mut row[j..]);
            j += 8;
        }
        if j + 4 <= m {
            block::<4>(i, j, p, a, ai, ak, b, bk, bj, &mut row[j..]);
            j += 4;
        }
        if j + 2 <= m {
            block::<2>(i, j, p, a, ai, ak, b, bk, bj, &mut row[j..]);
            j += 2;
        }
        if j < m {
            block::<1>(i, j, p, a, ai, ak, b, bk, bj, &mut row[j..]);
        }
    }
}

/// Bias gradient of `rows` uses: `db[j] += sum_r dy_r[j]`.
#[inline(always)]
fn lsum(dy: &[V], ys: usize, m: usize, rows: usize, db: &mut [V]) {
    for r in 0..rows {
        for (acc, d) in db[..m].iter_mut().zip(&dy[r * ys..r * ys + m]) {
            for l in 0..L {
                acc[l] += d[l];
            }
        }
    }
}

#[inline(always)]
fn splat_into(values: &[f32], out: &mut [V]) {
    for (o, &v) in out.iter_mut().zip(values) {
        *o = [v; L];
    }
}

#[inline(always)]
fn add_into(src: &[V], dst: &mut [V]) {
    for (d, s) in dst.iter_mut().zip(src) {
        for l in 0..L {
            d[l] += s[l];
        }
    }
}

/// Normalises each lane of `y` (features along the slice) in place; returns the clamped norms.
#[inline(always)]
fn normalize(y: &mut [V]) -> V {
    let mut ss = ZERO;
    for v in y.iter() {
        for l in 0..L {
            ss[l] += v[l] * v[l];
        }
    }
    let mut norm = ZERO;
    for l in 0..L {
        norm[l] = ss[l].sqrt().max(NORM_EPS);
    }
    for v in y.iter_mut() {
        for l in 0..L {
            v[l] /= norm[l];
        }
    }
    norm
}

/// Gradient through `out = y / max(|y|, eps)`: `dy = (dout - out (out . dout)) / norm` (the
/// clamped norm has no gradient).
#[inline(always)]
fn normalize_backward(out: &[V], norm: &V, dout: &[V], dy: &mut [V]) {
    let mut along = ZERO;
    for (o, g) in out.iter().zip(dout) {
        for l in 0..L {
            along[l] += o[l] * g[l];
        }
    }
    let mut clamped = [false; L];
    for l in 0..L {
        clamped[l] = norm[l] <= NORM_EPS;
        if clamped[l] {
            along[l] = 0.0;
        }
    }
    for ((d, o), g) in dy.iter_mut().zip(out).zip(dout) {
        let (o, g) = (*o, *g);
        let mut v = ZERO;
        for l in 0..L {
            v[l] = (g[l] - o[l] * along[l]) / norm[l];
        }
        *d = v;
    }
}

/// One LSTM step. `act` holds the input projection `[4h]` and receives the activated gates
/// (input, forget, output sigmoid; cell tanh); `rec`: `[h, 4h]`; `h`, `c`: state, updated.
/// Stores the new cell state and its tanh in `c_out`, `tc_out`, and the output in `h_out`.
#[inline(always)]
fn lstm_cell(act: &mut [V], rec: &[f32], h: &mut [V], c: &mut [V], c_out: &mut [V], tc_out: &mut [V], h_out: &mut [V]) {
    let n = h.len();
    lmm(h, rec, act);
    let (ifo, g) = act.split_at_mut(3 * n);
    for v in ifo.iter_mut() {
        for l in 0..L {
            v[l] = sigmoid(v[l]);
        }
    }
    for v in g.iter_mut() {
        for l in 0..L {
            v[l] = tanh(v[l]);
        }
    }
    let (i, rest) = ifo.split_at(n);
    let (f, o) = rest.split_at(n);
    // Element loops read into and compute on local vectors, then store: that keeps LLVM from
    // assuming the output slices may alias the inputs, so the loops vectorise.
    for k in 0..n {
        let (ik, fk, ok, gk, ck) = (i[k], f[k], o[k], g[k], c[k]);
        let (mut cv, mut tv, mut hv) = (ZERO, ZERO, ZERO);
        for l in 0..L {
            cv[l] = fk[l] * ck[l] + ik[l] * gk[l];
        }
        for l in 0..L {
            tv[l] = tanh(cv[l]);
        }
        for l in 0..L {
            hv[l] = ok[l] * tv[l];
        }
        c[k] = cv;
        c_out[k] = cv;
        tc_out[k] = tv;
        h[k] = hv;
        h_out[k] = hv;
    }
}

/// Backward of one LSTM step. `dh`: gradient of this step's output (own output plus the next
/// step's recurrence); `dc`: gradient of this step's cell state from the next step, replaced by
/// the gradient of the previous cell state (`c_prev` is `None` for a zero initial state).
/// Writes the gate pre-activation gradients to `dgates`.
#[inline(always)]
fn lstm_cell_backward(act: &[V], c_prev: Option<&[V]>, tc: &[V], dh: &[V], dc: &mut [V], dgates: &mut [V]) {
    let n = dh.len();
    let (i, f, o, g) = (&act[..n], &act[n..2 * n], &act[2 * n..3 * n], &act[3 * n..4 * n]);
    let (di, rest) = dgates.split_at_mut(n);
    let (df, rest) = rest.split_at_mut(n);
    let (d_o, dg) = rest.split_at_mut(n);
    for k in 0..n {
        let cp = match c_prev {
            Some(cp) => cp[k],
            None => ZERO,
        };
        let (ik, fk, ok, gk, tk, dhk, dck_in) = (i[k], f[k], o[k], g[k], tc[k], dh[k], dc[k]);
        let (mut vi, mut vf, mut vo, mut vg, mut vc) = (ZERO, ZERO, ZERO, ZERO, ZERO);
        for l in 0..L {
            let dck = dck_in[l] + dhk[l] * ok[l] * (1.0 - tk[l] * tk[l]);
            vi[l] = dck * gk[l] * ik[l] * (1.0 - ik[l]);
            vf[l] = dck * cp[l] * fk[l] * (1.0 - fk[l]);
            vo[l] = dhk[l] * tk[l] * ok[l] * (1.0 - ok[l]);
            vg[l] = dck * ik[l] * (1.0 - gk[l] * gk[l]);
            vc[l] = dck * fk[l];
        }
        di[k] = vi;
        df[k] = vf;
        d_o[k] = vo;
        dg[k] = vg;
        dc[k] = vc;
    }
}

/// `out[t][k][lane] = table[tokens[t][lane]][k]` (an embedding lookup per lane), times the
/// dropout mask when given.
#[inline(always)]
fn embed(table: &[f32], h: usize, tokens: &[[Token; L]], mask: Option<&[V]>, out: &mut [V]) {
    for (t, toks) in tokens.iter().enumerate() {
        let x = &mut out[t * h..(t + 1) * h];
        for (l, &tok) in toks.iter().enumerate() {
            for (xv, &e) in x.iter_mut().zip(&table[tok * h..(tok + 1) * h]) {
                xv[l] = e;
            }
        }
        if let Some(m) = mask {
            for (xv, mv) in x.iter_mut().zip(&m[t * h..(t + 1) * h]) {
                for l in 0..L {
                    xv[l] *= mv[l];
                }
            }
        }
    }
}

/// Embedding gradient: `dtable[tokens[t][lane]][k][lane] += dx[t][k][lane] * mask`.
#[inline(always)]
fn embed_backward(h: usize, tokens: &[[Token; L]], mask: Option<&[V]>, dx: &[V], dtable: &mut [V]) {
    for (t, toks) in tokens.iter().enumerate() {
        let dx = &dx[t * h..(t + 1) * h];
        for (l, &tok) in toks.iter().enumerate() {
            let row = &mut dtable[tok * h..(tok + 1) * h];
            match mask {
                Some(m) => {
                    for ((d, g), mv) in row.iter_mut().zip(dx).zip(&m[t * h..(t + 1) * h]) {
                        d[l] += g[l] * mv[l];
                    }
                }
                None => {
                    for (d, g) in row.iter_mut().zip(dx) {
                        d[l] += g[l];
                    }
                }
            }
        }
    }
}

// ----------------------------------------------------------------------------------------------
// Workspace of one lane group.

/// Buffers of one lane group's forward and backward passes, allocated once.
#[derive(Default)]
struct Ws {
    // Inputs.
    /// `[t]` tokens of each lane.
    tok: Vec<[Token; L]>,
    /// `[t]` decoder inputs: token 0, then the tokens shifted right.
    dtok: Vec<[Token; L]>,
    /// Dropout masks in lane layout: encoder and decoder `[t, h]`, predictor layers `[d_out]`.
    m_enc: Vec<V>,
    m_mlp: Vec<Vec<V>>,
    m_dec: Vec<V>,
    // Encoder.
    x: Vec<V>,
    /// `[t, 8h]`: input projections, then activated gates (forward 0..4h, backward 4h..8h).
    gin: Vec<V>,
    c_f: Vec<V>,
    c_b: Vec<V>,
    tc_f: Vec<V>,
    tc_b: Vec<V>,
    hf: Vec<V>,
    hb: Vec<V>,
    out: Vec<V>,
    out_norm: Vec<V>,
    arch: Vec<V>,
    arch_norm: V,
    // Predictor.
    pre: Vec<Vec<V>>,
    z: Vec<Vec<V>>,
    r: Vec<V>,
    // Decoder.
    xd: Vec<V>,
    /// `[t, 4h]`: input projections, then activated gates.
    gind: Vec<V>,
    c_d: Vec<V>,
    tc_d: Vec<V>,
    hd: Vec<V>,
    u: Vec<V>,
    q: Vec<V>,
    attn: Vec<V>,
    mix: Vec<V>,
    att: Vec<V>,
    w: Vec<V>,
    logits: Vec<V>,
    // Recurrent state.
    h_state: Vec<V>,
    c_state: Vec<V>,
    // Backward.
    dout: Vec<V>,
    dy: Vec<V>,
    dhf: Vec<V>,
    dhb: Vec<V>,
    dx: Vec<V>,
    dgin: Vec<V>,
    dxd: Vec<V>,
    dhd: Vec<V>,
    dgind: Vec<V>,
    du: Vec<V>,
    dmix: Vec<V>,
    dq: Vec<V>,
    dpa: Vec<V>,
    dcat: Vec<V>,
    da: Vec<V>,
    dlog: Vec<V>,
    dw: Vec<V>,
    dpre: Vec<V>,
    dz: Vec<Vec<V>>,
    darch: Vec<V>,
    dm: Vec<V>,
    dh: Vec<V>,
    dh_state: Vec<V>,
    dc: Vec<V>,
}

impl Ws {
    fn new(d: &Dims) -> Self {
        let (t, h, v) = (d.length, d.hidden, d.vocab);
        let z = |n: usize| vec![ZERO; n];
        Ws {
            tok: vec![[0; L]; t],
            dtok: vec![[0; L]; t],
            m_enc: z(t * h),
            m_mlp: d.mlp.iter().map(|&(_, o)| z(o)).collect(),
            m_dec: z(t * h),
            x: z(t * h),
            gin: z(t * 8 * h),
            c_f: z(t * h),
            c_b: z(t * h),
            tc_f: z(t * h),
            tc_b: z(t * h),
            hf: z(t * h),
            hb: z(t * h),
            out: z(t * h),
            out_norm: z(t),
            arch: z(h),
            arch_norm: ZERO,
            pre: d.mlp.iter().map(|&(_, o)| z(o)).collect(),
            z: d.mlp.iter().map(|&(_, o)| z(o)).collect(),
            r: z(h),
            xd: z(t * h),
            gind: z(t * 4 * h),
            c_d: z(t * h),
            tc_d: z(t * h),
            hd: z(t * h),
            u: z(t * h),
            q: z(t * h),
            attn: z(t * t),
            mix: z(t * h),
            att: z(t * h),
            w: z(t * h),
            logits: z(t * v),
            h_state: z(h),
            c_state: z(h),
            dout: z(t * h),
            dy: z(t * h),
            dhf: z(t * h),
            dhb: z(t * h),
            dx: z(t * h),
            dgin: z(t * 8 * h),
            dxd: z(t * h),
            dhd: z(t * h),
            dgind: z(t * 4 * h),
            du: z(t * h),
            dmix: z(t * h),
            dq: z(t * h),
            dpa: z(t * h),
            dcat: z(2 * h),
            da: z(t * t),
            dlog: z(t * v),
            dw: z(h),
            dpre: z(h),
            dz: d.mlp.iter().map(|&(i, _)| z(i)).collect(),
            darch: z(h),
            dm: z(h),
            dh: z(h),
            dh_state: z(h),
            dc: z(h),
        }
    }

    /// Loads up to `L` sequences into the lanes (missing lanes read token 0).
    fn load_tokens<S: AsRef<[Token]>>(&mut self, seqs: &[S]) {
        for (t, (toks, dtoks)) in self.tok.iter_mut().zip(self.dtok.iter_mut()).enumerate() {
            for l in 0..L {
                toks[l] = seqs.get(l).map_or(0, |s| s.as_ref()[t]);
                dtoks[l] = if t == 0 { 0 } else { seqs.get(l).map_or(0, |s| s.as_ref()[t - 1]) };
            }
        }
    }
}

// ----------------------------------------------------------------------------------------------
// Forward passes of one lane group.

multiversion! {
    /// Encoder: fills `x`, the LSTM buffers, `out` (normalised outputs) and `arch`.
    fn encode(net: &Net<'_>, ws: &mut Ws, masked: bool) {
        let (tn, h) = (net.d.length, net.d.hidden);
        let (g4, g8) = (4 * h, 8 * h);
        let p = &net.p;
        embed(p.enc_emb, h, &ws.tok, masked.then_some(&ws.m_enc[..]), &mut ws.x);
        for t in 0..tn {
            let gin = &mut ws.gin[t * g8..(t + 1) * g8];
            splat_into(p.enc_big, gin);
            lmm(&ws.x[t * h..(t + 1) * h], p.enc_wig, gin);
        }
        let (rec_f, rec_b) = p.enc_rec.split_at(h * g4);
        // Forward direction.
        ws.h_state.fill(ZERO);
        ws.c_state.fill(ZERO);
        for t in 0..tn {
            let r = t * h..(t + 1) * h;
            lstm_cell(
                &mut ws.gin[t * g8..t * g8 + g4],
                rec_f,
                &mut ws.h_state,
                &mut ws.c_state,
                &mut ws.c_f[r.clone()],
                &mut ws.tc_f[r.clone()],
                &mut ws.hf[r],
            );
        }
        // Backward direction, over reversed time; outputs stored at their positions.
        ws.h_state.fill(ZERO);
        ws.c_state.fill(ZERO);
        for t in (0..tn).rev() {
            let r = t * h..(t + 1) * h;
            lstm_cell(
                &mut ws.gin[t * g8 + g4..(t + 1) * g8],
                rec_b,
                &mut ws.h_state,
                &mut ws.c_state,
                &mut ws.c_b[r.clone()],
                &mut ws.tc_b[r.clone()],
                &mut ws.hb[r],
            );
        }
        // Projection of [fwd, bwd] with the embedding residual, normalised per position.
        let (wop_f, wop_b) = p.enc_wop.split_at(h * h);
        ws.arch.fill(ZERO);
        for t in 0..tn {
            let r = t * h..(t + 1) * h;
            let y = &mut ws.out[r.clone()];
            splat_into(p.enc_bop, y);
            lmm(&ws.hf[r.clone()], wop_f, y);
            lmm(&ws.hb[r.clone()], wop_b, y);
            add_into(&ws.x[r], y);
            ws.out_norm[t] = normalize(y);
            add_into(y, &mut ws.arch);
        }
        for m in ws.arch.iter_mut() {
            for l in 0..L {
                m[l] /= tn as f32;
            }
        }
        ws.arch_norm = normalize(&mut ws.arch);
    }
}

multiversion! {
    /// Predictor on `ws.arch`: the predicted scores.
    fn predict_lanes(net: &Net<'_>, ws: &mut Ws, masked: bool) -> V {
        let p = &net.p;
        for l in 0..net.d.mlp.len() {
            let (done, rest) = ws.z.split_at_mut(l);
            let input: &[V] = if l == 0 { &ws.arch } else { &done[l - 1] };
            let pre = &mut ws.pre[l];
            splat_into(p.mlp[l].1, pre);
            lmm(input, p.mlp[l].0, pre);
            let z = &mut rest[0];
            for (zv, pv) in z.iter_mut().zip(pre.iter()) {
                for i in 0..L {
                    zv[i] = pv[i].max(0.0);
                }
            }
            if masked {
                for (zv, mv) in z.iter_mut().zip(&ws.m_mlp[l]) {
                    for i in 0..L {
                        zv[i] *= mv[i];
                    }
                }
            }
        }
        let last = ws.z.last().expect("at least one mlp layer");
        for ((r, a), zv) in ws.r.iter_mut().zip(&ws.arch).zip(last) {
            for l in 0..L {
                r[l] = (a[l] + zv[l]) * SQRT_HALF;
            }
        }
        let mut pred = [[p.reg_b[0]; L]];
        lmm(&ws.r, p.reg_w, &mut pred);
        pred[0]
    }
}

/// Decoder head after the LSTM for one position: residual, attention over `ctx` (`[t, h]`),
/// residual, output logits.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn head(
    net: &Net<'_>,
    x: &[V],
    h_out: &[V],
    ctx: &[V],
    u: &mut [V],
    q: &mut [V],
    attn: &mut [V],
    mix: &mut [V],
    att: &mut [V],
    w: &mut [V],
    logits: &mut [V],
) {
    let p = &net.p;
    let h = x.len();
    for ((uv, xv), hv) in u.iter_mut().zip(x).zip(h_out) {
        for l in 0..L {
            uv[l] = (xv[l] + hv[l]) * SQRT_HALF;
        }
    }
    q.fill(ZERO);
    lmm(u, p.dec_wai, q);
    // Scores against every source position (q ctx^T), softmax over positions.
    let tn = attn.len();
    attn.fill(ZERO);
    lvv(1, tn, h, q, 0, 1, ctx, 1, h, attn, 0);
    let mut max = [f32::NEG_INFINITY; L];
    for a in attn.iter() {
        for l in 0..L {
            max[l] = max[l].max(a[l]);
        }
    }
    let mut sum = ZERO;
    for a in attn.iter_mut() {
        for l in 0..L {
            a[l] = exp(a[l] - max[l]);
            sum[l] += a[l];
        }
    }
    for a in attn.iter_mut() {
        for l in 0..L {
            a[l] /= sum[l];
        }
    }
    // mix = attn ctx.
    mix.fill(ZERO);
    lvv(1, h, tn, attn, 0, 1, ctx, h, 1, mix, 0);
    let (wao_mix, wao_u) = p.dec_wao.split_at(h * h);
    att.fill(ZERO);
    lmm(mix, wao_mix, att);
    lmm(u, wao_u, att);
    for a in att.iter_mut() {
        for l in 0..L {
            a[l] = tanh(a[l]);
        }
    }
    for ((wv, uv), av) in w.iter_mut().zip(&*u).zip(&*att) {
        for l in 0..L {
            wv[l] = (uv[l] + av[l]) * SQRT_HALF;
        }
    }
    splat_into(p.dec_bout, logits);
    lmm(w, p.dec_wout, logits);
}

multiversion! {
    /// Teacher-forced decoder on `ws.out` / `ws.arch`: leaves the log-probabilities in
    /// `ws.logits` and returns each lane's summed negative log-likelihood of `ws.tok`.
    fn decode_teacher(net: &Net<'_>, ws: &mut Ws, masked: bool) -> V {
        let (tn, h, v) = (net.d.length, net.d.hidden, net.d.vocab);
        let g4 = 4 * h;
        let p = &net.p;
        embed(p.dec_emb, h, &ws.dtok, masked.then_some(&ws.m_dec[..]), &mut ws.xd);
        for t in 0..tn {
            let gin = &mut ws.gind[t * g4..(t + 1) * g4];
            splat_into(p.dec_big, gin);
            lmm(&ws.xd[t * h..(t + 1) * h], p.dec_wig, gin);
        }
        ws.h_state.copy_from_slice(&ws.arch);
        ws.c_state.copy_from_slice(&ws.arch);
        for t in 0..tn {
            let r = t * h..(t + 1) * h;
            lstm_cell(
                &mut ws.gind[t * g4..(t + 1) * g4],
                p.dec_rec,
                &mut ws.h_state,
                &mut ws.c_state,
                &mut ws.c_d[r.clone()],
                &mut ws.tc_d[r.clone()],
                &mut ws.hd[r],
            );
        }
        let mut nll = ZERO;
        for t in 0..tn {
            let r = t * h..(t + 1) * h;
            let logits = &mut ws.logits[t * v..(t + 1) * v];
            head(
                net,
                &ws.xd[r.clone()],
                &ws.hd[r.clone()],
                &ws.out,
                &mut ws.u[r.clone()],
                &mut ws.q[r.clone()],
                &mut ws.attn[t * tn..(t + 1) * tn],
                &mut ws.mix[r.clone()],
                &mut ws.att[r.clone()],
                &mut ws.w[r],
                logits,
            );
            // Log-softmax in place.
            let mut max = [f32::NEG_INFINITY; L];
            for lv in logits.iter() {
                for l in 0..L {
                    max[l] = max[l].max(lv[l]);
                }
            }
            let mut sum = ZERO;
            for lv in logits.iter() {
                for l in 0..L {
                    sum[l] += exp(lv[l] - max[l]);
                }
            }
            let mut lse = ZERO;
            for l in 0..L {
                lse[l] = max[l] + sum[l].ln();
            }
            for lv in logits.iter_mut() {
                for l in 0..L {
                    lv[l] -= lse[l];
                }
            }
            for (l, &tok) in ws.tok[t].iter().enumerate() {
                nll[l] -= logits[tok][l];
            }
        }
        nll
    }
}

// ----------------------------------------------------------------------------------------------
// Backward passes of one lane group.

multiversion! {
    /// Predictor backward from `dpred`: accumulates weight gradients and adds the gradient of the
    /// architecture embedding to `ws.darch`.
    fn predict_backward(net: &Net<'_>, ws: &mut Ws, masked: bool, dpred: V, g: &mut Parts<&mut [V]>) {
        let p = &net.p;
        let h = net.d.hidden;
        lsum(&[dpred], 1, 1, 1, g.reg_b);
        louter(&ws.r, h, h, &[dpred], 1, 1, 1, g.reg_w);
        // r = (arch + z_last) sqrt(.5): both get sqrt(.5) dpred reg_w.
        for ((da, dz), &wv) in ws.darch.iter_mut().zip(ws.dpre.iter_mut()).zip(p.reg_w) {
            let (mut va, mut vz) = (*da, ZERO);
            for l in 0..L {
                let d = dpred[l] * wv * SQRT_HALF;
                va[l] += d;
                vz[l] = d;
            }
            *da = va;
            *dz = vz;
        }
        let layers = net.d.mlp.len();
        for layer in (0..layers).rev() {
            let (d_in, d_out) = net.d.mlp[layer];
            let (lower, upper) = ws.dz.split_at_mut(layer + 1);
            // Gradient of this layer's output: from the regressor or from the layer above.
            let go: &mut [V] = if layer + 1 == layers { &mut ws.dpre[..d_out] } else { &mut upper[0][..d_out] };
            if masked {
                for (gv, mv) in go.iter_mut().zip(&ws.m_mlp[layer]) {
                    for l in 0..L {
                        gv[l] *= mv[l];
                    }
                }
            }
            for (gv, pv) in go.iter_mut().zip(&ws.pre[layer]) {
                for l in 0..L {
                    if pv[l] <= 0.0 {
                        gv[l] = 0.0;
                    }
                }
            }
            let input: &[V] = if layer == 0 { &ws.arch } else { &ws.z[layer - 1] };
            louter(input, d_in, d_in, go, d_out, d_out, 1, g.mlp[layer].0);
            lsum(go, d_out, d_out, 1, g.mlp[layer].1);
            let din = &mut lower[layer][..d_in];
            din.fill(ZERO);
            lmm(go, &net.t.mlp[layer], din);
        }
        add_into(&ws.dz[0], &mut ws.darch);
    }
}

multiversion! {
    /// Decoder backward (teacher forcing) from the per-lane NLL weight `coef`. Adds the
    /// encoder-output gradient to `ws.dout` and the initial-state gradient to `ws.darch`.
    fn decode_backward(net: &Net<'_>, ws: &mut Ws, masked: bool, coef: V, g: &mut Parts<&mut [V]>) {
        let (tn, h, v) = (net.d.length, net.d.hidden, net.d.vocab);
        let g4 = 4 * h;
        let tr = net.t;
        for t in 0..tn {
            let r = t * h..(t + 1) * h;
            // d logits = coef (softmax - onehot).
            let dlog = &mut ws.dlog[t * v..(t + 1) * v];
            for (d, lp) in dlog.iter_mut().zip(&ws.logits[t * v..(t + 1) * v]) {
                let lp = *lp;
                let mut p = ZERO;
                for l in 0..L {
                    p[l] = coef[l] * exp(lp[l]);
                }
                *d = p;
            }
            for (l, &tok) in ws.tok[t].iter().enumerate() {
                dlog[tok][l] -= coef[l];
            }
            ws.dw.fill(ZERO);
            lmm(dlog, &tr.dec_wout, &mut ws.dw);
            // w = (u + att) sqrt(.5); att = tanh(mix Wao_mix + u Wao_u).
            let dpa = &mut ws.dpa[r.clone()];
            let du = &mut ws.du[r.clone()];
            for (((du, dp), dw), a) in du.iter_mut().zip(dpa.iter_mut()).zip(&ws.dw).zip(&ws.att[r.clone()]) {
                let (dw, a) = (*dw, *a);
                let (mut vu, mut vp) = (ZERO, ZERO);
                for l in 0..L {
                    let d = dw[l] * SQRT_HALF;
                    vu[l] = d;
                    vp[l] = d * (1.0 - a[l] * a[l]);
                }
                *du = vu;
                *dp = vp;
            }
            ws.dcat.fill(ZERO);
            lmm(dpa, &tr.dec_wao, &mut ws.dcat);
            let (dmix, du_cat) = ws.dcat.split_at(h);
            add_into(du_cat, du);
            ws.dmix[r].copy_from_slice(dmix);
        }
        // Attention, all positions at once: mix = attn ctx; attn = softmax(q ctx^T).
        let ctx = &ws.out;
        let (attn, dmix, q) = (&ws.attn[..], &ws.dmix[..], &ws.q[..]);
        ws.da.fill(ZERO);
        lvv(tn, tn, h, dmix, h, 1, ctx, 1, h, &mut ws.da, tn);
        for (ds, a) in ws.da.chunks_exact_mut(tn).zip(attn.chunks_exact(tn)) {
            let mut along = ZERO;
            for (d, av) in ds.iter().zip(a) {
                for l in 0..L {
                    along[l] += av[l] * d[l];
                }
            }
            for (d, av) in ds.iter_mut().zip(a) {
                for l in 0..L {
                    d[l] = av[l] * (d[l] - along[l]); // now the score gradient
                }
            }
        }
        let ds = &ws.da[..];
        ws.dq.fill(ZERO);
        lvv(tn, h, tn, ds, tn, 1, ctx, h, 1, &mut ws.dq, h);
        lvv(tn, h, tn, attn, 1, tn, dmix, h, 1, &mut ws.dout, h);
        lvv(tn, h, tn, ds, 1, tn, q, h, 1, &mut ws.dout, h);
        for t in 0..tn {
            let r = t * h..(t + 1) * h;
            // q = u Wai.
            let du = &mut ws.du[r.clone()];
            lmm(&ws.dq[r.clone()], &tr.dec_wai, du);
            // u = (x + lstm_out) sqrt(.5).
            for ((dx, dh), du) in ws.dxd[r.clone()].iter_mut().zip(ws.dhd[r].iter_mut()).zip(du.iter()) {
                let mut v = ZERO;
                for l in 0..L {
                    v[l] = du[l] * SQRT_HALF;
                }
                *dx = v;
                *dh = v;
            }
        }
        // Weights of the head.
        louter(&ws.w, h, h, &ws.dlog, v, v, tn, g.dec_wout);
        lsum(&ws.dlog, v, v, tn, g.dec_bout);
        let (dwao_mix, dwao_u) = g.dec_wao.split_at_mut(h * h);
        louter(&ws.mix, h, h, &ws.dpa, h, h, tn, dwao_mix);
        louter(&ws.u, h, h, &ws.dpa, h, h, tn, dwao_u);
        louter(&ws.u, h, h, &ws.dq, h, h, tn, g.dec_wai);
        // LSTM, backwards in time to the initial state (arch, arch).
        ws.dh_state.fill(ZERO);
        ws.dc.fill(ZERO);
        for t in (0..tn).rev() {
            let r = t * h..(t + 1) * h;
            for ((d, a), b) in ws.dh.iter_mut().zip(&ws.dhd[r.clone()]).zip(&ws.dh_state) {
                for l in 0..L {
                    d[l] = a[l] + b[l];
                }
            }
            let c_prev = if t == 0 { &ws.arch[..] } else { &ws.c_d[(t - 1) * h..t * h] };
            let dgates = &mut ws.dgind[t * g4..(t + 1) * g4];
            lstm_cell_backward(&ws.gind[t * g4..(t + 1) * g4], Some(c_prev), &ws.tc_d[r], &ws.dh, &mut ws.dc, dgates);
            ws.dh_state.fill(ZERO);
            lmm(dgates, &tr.dec_rec, &mut ws.dh_state);
        }
        for ((da, dh), dc) in ws.darch.iter_mut().zip(&ws.dh_state).zip(&ws.dc) {
            for l in 0..L {
                da[l] += dh[l] + dc[l];
            }
        }
        louter(&ws.arch, h, h, &ws.dgind, g4, g4, 1, g.dec_rec);
        louter(&ws.hd, h, h, &ws.dgind[g4..], g4, g4, tn.saturating_sub(1), g.dec_rec);
        // Input projections and embedding.
        louter(&ws.xd, h, h, &ws.dgind, g4, g4, tn, g.dec_wig);
        lsum(&ws.dgind, g4, g4, tn, g.dec_big);
        for t in 0..tn {
            lmm(&ws.dgind[t * g4..(t + 1) * g4], &tr.dec_wig, &mut ws.dxd[t * h..(t + 1) * h]);
        }
        embed_backward(h, &ws.dtok, masked.then_some(&ws.m_dec[..]), &ws.dxd, g.dec_emb);
    }
}

/// From `ws.darch` (gradient of the architecture embedding) to `ws.dm`, the gradient of every
/// position's output through the mean.
#[inline(always)]
fn arch_backward(tn: usize, ws: &mut Ws) {
    normalize_backward(&ws.arch, &ws.arch_norm, &ws.darch, &mut ws.dm);
    for d in ws.dm.iter_mut() {
        for l in 0..L {
            d[l] /= tn as f32;
        }
    }
}

multiversion! {
    /// Encoder backward from `ws.dout` (gradient of the normalised outputs) plus `ws.dm`.
    fn encode_backward(net: &Net<'_>, ws: &mut Ws, masked: bool, g: &mut Parts<&mut [V]>) {
        let (tn, h) = (net.d.length, net.d.hidden);
        let (g4, g8) = (4 * h, 8 * h);
        let tr = net.t;
        for t in 0..tn {
            let r = t * h..(t + 1) * h;
            add_into(&ws.dm, &mut ws.dout[r.clone()]);
            normalize_backward(&ws.out[r.clone()], &ws.out_norm[t], &ws.dout[r.clone()], &mut ws.dy[r.clone()]);
            let dy = &ws.dy[r.clone()];
            ws.dcat.fill(ZERO);
            lmm(dy, &tr.enc_wop, &mut ws.dcat);
            ws.dhf[r.clone()].copy_from_slice(&ws.dcat[..h]);
            ws.dhb[r.clone()].copy_from_slice(&ws.dcat[h..]);
            ws.dx[r].copy_from_slice(dy);
        }
        let (dwop_f, dwop_b) = g.enc_wop.split_at_mut(h * h);
        louter(&ws.hf, h, h, &ws.dy, h, h, tn, dwop_f);
        louter(&ws.hb, h, h, &ws.dy, h, h, tn, dwop_b);
        lsum(&ws.dy, h, h, tn, g.enc_bop);
        let (drec_f, drec_b) = g.enc_rec.split_at_mut(h * g4);
        let (rec_t_f, rec_t_b) = tr.enc_rec.split_at(g4 * h);
        // Forward direction: backwards in time to a zero initial state.
        ws.dh_state.fill(ZERO);
        ws.dc.fill(ZERO);
        for t in (0..tn).rev() {
            let r = t * h..(t + 1) * h;
            for ((d, a), b) in ws.dh.iter_mut().zip(&ws.dhf[r.clone()]).zip(&ws.dh_state) {
                for l in 0..L {
                    d[l] = a[l] + b[l];
                }
            }
            let c_prev = (t > 0).then(|| &ws.c_f[(t - 1) * h..t * h]);
            let dgates = &mut ws.dgin[t * g8..t * g8 + g4];
            lstm_cell_backward(&ws.gin[t * g8..t * g8 + g4], c_prev, &ws.tc_f[r], &ws.dh, &mut ws.dc, dgates);
            ws.dh_state.fill(ZERO);
            lmm(dgates, rec_t_f, &mut ws.dh_state);
        }
        louter(&ws.hf, h, h, &ws.dgin[g8..], g8, g4, tn.saturating_sub(1), drec_f);
        // Backward direction: it ran from the last position to the first.
        ws.dh_state.fill(ZERO);
        ws.dc.fill(ZERO);
        for t in 0..tn {
            let r = t * h..(t + 1) * h;
            for ((d, a), b) in ws.dh.iter_mut().zip(&ws.dhb[r.clone()]).zip(&ws.dh_state) {
                for l in 0..L {
                    d[l] = a[l] + b[l];
                }
            }
            let c_prev = (t + 1 < tn).then(|| &ws.c_b[(t + 1) * h..(t + 2) * h]);
            let dgates = &mut ws.dgin[t * g8 + g4..(t + 1) * g8];
            lstm_cell_backward(&ws.gin[t * g8 + g4..(t + 1) * g8], c_prev, &ws.tc_b[r], &ws.dh, &mut ws.dc, dgates);
            ws.dh_state.fill(ZERO);
            lmm(dgates, rec_t_b, &mut ws.dh_state);
        }
        louter(&ws.hb[h..], h, h, &ws.dgin[g4..], g8, g4, tn.saturating_sub(1), drec_b);
        // Input projections and embedding.
        louter(&ws.x, h, h, &ws.dgin, g8, g8, tn, g.enc_wig);
        lsum(&ws.dgin, g8, g8, tn, g.enc_big);
        for t in 0..tn {
            lmm(&ws.dgin[t * g8..(t + 1) * g8], &tr.enc_wig, &mut ws.dx[t * h..(t + 1) * h]);
        }
        embed_backward(h, &ws.tok, masked.then_some(&ws.m_enc[..]), &ws.dx, g.enc_emb);
    }
}

// ----------------------------------------------------------------------------------------------
// Batch loops (multiversioned).

/// Dropout masks of one batch, in the shapes `Noise::apply` draws them.
#[derive(Default)]
struct Masks {
    on: bool,
    encoder: Vec<f32>,
    mlp: Vec<Vec<f32>>,
    decoder: Vec<f32>,
}

impl Masks {
    fn draw(&mut self, p: f64, batch: usize, d: &Dims, rng: &mut ChaCha8Rng) {
        self.on = p > 0.0;
        if !self.on {
            return;
        }
        let keep = 1.0 - p;
        let scale = (1.0 / keep) as f32;
        // `rng.random_bool(keep)` (as `Noise::apply` draws) samples exactly this distribution.
        let keep_draw = Bernoulli::new(keep).expect("dropout probability in [0, 1]");
        let mut fill = |buf: &mut Vec<f32>, n: usize| {
            buf.clear();
            buf.extend((0..n).map(|_| if rng.sample(keep_draw) { scale } else { 0.0 }));
        };
        let (t, h) = (d.length, d.hidden);
        fill(&mut self.encoder, batch * t * h);
        self.mlp.resize_with(d.mlp.len(), Vec::new);
        for (l, &(_, o)) in d.mlp.iter().enumerate() {
            fill(&mut self.mlp[l], batch * o);
        }
        fill(&mut self.decoder, batch * t * h);
    }

    /// Copies the masks of sequences `first..first + L` into the lanes (1 for missing lanes).
    fn load(&self, first: usize, batch: usize, d: &Dims, ws: &mut Ws) {
        let n = d.length * d.hidden;
        for l in 0..L {
            let b = first + l;
            let valid = b < batch;
            for (i, (e, dd)) in ws.m_enc.iter_mut().zip(ws.m_dec.iter_mut()).enumerate() {
                e[l] = if valid { self.encoder[b * n + i] } else { 1.0 };
                dd[l] = if valid { self.decoder[b * n + i] } else { 1.0 };
            }
            for (layer, &(_, o)) in d.mlp.iter().enumerate() {
                for (i, m) in ws.m_mlp[layer].iter_mut().enumerate() {
                    m[l] = if valid { self.mlp[layer][b * o + i] } else { 1.0 };
                }
            }
        }
    }
}

/// Forward and backward of a batch: accumulates per-lane gradients of
/// `trade_off * MSE + (1 - trade_off) * NLL` into `g`; returns the summed squared error and
/// summed negative log-likelihood.
fn batch_gradients(
    net: &Net<'_>,
    tokens: &[&[Token]],
    scores: &[f32],
    masks: &Masks,
    trade_off: f64,
    g: &mut Parts<&mut [V]>,
    ws: &mut Ws,
) -> (f64, f64) {
    let tn = net.d.length;
    let batch = tokens.len();
    let score_coef = trade_off as f32;
    let nll_coef = (1.0 - trade_off) as f32 / (batch * tn) as f32;
    let (mut sq_sum, mut nll_sum) = (0.0f64, 0.0f64);
    for (group, (seqs, group_scores)) in tokens.chunks(L).zip(scores.chunks(L)).enumerate() {
        ws.load_tokens(seqs);
        if masks.on {
            masks.load(group * L, batch, net.d, ws);
        }
        let n = seqs.len();
        encode(net, ws, masks.on);
        let pred = predict_lanes(net, ws, masks.on);
        let nll = decode_teacher(net, ws, masks.on);
        let (mut dpred, mut coef) = (ZERO, ZERO);
        for l in 0..n {
            let err = pred[l] - group_scores[l];
            sq_sum += (err * err) as f64;
            nll_sum += nll[l] as f64;
            dpred[l] = score_coef * 2.0 * err / batch as f32;
            coef[l] = nll_coef;
        }
        // Backward (padding lanes have zero weights, so they add nothing).
        ws.darch.fill(ZERO);
        ws.dout.fill(ZERO);
        decode_backward(net, ws, masks.on, coef, g);
        predict_backward(net, ws, masks.on, dpred, g);
        arch_backward(tn, ws);
        encode_backward(net, ws, masks.on, g);
    }
    (sq_sum, nll_sum)
}

/// Predicted scores (no dropout).
fn batch_predict(net: &Net<'_>, tokens: &[Vec<Token>], ws: &mut Ws, out: &mut Vec<f32>) {
    for seqs in tokens.chunks(L) {
        ws.load_tokens(seqs);
        encode(net, ws, false);
        let pred = predict_lanes(net, ws, false);
        out.extend_from_slice(&pred[..seqs.len()]);
    }
}

/// Encoder outputs (`[t, h]` per sequence, appended to `outputs`) and the gradient of the
/// predicted score with respect to each of them (`[h]` per sequence, the same at every
/// position, appended to `gradients`). `g` receives discarded weight gradients.
fn batch_ascent(
    net: &Net<'_>,
    tokens: &[Vec<Token>],
    g: &mut Parts<&mut [V]>,
    ws: &mut Ws,
    outputs: &mut Vec<f32>,
    gradients: &mut Vec<f32>,
) {
    for seqs in tokens.chunks(L) {
        ws.load_tokens(seqs);
        encode(net, ws, false);
        predict_lanes(net, ws, false);
        ws.darch.fill(ZERO);
        predict_backward(net, ws, false, [1.0; L], g);
        arch_backward(net.d.length, ws);
        for l in 0..seqs.len() {
            outputs.extend(ws.out.iter().map(|v| v[l]));
            gradients.extend(ws.dm.iter().map(|v| v[l]));
        }
    }
}

multiversion! {
    /// Greedy decoding of the lanes from context `ws.out` and initial state `ws.arch`; appends the
    /// tokens of the first `out.len()` lanes to `out`.
    fn greedy(net: &Net<'_>, allowed: &[Vec<Token>], ws: &mut Ws, out: &mut [Vec<Token>]) {
        let (h, v) = (net.d.hidden, net.d.vocab);
        let tn = net.d.length;
        let g4 = 4 * h;
        let p = &net.p;
        ws.h_state.copy_from_slice(&ws.arch);
        ws.c_state.copy_from_slice(&ws.arch);
        let mut previous = [[0 as Token; L]];
        for allowed_here in allowed {
            embed(p.dec_emb, h, &previous, None, &mut ws.xd[..h]);
            let gin = &mut ws.gind[..g4];
            splat_into(p.dec_big, gin);
            lmm(&ws.xd[..h], p.dec_wig, gin);
            let (c_out, tc_out, h_out) = (&mut ws.c_d[..h], &mut ws.tc_d[..h], &mut ws.hd[..h]);
            lstm_cell(gin, p.dec_rec, &mut ws.h_state, &mut ws.c_state, c_out, tc_out, h_out);
            head(
                net,
                &ws.xd[..h],
                &ws.hd[..h],
                &ws.out,
                &mut ws.u[..h],
                &mut ws.q[..h],
                &mut ws.attn[..tn],
                &mut ws.mix[..h],
                &mut ws.att[..h],
                &mut ws.w[..h],
                &mut ws.logits[..v],
            );
            let logits = &ws.logits[..v];
            for l in 0..L {
                // Ties go to the smaller token, as in `inference.rs`.
                let best = allowed_here
                    .iter()
                    .copied()
                    .max_by(|&a, &b| logits[a][l].total_cmp(&logits[b][l]).then(b.cmp(&a)))
                    .unwrap_or(0);
                previous[0][l] = best;
                if let Some(seq) = out.get_mut(l) {
                    seq.push(best);
                }
            }
        }
    }
}

/// Moves each sequence's outputs by `eta` times its gradient, renormalises, and decodes
/// greedily. `outputs`: `[n, t, h]`; `gradients`: `[n, h]`.
fn batch_decode_moved(
    net: &Net<'_>,
    outputs: &[f32],
    gradients: &[f32],
    eta: f32,
    allowed: &[Vec<Token>],
    ws: &mut Ws,
    out: &mut Vec<Vec<Token>>,
) {
    let (tn, h) = (net.d.length, net.d.hidden);
    for (ctx, grad) in outputs.chunks(L * tn * h).zip(gradients.chunks(L * h)) {
        let n = grad.len() / h;
        for (i, o) in ws.out.iter_mut().enumerate() {
            let k = i % h;
            for l in 0..L {
                // Missing lanes repeat the first sequence.
                let s = if l < n { l } else { 0 };
                o[l] = ctx[s * tn * h + i] + grad[s * h + k] * eta;
            }
        }
        ws.arch.fill(ZERO);
        for t in 0..tn {
            let moved = &mut ws.out[t * h..(t + 1) * h];
            normalize(moved);
            add_into(moved, &mut ws.arch);
        }
        for m in ws.arch.iter_mut() {
            for l in 0..L {
                m[l] /= tn as f32;
            }
        }
        normalize(&mut ws.arch);
        let first = out.len();
        out.resize_with(first + n, || Vec::with_capacity(tn));
        greedy(net, allowed, ws, &mut out[first..]);
    }
}

/// Encodes and greedily decodes without moving: the autoencoder's reconstruction.
fn batch_reconstruct(
    net: &Net<'_>,
    tokens: &[Vec<Token>],
    allowed: &[Vec<Token>],
    ws: &mut Ws,
    out: &mut Vec<Vec<Token>>,
) {
    for seqs in tokens.chunks(L) {
        ws.load_tokens(seqs);
        encode(net, ws, false);
        let first = out.len();
        out.resize_with(first + seqs.len(), || Vec::with_capacity(net.d.length));
        greedy(net, allowed, ws, &mut out[first..]);
    }
}

// ----------------------------------------------------------------------------------------------
// The engine.

/// Encoder outputs of some sequences and the gradient of their predicted scores.
pub(super) struct FusedAscent {
    /// `[n, t, h]` normalised encoder outputs.
    outputs: Vec<f32>,
    /// `[n, h]` gradient of the predicted score with respect to each output position.
    gradients: Vec<f32>,
}

/// The fused CPU engine: parameters, gradients, Adam moments and workspaces.
pub(super) struct Fused {
    dims: Dims,
    params: Vec<f32>,
    /// Gradients of the last batch, summed over lanes.
    grads: Vec<f32>,
    /// Per-lane gradient accumulators.
    lane_grads: Vec<V>,
    moment_1: Vec<f32>,
    moment_2: Vec<f32>,
    /// Adam steps taken.
    time: i32,
    transposed: Transposed,
    masks: Masks,
    ws: Ws,
}

/// The fused engine's trainable state: weights and Adam moments (f32 values round-trip
/// exactly through JSON).
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct FusedSnapshot {
    params: Vec<f32>,
    moment_1: Vec<f32>,
    moment_2: Vec<f32>,
    time: i32,
}

/// Collects parameter values in visiting order.
struct Collect {
    values: Vec<f32>,
    sizes: Vec<usize>,
}

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let values = param.val().into_data().try_to_vec::<f32>().expect("f32 parameter data");
        self.sizes.push(values.len());
        self.values.extend(values);
    }
}

/// Replaces parameter values in visiting order, keeping ids and gradient requirements.
struct Assign<'a> {
    values: &'a [f32],
}

impl ModuleMapper for Assign<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        param.map(|tensor| {
            let shape = tensor.shape();
            let (head, tail) = self.values.split_at(shape.num_elements());
            self.values = tail;
            let device = tensor.device();
            let require_grad = tensor.is_require_grad();
            let fresh = Tensor::<D>::from_data(TensorData::new(head.to_vec(), shape), &device);
            if require_grad {
                fresh.require_grad()
            } else {
                fresh
            }
        })
    }
}

impl Fused {
    /// The engine with `model`'s weights and fresh optimiser state.
    pub fn from_model(model: &NaoModel, dims: Dims) -> Self {
        let mut collect = Collect { values: Vec::new(), sizes: Vec::new() };
        model.visit(&mut collect);
        assert_eq!(collect.sizes, dims.sizes(), "NaoModel parameter layout does not match the fused engine");
        let n = collect.values.len();
        let ws = Ws::new(&dims);
        Fused {
            dims,
            params: collect.values,
            grads: vec![0.0; n],
            lane_grads: vec![ZERO; n],
            moment_1: vec![0.0; n],
            moment_2: vec![0.0; n],
            time: 0,
            transposed: Transposed::default(),
            masks: Masks::default(),
            ws,
        }
    }

    /// The weights and the Adam state, for a checkpoint.
    pub fn snapshot(&self) -> FusedSnapshot {
        FusedSnapshot {
            params: self.params.clone(),
            moment_1: self.moment_1.clone(),
            moment_2: self.moment_2.clone(),
            time: self.time,
        }
    }

    /// Restores a [`Fused::snapshot`] of an engine of the same shape.
    pub fn restore(&mut self, snapshot: FusedSnapshot) -> std::result::Result<(), String> {
        let n = self.params.len();
        let lengths = [snapshot.params.len(), snapshot.moment_1.len(), snapshot.moment_2.len()];
        if lengths != [n; 3] {
            return Err(format!("the saved controller has {lengths:?} values where this one has {n}"));
        }
        self.params = snapshot.params;
        self.moment_1 = snapshot.moment_1;
        self.moment_2 = snapshot.moment_2;
        self.time = snapshot.time;
        Ok(())
    }

    /// `template` (a model of the same shape) with this engine's weights.
    pub fn to_model(&self, template: NaoModel) -> NaoModel {
        let mut assign = Assign { values: &self.params };
        let model = template.map(&mut assign);
        assert!(assign.values.is_empty(), "NaoModel parameter layout does not match the fused engine");
        model
    }

    /// Computes the gradients of one batch into `self.grads` (dropout masks drawn from `rng`
    /// when `dropout > 0`); returns the mean squared error and the mean NLL.
    fn gradients(
        &mut self,
        tokens: &[&[Token]],
        scores: &[f32],
        dropout: f64,
        trade_off: f64,
        rng: &mut ChaCha8Rng,
    ) -> (f64, f64) {
        let batch = tokens.len();
        self.masks.draw(dropout, batch, &self.dims, rng);
        let p = parts(&self.params, &self.dims);
        self.transposed.update(&p, &self.dims);
        self.lane_grads.fill(ZERO);
        let net = Net { d: &self.dims, p, t: &self.transposed };
        let mut g = parts_mut(&mut self.lane_grads, &self.dims);
        let (sq, nll) = batch_gradients(&net, tokens, scores, &self.masks, trade_off, &mut g, &mut self.ws);
        for (g, lanes) in self.grads.iter_mut().zip(&self.lane_grads) {
            *g = lanes.iter().sum();
        }
        (sq / batch as f64, nll / (batch * self.dims.length) as f64)
    }

    /// Global gradient-norm clipping, as `clip_grad_norm_` (and the Burn path) does.
    fn clip(&mut self, bound: f32) {
        let total = self.grads.iter().map(|&g| (g as f64) * (g as f64)).sum::<f64>().sqrt() as f32;
        if total.is_finite() && total > bound {
            let factor = bound / (total + 1e-6);
            for g in self.grads.iter_mut() {
                *g *= factor;
            }
        }
    }

    /// One Adam step with L2 weight decay added to the gradient, as burn-optim's `Adam` with
    /// `WeightDecay` (bias-corrected, epsilon scaled by the second-moment correction).
    fn adam(&mut self, lr: f64, l2: f32) {
        self.time += 1;
        let bias2_sqrt = (1.0 - BETA_2.powi(self.time)).sqrt();
        let factor = bias2_sqrt / (1.0 - BETA_1.powi(self.time));
        let eps = ADAM_EPS * bias2_sqrt;
        let lr = lr as f32;
        for (((p, &g), m1), m2) in
            self.params.iter_mut().zip(&self.grads).zip(&mut self.moment_1).zip(&mut self.moment_2)
        {
            let g = *p * l2 + g;
            *m1 = *m1 * BETA_1 + g * (1.0 - BETA_1);
            *m2 = *m2 * BETA_2 + g * g * (1.0 - BETA_2);
            let update = (*m1 * factor) / (m2.sqrt() + eps);
            *p -= update * lr;
        }
    }

    /// One training step; returns the batch's mean squared error and mean NLL.
    pub fn train_step(
        &mut self,
        tokens: &[&[Token]],
        scores: &[f32],
        settings: &NaoSettings,
        rng: &mut ChaCha8Rng,
    ) -> (f64, f64) {
        let losses = self.gradients(tokens, scores, settings.dropout, settings.trade_off, rng);
        self.clip(settings.grad_bound);
        self.adam(settings.lr, settings.l2_reg as f32);
        losses
    }

    /// Transposed weights and a workspace for inference with the current weights.
    fn inference(&self) -> (Transposed, Ws) {
        let mut transposed = Transposed::default();
        transposed.update(&parts(&self.params, &self.dims), &self.dims);
        (transposed, Ws::new(&self.dims))
    }

    /// Predicted scores.
    pub fn predict(&self, sequences: &[Vec<Token>]) -> Vec<f32> {
        let (transposed, mut ws) = self.inference();
        let net = Net { d: &self.dims, p: parts(&self.params, &self.dims), t: &transposed };
        let mut out = Vec::with_capacity(sequences.len());
        batch_predict(&net, sequences, &mut ws, &mut out);
        out
    }

    /// Encoder outputs of `sequences` and the gradient of the predicted score w.r.t. them.
    pub fn ascent(&self, sequences: &[Vec<Token>]) -> FusedAscent {
        let (transposed, mut ws) = self.inference();
        let net = Net { d: &self.dims, p: parts(&self.params, &self.dims), t: &transposed };
        let mut scratch = vec![ZERO; self.params.len()];
        let mut g = parts_mut(&mut scratch, &self.dims);
        let (t, h) = (self.dims.length, self.dims.hidden);
        let mut outputs = Vec::with_capacity(sequences.len() * t * h);
        let mut gradients = Vec::with_capacity(sequences.len() * h);
        batch_ascent(&net, sequences, &mut g, &mut ws, &mut outputs, &mut gradients);
        FusedAscent { outputs, gradients }
    }

    /// Greedy decodes of the ascent's outputs moved by `eta`, restricted to `allowed`.
    pub fn decode_moved(&self, ascent: &FusedAscent, eta: f32, allowed: &[Vec<Token>]) -> Vec<Vec<Token>> {
        let (transposed, mut ws) = self.inference();
        let net = Net { d: &self.dims, p: parts(&self.params, &self.dims), t: &transposed };
        let mut out = Vec::with_capacity(ascent.gradients.len() / self.dims.hidden.max(1));
        batch_decode_moved(&net, &ascent.outputs, &ascent.gradients, eta, allowed, &mut ws, &mut out);
        out
    }

    /// Encodes and greedily decodes `sequences`, restricted to `allowed`.
    pub fn reconstruct(&self, sequences: &[Vec<Token>], allowed: &[Vec<Token>]) -> Vec<Vec<Token>> {
        let (transposed, mut ws) = self.inference();
        let net = Net { d: &self.dims, p: parts(&self.params, &self.dims), t: &transposed };
        let mut out = Vec::with_capacity(sequences.len());
        batch_reconstruct(&net, sequences, allowed, &mut ws, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use burn::optim::GradientsParams;
    use burn::tensor::{Device, Int};
    use rand::SeedableRng;

    use super::super::inference::Ascent;
    use super::super::{NaoController, NaoEngine, NaoModelConfig, Noise};
    use super::*;
    use crate::{Controller, Encoding, Example};

    const TOL: f32 = 1e-4;

    struct Case {
        vocab: usize,
        length: usize,
        hidden: usize,
        mlp_hidden: usize,
        mlp_layers: usize,
        batch: usize,
    }

    const SMALL: Case = Case { vocab: 6, length: 8, hidden: 4, mlp_hidden: 6, mlp_layers: 2, batch: 5 };
    const REAL: Case = Case { vocab: 7, length: 27, hidden: 16, mlp_hidden: 64, mlp_layers: 2, batch: 100 };

    impl Case {
        fn config(&self, dropout: f64) -> NaoModelConfig {
            NaoModelConfig {
                vocab_size: self.vocab,
                length: self.length,
                hidden_size: self.hidden,
                mlp_hidden_size: self.mlp_hidden,
                mlp_layers: self.mlp_layers,
                dropout,
            }
        }

        fn dims(&self) -> Dims {
            Dims::new(self.vocab, self.length, self.hidden, self.mlp_hidden, self.mlp_layers)
        }

        fn data(&self, seed: u64) -> (Vec<Vec<Token>>, Vec<f32>) {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let tokens =
                (0..self.batch).map(|_| (0..self.length).map(|_| rng.random_range(1..self.vocab)).collect()).collect();
            let scores = (0..self.batch).map(|_| rng.random_range(-1.5f32..1.5)).collect();
            (tokens, scores)
        }
    }

    /// Parameter gradients in visiting order.
    struct GradCollect<'a> {
        grads: &'a GradientsParams,
        out: Vec<Vec<f32>>,
    }

    impl ModuleVisitor for GradCollect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let g = match self.grads.get::<D>(param.id) {
                Some(g) => g.into_data().try_to_vec::<f32>().unwrap(),
                None => vec![0.0; param.val().shape().num_elements()],
            };
            self.out.push(g);
        }
    }

    fn params_of(model: &NaoModel) -> Vec<Vec<f32>> {
        let mut collect = Collect { values: Vec::new(), sizes: Vec::new() };
        model.visit(&mut collect);
        split_by(&collect.values, &collect.sizes)
    }

    fn split_by(values: &[f32], sizes: &[usize]) -> Vec<Vec<f32>> {
        let mut rest = values;
        sizes
            .iter()
            .map(|&n| {
                let (head, tail) = rest.split_at(n);
                rest = tail;
                head.to_vec()
            })
            .collect()
    }

    /// Loss terms and parameter gradients of one batch by Burn's autodiff.
    fn burn_gradients(
        model: &NaoModel,
        tokens: &[Vec<Token>],
        scores: &[f32],
        trade_off: f64,
        noise: &mut Noise<'_>,
    ) -> (f32, f32, Vec<Vec<f32>>) {
        let device = Device::flex().autodiff();
        let (batch, length) = (tokens.len(), tokens[0].len());
        let flat: Vec<i64> = tokens.iter().flatten().map(|&t| t as i64).collect();
        let shifted: Vec<i64> =
            tokens.iter().flat_map(|s| std::iter::once(0).chain(s[..length - 1].iter().map(|&t| t as i64))).collect();
        let tok = Tensor::<2, Int>::from_data(TensorData::new(flat, [batch, length]), &device);
        let dec = Tensor::<2, Int>::from_data(TensorData::new(shifted, [batch, length]), &device);
        let sc = Tensor::<1>::from_data(TensorData::new(scores.to_vec(), [batch]), &device);
        let losses = model.losses(tok, dec, sc, noise);
        let loss = losses.score.clone() * trade_off + losses.reconstruction.clone() * (1.0 - trade_off);
        let grads = GradientsParams::from_grads(loss.backward(), model);
        let mut collect = GradCollect { grads: &grads, out: Vec::new() };
        model.visit(&mut collect);
        (losses.score.into_scalar::<f32>(), losses.reconstruction.into_scalar::<f32>(), collect.out)
    }

    /// `max |a - b| <= tol * max(max |a|, max |b|)`: relative to the tensor's scale.
    fn assert_close(what: &str, a: &[f32], b: &[f32], tol: f32) {
        assert_eq!(a.len(), b.len(), "{what}: lengths");
        let scale = a.iter().chain(b).fold(0.0f32, |m, v| m.max(v.abs())).max(1e-30);
        let (worst, at) = a
            .iter()
            .zip(b)
            .enumerate()
            .map(|(i, (x, y))| ((x - y).abs(), i))
            .fold((0.0f32, 0), |m, v| if v.0 > m.0 { v } else { m });
        assert!(
            worst <= tol * scale,
            "{what}: |diff| {worst} at {at} ({} vs {}) exceeds {tol} x scale {scale}",
            a[at],
            b[at]
        );
    }

    fn check_gradients(case: &Case, dropout: f64, seed: u64) {
        let device = Device::flex().autodiff();
        let model = case.config(dropout).init(&mut ChaCha8Rng::seed_from_u64(seed), &device);
        let (tokens, scores) = case.data(seed + 1);
        let trade_off = 0.8;
        let mut burn_rng = ChaCha8Rng::seed_from_u64(seed + 2);
        let (mse, nll, burn) =
            burn_gradients(&model, &tokens, &scores, trade_off, &mut Noise { p: dropout, rng: &mut burn_rng });

        let mut fused = Fused::from_model(&model, case.dims());
        let mut fused_rng = ChaCha8Rng::seed_from_u64(seed + 2);
        let seqs: Vec<&[Token]> = tokens.iter().map(Vec::as_slice).collect();
        let (f_mse, f_nll) = fused.gradients(&seqs, &scores, dropout, trade_off, &mut fused_rng);
        assert_eq!(burn_rng.random::<u64>(), fused_rng.random::<u64>(), "both engines drew the same masks");
        assert_close("mse", &[mse], &[f_mse as f32], 1e-5);
        assert_close("nll", &[nll], &[f_nll as f32], 1e-5);
        let fused_grads = split_by(&fused.grads, &case.dims().sizes());
        assert_eq!(fused_grads.len(), burn.len());
        for (i, (b, f)) in burn.iter().zip(&fused_grads).enumerate() {
            assert!(b.iter().any(|&v| v != 0.0), "parameter {i} has a gradient");
            assert_close(&format!("gradient of parameter {i}"), b, f, TOL);
        }
    }

    #[test]
    fn fast_math_is_accurate() {
        let rel = |a: f32, b: f64| ((a as f64 - b).abs() / b.abs().max(1e-300)) as f32;
        let (mut e_exp, mut e_tanh, mut e_sig) = (0.0f32, 0.0f32, 0.0f32);
        for i in -200_000..=200_000 {
            let x = i as f32 * 4.3e-4;
            let xd = x as f64;
            if x.abs() < 80.0 {
                e_exp = e_exp.max(rel(exp(x), xd.exp()));
            }
            if x != 0.0 {
                e_tanh = e_tanh.max(rel(tanh(x), xd.tanh()));
            }
            e_sig = e_sig.max(rel(sigmoid(x), 1.0 / (1.0 + (-xd).exp())));
        }
        println!("max relative errors: exp {e_exp:e}, tanh {e_tanh:e}, sigmoid {e_sig:e}");
        assert!(e_exp < 2e-7 && e_tanh < 3e-7 && e_sig < 3e-7);
        assert!(exp(-200.0) >= 0.0 && exp(-200.0) < 1e-37);
        assert!(exp(200.0).is_finite());
    }

    #[test]
    fn engine_setting() {
        let parse = |text: &str| toml::from_str::<NaoSettings>(text).unwrap().engine;
        assert_eq!(parse(""), NaoEngine::Auto);
        assert_eq!(parse("engine = \"burn\""), NaoEngine::Burn);
        assert_eq!(parse("engine = \"fused\""), NaoEngine::Fused);
        assert!(toml::from_str::<NaoSettings>("engine = \"gpu\"").is_err());
        let enc = encoding(&SMALL);
        let make = |engine| {
            NaoController::new(NaoSettings { engine, ..NaoSettings::default() }, enc.clone(), &Device::flex(), 0)
        };
        assert_eq!(make(NaoEngine::Auto).unwrap().engine(), NaoEngine::Fused);
        assert_eq!(make(NaoEngine::Burn).unwrap().engine(), NaoEngine::Burn);
        assert_eq!(make(NaoEngine::Fused).unwrap().engine(), NaoEngine::Fused);
    }

    #[test]
    fn model_round_trip() {
        let model = SMALL.config(0.0).init(&mut ChaCha8Rng::seed_from_u64(3), &Device::flex().autodiff());
        let fused = Fused::from_model(&model, SMALL.dims());
        let back = fused.to_model(model.clone());
        assert_eq!(params_of(&back), params_of(&model));
        // The copy still trains: Burn finds a gradient for every parameter.
        let (tokens, scores) = SMALL.data(4);
        let (_, _, grads) =
            burn_gradients(&back, &tokens, &scores, 0.5, &mut Noise { p: 0.0, rng: &mut ChaCha8Rng::seed_from_u64(0) });
        assert!(grads.iter().all(|g| g.iter().any(|&v| v != 0.0)));
    }

    #[test]
    fn gradients_match_burn_small() {
        check_gradients(&SMALL, 0.0, 10);
    }

    #[test]
    fn gradients_match_burn_real_sizes() {
        check_gradients(&REAL, 0.0, 20);
    }

    #[test]
    fn gradients_match_burn_with_dropout() {
        check_gradients(&SMALL, 0.3, 30);
        check_gradients(&REAL, 0.1, 40);
    }

    fn encoding(case: &Case) -> Encoding {
        // Alternating positions with disjoint token ranges, as in the NAS-Bench-101 encoding.
        let half = case.vocab / 2;
        Encoding {
            vocab_size: case.vocab,
            allowed: (0..case.length)
                .map(|i| if i % 2 == 0 { (1..half.max(2)).collect() } else { (half.max(2)..case.vocab).collect() })
                .collect(),
        }
    }

    fn examples(case: &Case, enc: &Encoding, n: usize, seed: u64) -> Vec<Example> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let tokens: Vec<Token> = enc.allowed.iter().map(|a| a[rng.random_range(0..a.len())]).collect();
                let score = tokens.iter().map(|&t| t as f32).sum::<f32>() / case.length as f32 - 2.0;
                Example { tokens, score }
            })
            .collect()
    }

    fn controllers(case: &Case, dropout: f64, seed: u64) -> (NaoController, NaoController) {
        let settings = NaoSettings {
            hidden_size: case.hidden,
            mlp_hidden_size: case.mlp_hidden,
            mlp_layers: case.mlp_layers,
            batch_size: case.batch,
            dropout,
            lr: 0.01,
            ..NaoSettings::default()
        };
        let enc = encoding(case);
        let make = |engine| {
            NaoController::new(NaoSettings { engine, ..settings.clone() }, enc.clone(), &Device::flex(), seed).unwrap()
        };
        let (burn, fused) = (make(NaoEngine::Burn), make(NaoEngine::Auto));
        assert_eq!((burn.engine(), fused.engine()), (NaoEngine::Burn, NaoEngine::Fused));
        (burn, fused)
    }

    /// Three Adam steps through both controllers (same seed, same shuffles and masks).
    fn check_training(case: &Case, dropout: f64, seed: u64) -> (NaoController, NaoController, Vec<Example>) {
        let (mut burn, mut fused) = controllers(case, dropout, seed);
        let data = examples(case, &encoding(case), case.batch * 3, seed + 1);
        assert_eq!(params_of(burn.model()), params_of(fused.model()), "same initial weights");
        let (rb, rf) = (burn.fit(&data, 1).unwrap(), fused.fit(&data, 1).unwrap());
        assert_eq!((rb.steps, rf.steps), (3, 3));
        assert_close("score loss", &[rb.score_loss as f32], &[rf.score_loss as f32], 1e-4);
        assert_close("reconstruction loss", &[rb.reconstruction_loss as f32], &[rf.reconstruction_loss as f32], 1e-4);
        for (i, (b, f)) in params_of(burn.model()).iter().zip(&params_of(fused.model())).enumerate() {
            assert_close(&format!("parameter {i} after 3 Adam steps"), b, f, TOL);
        }
        (burn, fused, data)
    }

    #[test]
    fn adam_steps_match_burn() {
        check_training(&SMALL, 0.0, 50);
        check_training(&SMALL, 0.2, 60);
        check_training(&REAL, 0.1, 70);
    }

    fn check_inference(case: &Case, seed: u64) {
        let (burn, fused, data) = check_training(case, 0.0, seed);
        let seqs: Vec<Vec<Token>> = data.iter().map(|e| e.tokens.clone()).collect();
        let (pb, pf) = (burn.predict(&seqs).unwrap(), fused.predict(&seqs).unwrap());
        assert_close("predictions", &pb, &pf, TOL);
        // Encoder outputs and their score gradients.
        let (t, h) = (case.length, case.hidden);
        match (burn.ascent(&seqs).unwrap(), fused.ascent(&seqs).unwrap()) {
            (Ascent::Burn { outputs, gradient, .. }, Ascent::Fused(f)) => {
                let outputs = outputs.into_data().try_to_vec::<f32>().unwrap();
                let gradient = gradient.into_data().try_to_vec::<f32>().unwrap();
                assert_close("encoder outputs", &outputs, &f.outputs, TOL);
                let expanded: Vec<f32> =
                    f.gradients.chunks_exact(h).flat_map(|g| std::iter::repeat_n(g, t).flatten().copied()).collect();
                assert_close("encoder-output gradients", &gradient, &expanded, TOL);
            }
            _ => panic!("each controller uses its own engine"),
        }
        // Greedy decodes, with and without moving along the gradient.
        assert_eq!(burn.reconstruct(&seqs).unwrap(), fused.reconstruct(&seqs).unwrap());
        for eta in [1.0, 5.0, 30.0] {
            assert_eq!(burn.ascend(&seqs, eta).unwrap(), fused.ascend(&seqs, eta).unwrap(), "eta {eta}");
        }
    }

    #[test]
    fn inference_matches_burn_small() {
        check_inference(&SMALL, 80);
    }

    #[test]
    fn inference_matches_burn_real_sizes() {
        check_inference(&REAL, 90);
    }
}
