//! The NAO encoder-predictor-decoder network (Luo et al. 2018), as used by SemiNAS.
//!
//! The recurrences are written by hand rather than with `burn::nn::Lstm` so that each step costs
//! as few tensor operations as possible: input projections of all time steps are one matmul,
//! and the two directions of the encoder run as one batched matmul per step.

use burn::module::{Module, Param};
use burn::nn::{Embedding, Linear};
use burn::tensor::activation::{log_softmax, relu, sigmoid, softmax};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

const SQRT_HALF: f32 = std::f32::consts::FRAC_1_SQRT_2;

/// Shape of the network. Defaults are the paper's NAS-Bench-101 settings.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NaoModelConfig {
    /// Number of distinct tokens (token 0 is start/end of sequence).
    pub vocab_size: usize,
    /// Length of every token sequence.
    pub length: usize,
    /// Hidden size of embeddings and LSTMs (paper: 16).
    pub hidden_size: usize,
    /// Hidden size of the predictor MLP (paper: 64).
    pub mlp_hidden_size: usize,
    /// Number of predictor MLP layers before the final linear (paper: 2, i.e. 16-64-16 then 1).
    pub mlp_layers: usize,
    /// Dropout probability during training.
    pub dropout: f64,
}

impl NaoModelConfig {
    /// Builds the network with weights drawn from `rng` (uniform in ±1/sqrt(fan), as PyTorch's
    /// LSTM and Linear defaults), so that a seed fixes the initial weights on every device.
    pub fn init(&self, rng: &mut ChaCha8Rng, device: &Device) -> NaoModel {
        let h = self.hidden_size;
        let mut mlp = Vec::with_capacity(self.mlp_layers);
        for i in 0..self.mlp_layers {
            let d_in = if i == 0 { h } else { self.mlp_hidden_size };
            let d_out = if i + 1 == self.mlp_layers { h } else { self.mlp_hidden_size };
            mlp.push(linear(rng, d_in, d_out, true, device));
        }
        NaoModel {
            encoder: Encoder {
                embedding: embedding(rng, self.vocab_size, h, device),
                input_gates: linear_bound(rng, h, 8 * h, 1.0 / (h as f32).sqrt(), device),
                recurrent: uniform(rng, [2, h, 4 * h], 1.0 / (h as f32).sqrt(), device),
                out_proj: linear(rng, 2 * h, h, true, device),
            },
            predictor: Predictor { mlp, regressor: linear(rng, h, 1, true, device) },
            decoder: Decoder {
                embedding: embedding(rng, self.vocab_size, h, device),
                input_gates: linear_bound(rng, h, 4 * h, 1.0 / (h as f32).sqrt(), device),
                recurrent: uniform(rng, [1, h, 4 * h], 1.0 / (h as f32).sqrt(), device),
                attn_input: linear(rng, h, h, false, device),
                attn_output: linear(rng, 2 * h, h, false, device),
                out: linear(rng, h, self.vocab_size, true, device),
            },
        }
    }
}

fn uniform<const D: usize>(rng: &mut ChaCha8Rng, shape: [usize; D], bound: f32, device: &Device) -> Param<Tensor<D>> {
    let n = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|_| rng.random_range(-bound..=bound)).collect();
    Param::from_tensor(Tensor::from_data(TensorData::new(values, shape), device))
}

fn linear_bound(rng: &mut ChaCha8Rng, d_in: usize, d_out: usize, bound: f32, device: &Device) -> Linear {
    Linear { weight: uniform(rng, [d_in, d_out], bound, device), bias: Some(uniform(rng, [d_out], bound, device)) }
}

fn linear(rng: &mut ChaCha8Rng, d_in: usize, d_out: usize, bias: bool, device: &Device) -> Linear {
    let bound = 1.0 / (d_in as f32).sqrt();
    Linear {
        weight: uniform(rng, [d_in, d_out], bound, device),
        bias: bias.then(|| uniform(rng, [d_out], bound, device)),
    }
}

fn embedding(rng: &mut ChaCha8Rng, vocab: usize, h: usize, device: &Device) -> Embedding {
    let n = vocab * h;
    // Standard normal, as PyTorch's nn.Embedding.
    let values: Vec<f32> = (0..n)
        .map(|_| {
            let (u1, u2): (f32, f32) = (rng.random_range(f32::EPSILON..1.0), rng.random());
            (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
        })
        .collect();
    Embedding { weight: Param::from_tensor(Tensor::from_data(TensorData::new(values, [vocab, h]), device)) }
}

/// Dropout masks drawn from the controller's own generator, so that training is reproducible
/// whatever else runs in the process.
pub struct Noise<'a> {
    /// Dropout probability; 0 disables dropout.
    pub p: f64,
    /// Source of the masks.
    pub rng: &'a mut ChaCha8Rng,
}

impl Noise<'_> {
    fn apply<const D: usize>(&mut self, x: Tensor<D>) -> Tensor<D> {
        if self.p <= 0.0 {
            return x;
        }
        let shape = x.shape();
        let keep = 1.0 - self.p;
        let scale = (1.0 / keep) as f32;
        let mask: Vec<f32> =
            (0..shape.num_elements()).map(|_| if self.rng.random_bool(keep) { scale } else { 0.0 }).collect();
        let mask = Tensor::<D>::from_data(TensorData::new(mask, shape), &x.device());
        x * mask
    }
}

/// L2-normalises along the last dimension (as `F.normalize(x, 2, -1)`).
fn normalize<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let norm = x.clone().powi_scalar(2).sum_dim(D - 1).sqrt().clamp_min(1e-12);
    x / norm
}

/// One LSTM step for `dirs` independent directions at once.
///
/// `gates_in`: `[dirs, batch, 4h]` input projections; `h`, `c`: `[dirs, batch, h]`;
/// `recurrent`: `[dirs, h, 4h]`. Gate order: input, forget, output, cell.
fn lstm_step(gates_in: Tensor<3>, h: Tensor<3>, c: Tensor<3>, recurrent: &Tensor<3>) -> (Tensor<3>, Tensor<3>) {
    let [dirs, batch, four_h] = gates_in.dims();
    let hidden = four_h / 4;
    let gates = gates_in + h.matmul(recurrent.clone());
    let ifo = sigmoid(gates.clone().slice([0..dirs, 0..batch, 0..3 * hidden]));
    let g = gates.slice([0..dirs, 0..batch, 3 * hidden..four_h]).tanh();
    let i = ifo.clone().slice([0..dirs, 0..batch, 0..hidden]);
    let f = ifo.clone().slice([0..dirs, 0..batch, hidden..2 * hidden]);
    let o = ifo.slice([0..dirs, 0..batch, 2 * hidden..3 * hidden]);
    let c = f * c + i * g;
    let h = o * c.clone().tanh();
    (h, c)
}

/// Encoder: embedding, bidirectional LSTM, projection with residual, L2-normalised outputs.
#[derive(Module, Debug)]
pub struct Encoder {
    embedding: Embedding,
    /// Input projections of both directions: `[h, 8h]` (forward gates, then backward gates).
    input_gates: Linear,
    /// Recurrent weights of both directions: `[2, h, 4h]`.
    recurrent: Param<Tensor<3>>,
    out_proj: Linear,
}

/// Encoder outputs.
pub struct Encoded {
    /// Per-position outputs, L2-normalised: `[batch, length, h]`.
    pub outputs: Tensor<3>,
    /// Architecture embedding (normalised mean of outputs): `[batch, h]`.
    pub embedding: Tensor<2>,
}

impl Encoder {
    /// # Shapes
    /// - tokens: `[batch, length]`
    pub fn forward(&self, tokens: Tensor<2, Int>, noise: &mut Noise<'_>) -> Encoded {
        let [batch, length] = tokens.dims();
        let x = noise.apply(self.embedding.forward(tokens));
        let hidden = x.dims()[2];
        let gates = self.input_gates.forward(x.clone()); // [b, t, 8h]
        let forward_gates = gates.clone().slice([0..batch, 0..length, 0..4 * hidden]);
        let backward_gates = gates.slice([0..batch, 0..length, 4 * hidden..8 * hidden]).flip([1]);
        // [t, 2, b, 4h]: step s sees position s forwards and position t-1-s backwards.
        let steps = Tensor::stack::<4>(vec![forward_gates, backward_gates], 0).swap_dims(0, 2).swap_dims(1, 2);
        let recurrent = self.recurrent.val();
        let device = x.device();
        let mut h = Tensor::<3>::zeros([2, batch, hidden], &device);
        let mut c = h.clone();
        let mut outs = Vec::with_capacity(length);
        for step in steps.iter_dim(0) {
            let step: Tensor<3> = step.squeeze_dim(0);
            (h, c) = lstm_step(step, h, c, &recurrent);
            outs.push(h.clone());
        }
        let outs = Tensor::stack::<4>(outs, 0); // [t, 2, b, h]
        let fwd: Tensor<3> = outs.clone().slice([0..length, 0..1, 0..batch, 0..hidden]).squeeze_dim(1);
        let bwd: Tensor<3> = outs.slice([0..length, 1..2, 0..batch, 0..hidden]).squeeze_dim::<3>(1).flip([0]);
        let both = Tensor::cat(vec![fwd, bwd], 2).swap_dims(0, 1); // [b, t, 2h]
        let outputs = normalize(x + self.out_proj.forward(both));
        let embedding = normalize(outputs.clone().mean_dim(1).squeeze_dim::<2>(1));
        Encoded { outputs, embedding }
    }
}

/// Predictor: MLP with a residual connection, then a linear layer to one score.
#[derive(Module, Debug)]
pub struct Predictor {
    mlp: Vec<Linear>,
    regressor: Linear,
}

impl Predictor {
    /// # Shapes
    /// - embedding: `[batch, h]` -> `[batch]`
    pub fn forward(&self, embedding: Tensor<2>, noise: &mut Noise<'_>) -> Tensor<1> {
        let mut x = embedding.clone();
        for layer in &self.mlp {
            x = noise.apply(relu(layer.forward(x)));
        }
        let x = (embedding + x) * SQRT_HALF;
        self.regressor.forward(x).squeeze_dim(1)
    }
}

/// Decoder: LSTM initialised from the architecture embedding, attention over the encoder
/// outputs, and a projection to token log-probabilities.
#[derive(Module, Debug)]
pub struct Decoder {
    embedding: Embedding,
    input_gates: Linear,
    recurrent: Param<Tensor<3>>,
    attn_input: Linear,
    attn_output: Linear,
    out: Linear,
}

/// Decoder recurrent state.
#[derive(Clone)]
pub struct DecoderState {
    h: Tensor<3>,
    c: Tensor<3>,
}

impl Decoder {
    /// The initial state from the architecture embedding `[batch, h]`.
    pub fn init_state(embedding: &Tensor<2>) -> DecoderState {
        let h: Tensor<3> = embedding.clone().unsqueeze_dim(0);
        DecoderState { h: h.clone(), c: h }
    }

    /// Everything after the LSTM: residual, attention, residual, output projection.
    fn head(&self, x: Tensor<3>, lstm_out: Tensor<3>, context: &Tensor<3>) -> Tensor<3> {
        let x = (x + lstm_out) * SQRT_HALF;
        let scores = self.attn_input.forward(x.clone()).matmul(context.clone().swap_dims(1, 2));
        let mix = softmax(scores, 2).matmul(context.clone());
        let attended = self.attn_output.forward(Tensor::cat(vec![mix, x.clone()], 2)).tanh();
        let x = (x + attended) * SQRT_HALF;
        self.out.forward(x)
    }

    /// Teacher-forced pass: log-probabilities of every position.
    ///
    /// # Shapes
    /// - inputs: `[batch, length]` (the target shifted right, starting with token 0)
    /// - context: `[batch, length, h]`
    /// - output: `[batch, length, vocab]`
    pub fn forward(&self, inputs: Tensor<2, Int>, state: DecoderState, context: &Tensor<3>, noise: &mut Noise<'_>) -> Tensor<3> {
        let [batch, length] = inputs.dims();
        let x = noise.apply(self.embedding.forward(inputs));
        let gates = self.input_gates.forward(x.clone()).swap_dims(0, 1); // [t, b, 4h]
        let recurrent = self.recurrent.val();
        let DecoderState { mut h, mut c } = state;
        let mut outs = Vec::with_capacity(length);
        for step in gates.iter_dim(0) {
            (h, c) = lstm_step(step, h, c, &recurrent);
            outs.push(h.clone());
        }
        let hidden = h.dims()[2];
        let lstm_out = Tensor::cat(outs, 0).swap_dims(0, 1).reshape([batch, length, hidden]);
        log_softmax(self.head(x, lstm_out, context), 2)
    }

    /// One autoregressive step: logits of the next token for `[batch]` previous tokens.
    pub fn step(&self, previous: Tensor<1, Int>, state: DecoderState, context: &Tensor<3>) -> (Tensor<2>, DecoderState) {
        let x = self.embedding.forward(previous.unsqueeze_dim(1)); // [b, 1, h]
        let gates = self.input_gates.forward(x.clone()).swap_dims(0, 1); // [1, b, 4h]
        let (h, c) = lstm_step(gates, state.h, state.c, &self.recurrent.val());
        let lstm_out = h.clone().swap_dims(0, 1);
        let logits: Tensor<2> = self.head(x, lstm_out, context).squeeze_dim(1);
        (logits, DecoderState { h, c })
    }
}

/// The whole controller network.
#[derive(Module, Debug)]
pub struct NaoModel {
    /// Sequence encoder.
    pub encoder: Encoder,
    /// Score predictor on the architecture embedding.
    pub predictor: Predictor,
    /// Sequence decoder.
    pub decoder: Decoder,
}

/// Loss terms of one batch.
pub struct Losses {
    /// Mean squared error of the predicted scores.
    pub score: Tensor<1>,
    /// Mean negative log-likelihood of the reconstruction.
    pub reconstruction: Tensor<1>,
}

impl NaoModel {
    /// Predicted scores.
    ///
    /// # Shapes
    /// - tokens: `[batch, length]` -> `[batch]`
    pub fn predict(&self, tokens: Tensor<2, Int>) -> Tensor<1> {
        let mut noise = Noise { p: 0.0, rng: &mut rand::SeedableRng::seed_from_u64(0) };
        let encoded = self.encoder.forward(tokens, &mut noise);
        self.predictor.forward(encoded.embedding, &mut noise)
    }

    /// Joint training losses.
    ///
    /// # Shapes
    /// - tokens, decoder_inputs: `[batch, length]`; scores: `[batch]`
    pub fn losses(&self, tokens: Tensor<2, Int>, decoder_inputs: Tensor<2, Int>, scores: Tensor<1>, noise: &mut Noise<'_>) -> Losses {
        let [batch, length] = tokens.dims();
        let encoded = self.encoder.forward(tokens.clone(), noise);
        let predicted = self.predictor.forward(encoded.embedding.clone(), noise);
        let score = (predicted - scores).powi_scalar(2).mean();
        let state = Decoder::init_state(&encoded.embedding);
        let log_probs = self.decoder.forward(decoder_inputs, state, &encoded.outputs, noise);
        let picked = log_probs.gather(2, tokens.reshape([batch, length, 1]));
        let reconstruction = picked.mean().neg();
        Losses { score, reconstruction }
    }
}
