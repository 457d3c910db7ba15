//! Image data sets for training networks: the embedded UCI digits, MNIST-style IDX files and
//! the CIFAR-10 binary batches, each split into training, validation and test images.

use std::io::Read;
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::Rng;
use seminas_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// The 1,797 8x8 images of the UCI "Optical Recognition of Handwritten Digits" test set, as
/// scikit-learn ships them (`sklearn/datasets/data/digits.csv.gz`): one line per image, 64 pixel
/// counts in 0..=16 and the label. CC BY 4.0, E. Alpaydin and C. Kaynak; see the plugin README.
static DIGITS_CSV_GZ: &[u8] = include_bytes!("../../data/digits.csv.gz");

/// Images in the embedded digits set.
pub const DIGITS_IMAGES: usize = 1797;
/// Validation images of the digits split.
pub const DIGITS_VALIDATION: usize = 360;
/// Test images of the digits split.
pub const DIGITS_TEST: usize = 360;

/// Where the images come from (`dataset` in the evaluator's table).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum DatasetSource {
    /// The embedded UCI digits (`dataset = "digits"`, the default): 1,077 training, 360
    /// validation and 360 test images, split by a fixed permutation.
    #[default]
    Digits,
    /// MNIST or Fashion-MNIST IDX files (`dataset = { idx = "DIR" }`): `train-images-idx3-ubyte`,
    /// `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each
    /// optionally `.gz`. The last 10,000 training images are the validation set.
    Idx(PathBuf),
    /// CIFAR-10 binary batches (`dataset = { cifar10 = "DIR" }`): `data_batch_1.bin` to
    /// `data_batch_4.bin` for training, `data_batch_5.bin` for validation (as NAS-Bench-101
    /// holds out 10,000 training images), `test_batch.bin` for testing.
    Cifar10(PathBuf),
}

/// Images of one split: `u8` pixels, channel-major per image (`[n, c, h, w]`), with labels.
#[derive(Clone, Debug, Default)]
pub struct ImageSet {
    /// Pixels, `len() * channels * height * width` of them.
    pub pixels: Vec<u8>,
    /// One label per image.
    pub labels: Vec<u8>,
}

impl ImageSet {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Keeps the first `n` images (all when `n` is larger).
    pub fn truncate(&mut self, n: usize, image_size: usize) {
        self.labels.truncate(n);
        self.pixels.truncate(n * image_size);
    }

    fn take(&self, range: std::ops::Range<usize>, image_size: usize) -> ImageSet {
        ImageSet {
            pixels: self.pixels[range.start * image_size..range.end * image_size].to_vec(),
            labels: self.labels[range].to_vec(),
        }
    }

    fn append(&mut self, other: ImageSet) {
        self.pixels.extend(other.pixels);
        self.labels.extend(other.labels);
    }
}

/// A data set split three ways, with what batches need to standardise it.
#[derive(Clone, Debug)]
pub struct ImageDataset {
    /// Short name for messages (`digits`, `idx`, `cifar10`).
    pub name: String,
    /// Channels per image.
    pub channels: usize,
    /// Image height.
    pub height: usize,
    /// Image width.
    pub width: usize,
    /// Number of classes; labels are below it.
    pub classes: usize,
    /// Largest raw pixel value (16 for digits, 255 otherwise).
    pub max_value: f32,
    /// Training images.
    pub train: ImageSet,
    /// Validation images (the search signal).
    pub validation: ImageSet,
    /// Test images (reported, never seen by the search).
    pub test: ImageSet,
    /// Per-channel mean of the training pixels, scaled to 0..1.
    pub mean: Vec<f32>,
    /// Per-channel standard deviation of the training pixels, scaled to 0..1.
    pub std: Vec<f32>,
}

/// Optional caps on the split sizes, for short runs on large sets.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Limits {
    /// Most training images (first ones kept).
    pub train: Option<usize>,
    /// Most validation images.
    pub validation: Option<usize>,
    /// Most test images.
    pub test: Option<usize>,
}

impl DatasetSource {
    /// Loads and splits the data set; a missing or malformed file is an error naming it and
    /// what was expected.
    pub fn load(&self, limits: Limits) -> Result<ImageDataset> {
        let mut data = match self {
            DatasetSource::Digits => digits()?,
            DatasetSource::Idx(dir) => idx(dir)?,
            DatasetSource::Cifar10(dir) => cifar10(dir)?,
        };
        let size = data.image_size();
        for (set, limit) in [
            (&mut data.train, limits.train),
            (&mut data.validation, limits.validation),
            (&mut data.test, limits.test),
        ] {
            if let Some(n) = limit {
                set.truncate(n, size);
            }
        }
        if data.train.is_empty() || data.validation.is_empty() || data.test.is_empty() {
            return Err(Error::config(
                "dataset",
                format!(
                    "{}: every split needs images; have {} training, {} validation, {} test",
                    data.name,
                    data.train.len(),
                    data.validation.len(),
                    data.test.len()
                ),
            ));
        }
        data.standardise();
        Ok(data)
    }
}

impl ImageDataset {
    /// Pixels per image.
    pub fn image_size(&self) -> usize {
        self.channels * self.height * self.width
    }

    fn standardise(&mut self) {
        let plane = self.height * self.width;
        let mut sum = vec![0f64; self.channels];
        let mut sq = vec![0f64; self.channels];
        for (i, &p) in self.train.pixels.iter().enumerate() {
            let c = (i / plane) % self.channels;
            let v = f64::from(p) / f64::from(self.max_value);
            sum[c] += v;
            sq[c] += v * v;
        }
        let count = (self.train.len() * plane) as f64;
        self.mean = sum.iter().map(|s| (s / count) as f32).collect();
        self.std = sum
            .iter()
            .zip(&sq)
            .map(|(s, q)| ((q / count - (s / count).powi(2)).max(0.0).sqrt() as f32).max(1e-3))
            .collect();
    }

    /// A batch of the images `indices` of `set`, standardised per channel; with `augment`, each
    /// image is shifted by a random crop of the image padded with 4 black pixels and flipped
    /// horizontally with probability 1/2 (the standard CIFAR-10 augmentation).
    pub fn batch(
        &self,
        set: &ImageSet,
        indices: &[usize],
        augment: Option<&mut dyn rand::RngCore>,
        device: &Device,
    ) -> ImageBatch {
        let (c, h, w) = (self.channels, self.height, self.width);
        let size = self.image_size();
        let mut out = Vec::with_capacity(indices.len() * size);
        let scale: Vec<f32> = self
            .std
            .iter()
            .map(|s| 1.0 / (s * self.max_value))
            .collect();
        let shift: Vec<f32> = self
            .mean
            .iter()
            .zip(&self.std)
            .map(|(m, s)| -m / s)
            .collect();
        let mut augment = augment;
        for &i in indices {
            let image = &set.pixels[i * size..(i + 1) * size];
            let (dy, dx, flip) = match augment.as_deref_mut() {
                Some(rng) => (
                    rng.random_range(-4i32..=4),
                    rng.random_range(-4i32..=4),
                    rng.random_bool(0.5),
                ),
                None => (0, 0, false),
            };
            for ch in 0..c {
                for y in 0..h {
                    for x in 0..w {
                        let sx = if flip { w - 1 - x } else { x } as i32 + dx;
                        let sy = y as i32 + dy;
                        let raw = if sy < 0 || sx < 0 || sy >= h as i32 || sx >= w as i32 {
                            0.0
                        } else {
                            f32::from(image[ch * h * w + sy as usize * w + sx as usize])
                        };
                        out.push(raw * scale[ch] + shift[ch]);
                    }
                }
            }
        }
        let n = indices.len();
        let labels: Vec<i64> = indices.iter().map(|&i| i64::from(set.labels[i])).collect();
        ImageBatch {
            images: Tensor::from_data(TensorData::new(out, [n, c, h, w]), device),
            targets: Tensor::from_data(TensorData::new(labels, [n]), device),
        }
    }
}

/// A batch ready for the network.
#[derive(Clone, Debug)]
pub struct ImageBatch {
    /// `[batch, channels, height, width]`, standardised.
    pub images: Tensor<4>,
    /// `[batch]` class indices.
    pub targets: Tensor<1, Int>,
}

impl ImageBatch {
    /// A batch of `batch` random images of `channels` x `size` x `size` standard-normal-ish
    /// pixels with random labels below `classes`: input for throughput measurements.
    pub fn synthetic(
        batch: usize,
        channels: usize,
        size: usize,
        classes: usize,
        seed: u64,
        device: &Device,
    ) -> Self {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let pixels: Vec<f32> = (0..batch * channels * size * size)
            .map(|_| rng.random_range(-1.7f32..1.7))
            .collect();
        let labels: Vec<i64> = (0..batch)
            .map(|_| rng.random_range(0..classes as i64))
            .collect();
        ImageBatch {
            images: Tensor::from_data(
                TensorData::new(pixels, [batch, channels, size, size]),
                device,
            ),
            targets: Tensor::from_data(TensorData::new(labels, [batch]), device),
        }
    }
}

/// A position in `0..n` drawn from a fixed hash, for a split that never changes between builds
/// or platforms.
fn fixed_order(n: usize) -> Vec<usize> {
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| mix(i as u64));
    order
}

/// The embedded digits, split by [`fixed_order`]: test, validation, then training images.
pub fn digits() -> Result<ImageDataset> {
    let source = Path::new("<embedded digits.csv.gz>");
    let mut text = String::new();
    flate2::read::GzDecoder::new(DIGITS_CSV_GZ)
        .read_to_string(&mut text)
        .map_err(|e| Error::data(source, format!("expected gzip-compressed CSV: {e}")))?;
    let mut all = ImageSet::default();
    for (line, row) in text.lines().enumerate() {
        let values: std::result::Result<Vec<u8>, _> =
            row.split(',').map(|v| v.trim().parse::<u8>()).collect();
        match values {
            Ok(v) if v.len() == 65 && v[..64].iter().all(|&p| p <= 16) && v[64] < 10 => {
                all.pixels.extend_from_slice(&v[..64]);
                all.labels.push(v[64]);
            }
            _ => {
                return Err(Error::data(
                    source,
                    format!(
                        "line {}: expected 64 pixel counts in 0..=16 and a label in 0..=9",
                        line + 1
                    ),
                ))
            }
        }
    }
    if all.len() != DIGITS_IMAGES {
        return Err(Error::data(
            source,
            format!("expected {DIGITS_IMAGES} images, found {}", all.len()),
        ));
    }
    let order = fixed_order(all.len());
    let pick = |range: std::ops::Range<usize>| {
        let mut set = ImageSet::default();
        for &i in &order[range] {
            set.pixels
                .extend_from_slice(&all.pixels[i * 64..(i + 1) * 64]);
            set.labels.push(all.labels[i]);
        }
        set
    };
    Ok(ImageDataset {
        name: "digits".into(),
        channels: 1,
        height: 8,
        width: 8,
        classes: 10,
        max_value: 16.0,
        test: pick(0..DIGITS_TEST),
        validation: pick(DIGITS_TEST..DIGITS_TEST + DIGITS_VALIDATION),
        train: pick(DIGITS_TEST + DIGITS_VALIDATION..DIGITS_IMAGES),
        mean: Vec::new(),
        std: Vec::new(),
    })
}

/// Reads a whole file, gunzipping it when it starts with the gzip magic.
fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| Error::data(path, format!("corrupt gzip data: {e}")))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// `dir/name` or `dir/name.gz`, whichever exists (an error naming both when neither does).
fn find_idx(dir: &Path, name: &str) -> Result<PathBuf> {
    let plain = dir.join(name);
    let gz = dir.join(format!("{name}.gz"));
    if plain.is_file() {
        Ok(plain)
    } else if gz.is_file() {
        Ok(gz)
    } else {
        Err(Error::data(
            plain,
            format!(
                "missing: expected an MNIST-style IDX file `{name}` or `{name}.gz` in {}",
                dir.display()
            ),
        ))
    }
}

/// Reads an IDX file of unsigned bytes with `dims` dimensions: returns the sizes and the data.
pub fn read_idx(path: &Path, dims: usize) -> Result<(Vec<usize>, Vec<u8>)> {
    let bytes = read_maybe_gz(path)?;
    let expected =
        format!("an IDX file of unsigned bytes with {dims} dimension(s) (magic 0x0000080{dims})");
    if bytes.len() < 4 + 4 * dims
        || bytes[..2] != [0, 0]
        || bytes[2] != 0x08
        || bytes[3] as usize != dims
    {
        return Err(Error::data(path, format!("expected {expected}")));
    }
    let sizes: Vec<usize> = (0..dims)
        .map(|d| u32::from_be_bytes(bytes[4 + 4 * d..8 + 4 * d].try_into().unwrap()) as usize)
        .collect();
    let count: usize = sizes.iter().product();
    let data = &bytes[4 + 4 * dims..];
    if data.len() != count {
        return Err(Error::data(
            path,
            format!("expected {expected}: the header announces {count} bytes of data ({sizes:?}), the file holds {}", data.len()),
        ));
    }
    Ok((sizes, data.to_vec()))
}

fn idx_split(dir: &Path, prefix: &str) -> Result<(ImageSet, usize, usize)> {
    let images_path = find_idx(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let labels_path = find_idx(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let (sizes, pixels) = read_idx(&images_path, 3)?;
    let (label_sizes, labels) = read_idx(&labels_path, 1)?;
    if label_sizes[0] != sizes[0] {
        return Err(Error::data(
            &labels_path,
            format!(
                "expected one label per image of {} ({} images), found {}",
                images_path.display(),
                sizes[0],
                label_sizes[0]
            ),
        ));
    }
    if let Some(bad) = labels.iter().position(|&l| l > 9) {
        return Err(Error::data(
            &labels_path,
            format!("expected labels 0..=9, found {} at item {bad}", labels[bad]),
        ));
    }
    Ok((ImageSet { pixels, labels }, sizes[1], sizes[2]))
}

/// MNIST-style IDX files in `dir`; the last 10,000 training images (or a sixth of them, when
/// there are fewer than 60,000) are the validation set.
pub fn idx(dir: &Path) -> Result<ImageDataset> {
    let (train_all, height, width) = idx_split(dir, "train")?;
    let (test, test_h, test_w) = idx_split(dir, "t10k")?;
    if (test_h, test_w) != (height, width) {
        return Err(Error::data(
            dir.join("t10k-images-idx3-ubyte"),
            format!(
                "expected {height}x{width} images as in the training file, found {test_h}x{test_w}"
            ),
        ));
    }
    let n = train_all.len();
    let validation = 10_000.min(n / 6);
    let size = height * width;
    Ok(ImageDataset {
        name: "idx".into(),
        channels: 1,
        height,
        width,
        classes: 10,
        max_value: 255.0,
        train: train_all.take(0..n - validation, size),
        validation: train_all.take(n - validation..n, size),
        test,
        mean: Vec::new(),
        std: Vec::new(),
    })
}

const CIFAR_RECORD: usize = 1 + 3 * 32 * 32;

fn cifar_file(path: &Path) -> Result<ImageSet> {
    let bytes = std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::data(path, "missing: expected a CIFAR-10 binary batch (10,000 records of 1 label byte and 3,072 pixel bytes)")
        } else {
            Error::io(path, e)
        }
    })?;
    if bytes.is_empty() || bytes.len() % CIFAR_RECORD != 0 {
        return Err(Error::data(
            path,
            format!("expected CIFAR-10 binary records of {CIFAR_RECORD} bytes (label, then 3x32x32 pixels); the file has {} bytes", bytes.len()),
        ));
    }
    let mut set = ImageSet::default();
    for (i, record) in bytes.chunks_exact(CIFAR_RECORD).enumerate() {
        if record[0] > 9 {
            return Err(Error::data(
                path,
                format!("record {i}: expected a label in 0..=9, found {}", record[0]),
            ));
        }
        set.labels.push(record[0]);
        set.pixels.extend_from_slice(&record[1..]);
    }
    Ok(set)
}

/// CIFAR-10 binary batches in `dir`.
pub fn cifar10(dir: &Path) -> Result<ImageDataset> {
    let mut train = ImageSet::default();
    for b in 1..=4 {
        train.append(cifar_file(&dir.join(format!("data_batch_{b}.bin")))?);
    }
    Ok(ImageDataset {
        name: "cifar10".into(),
        channels: 3,
        height: 32,
        width: 32,
        classes: 10,
        max_value: 255.0,
        train,
        validation: cifar_file(&dir.join("data_batch_5.bin"))?,
        test: cifar_file(&dir.join("test_batch.bin"))?,
        mean: Vec::new(),
        std: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn digits_has_all_images_and_labels() {
        let data = digits().unwrap();
        assert_eq!(
            data.train.len() + data.validation.len() + data.test.len(),
            DIGITS_IMAGES
        );
        assert_eq!(
            (data.validation.len(), data.test.len()),
            (DIGITS_VALIDATION, DIGITS_TEST)
        );
        let mut counts = [0usize; 10];
        for set in [&data.train, &data.validation, &data.test] {
            assert_eq!(set.pixels.len(), set.len() * 64);
            for &l in &set.labels {
                counts[l as usize] += 1;
            }
        }
        // The UCI test set holds 174 to 183 images of every digit.
        assert!(
            counts.iter().all(|&c| (174..=183).contains(&c)),
            "{counts:?}"
        );
        // The split is fixed: every split has every digit.
        for set in [&data.train, &data.validation, &data.test] {
            for d in 0..10u8 {
                assert!(set.labels.contains(&d));
            }
        }
        assert_eq!(digits().unwrap().test.labels, data.test.labels);
        // The first image of the file (a zero) is somewhere, intact.
        let first = [0u8, 0, 5, 13, 9, 1, 0, 0];
        let found = [&data.train, &data.validation, &data.test].iter().any(|s| {
            s.pixels
                .chunks(64)
                .zip(&s.labels)
                .any(|(p, &l)| l == 0 && p[..8] == first)
        });
        assert!(found);
    }

    #[test]
    fn batches_are_standardised_and_augmented() {
        let data = DatasetSource::Digits.load(Limits::default()).unwrap();
        let device = Device::flex();
        let all: Vec<usize> = (0..data.train.len()).collect();
        let batch = data.batch(&data.train, &all, None, &device);
        assert_eq!(batch.images.dims(), [data.train.len(), 1, 8, 8]);
        let values = batch.images.into_data().try_to_vec::<f32>().unwrap();
        let mean = values.iter().sum::<f32>() / values.len() as f32;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / values.len() as f32;
        assert!(
            mean.abs() < 1e-3 && (var - 1.0).abs() < 1e-2,
            "{mean} {var}"
        );
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let plain = data
            .batch(&data.train, &all[..32], None, &device)
            .images
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let shifted = data
            .batch(&data.train, &all[..32], Some(&mut rng), &device)
            .images
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_ne!(plain, shifted);
        let labels: Vec<i64> = batch.targets.into_data().iter::<i64>().collect();
        assert_eq!(
            labels[..5],
            data.train.labels[..5]
                .iter()
                .map(|&l| i64::from(l))
                .collect::<Vec<_>>()[..]
        );
    }

    fn write_idx(path: &Path, dims: &[u32], data: &[u8], gz: bool) {
        let mut bytes = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            bytes.extend(d.to_be_bytes());
        }
        bytes.extend_from_slice(data);
        if gz {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut e, &bytes).unwrap();
            bytes = e.finish().unwrap();
        }
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn idx_files_plain_or_gzipped_and_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let pixels: Vec<u8> = (0..60 * 4 * 5).map(|i| (i % 251) as u8).collect();
        let labels: Vec<u8> = (0..60).map(|i| (i % 10) as u8).collect();
        write_idx(
            &d.join("train-images-idx3-ubyte.gz"),
            &[60, 4, 5],
            &pixels,
            true,
        );
        write_idx(&d.join("train-labels-idx1-ubyte"), &[60], &labels, false);
        write_idx(
            &d.join("t10k-images-idx3-ubyte"),
            &[12, 4, 5],
            &pixels[..12 * 20],
            false,
        );
        write_idx(
            &d.join("t10k-labels-idx1-ubyte.gz"),
            &[12],
            &labels[..12],
            true,
        );
        let data = DatasetSource::Idx(d.to_path_buf())
            .load(Limits::default())
            .unwrap();
        assert_eq!((data.height, data.width, data.channels), (4, 5, 1));
        assert_eq!(
            (data.train.len(), data.validation.len(), data.test.len()),
            (50, 10, 12)
        );
        assert_eq!(data.validation.labels[0], 0);
        assert_eq!(data.train.pixels[..20], pixels[..20]);

        // Fewer labels than images.
        write_idx(
            &d.join("t10k-labels-idx1-ubyte.gz"),
            &[11],
            &labels[..11],
            true,
        );
        let err = idx(d).unwrap_err().to_string();
        assert!(
            err.contains("t10k-labels-idx1-ubyte.gz") && err.contains("one label per image"),
            "{err}"
        );
        // Truncated data.
        write_idx(
            &d.join("t10k-labels-idx1-ubyte.gz"),
            &[12],
            &labels[..12],
            true,
        );
        write_idx(
            &d.join("t10k-images-idx3-ubyte"),
            &[12, 4, 5],
            &pixels[..100],
            false,
        );
        let err = idx(d).unwrap_err().to_string();
        assert!(
            err.contains("t10k-images-idx3-ubyte") && err.contains("240 bytes"),
            "{err}"
        );
        // Not an IDX file.
        std::fs::write(d.join("t10k-images-idx3-ubyte"), b"hello").unwrap();
        let err = idx(d).unwrap_err().to_string();
        assert!(
            err.contains("t10k-images-idx3-ubyte") && err.contains("magic 0x00000803"),
            "{err}"
        );
        // Missing.
        std::fs::remove_file(d.join("t10k-images-idx3-ubyte")).unwrap();
        let err = idx(d).unwrap_err().to_string();
        assert!(
            err.contains("t10k-images-idx3-ubyte") && err.contains("missing"),
            "{err}"
        );
    }

    #[test]
    fn cifar10_batches_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let record = |label: u8, fill: u8| {
            let mut r = vec![label];
            r.extend(std::iter::repeat_n(fill, 3072));
            r
        };
        for (name, n) in [
            ("data_batch_1.bin", 3),
            ("data_batch_2.bin", 2),
            ("data_batch_3.bin", 2),
            ("data_batch_4.bin", 2),
            ("data_batch_5.bin", 2),
            ("test_batch.bin", 4),
        ] {
            let bytes: Vec<u8> = (0..n).flat_map(|i| record(i as u8, 10 * i as u8)).collect();
            std::fs::write(d.join(name), bytes).unwrap();
        }
        let data = DatasetSource::Cifar10(d.to_path_buf())
            .load(Limits {
                test: Some(3),
                ..Limits::default()
            })
            .unwrap();
        assert_eq!(
            (data.train.len(), data.validation.len(), data.test.len()),
            (9, 2, 3)
        );
        assert_eq!(data.train.labels[..4], [0, 1, 2, 0]);
        assert_eq!(data.channels, 3);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let batch = data.batch(&data.train, &[1, 2], Some(&mut rng), &Device::flex());
        assert_eq!(batch.images.dims(), [2, 3, 32, 32]);

        std::fs::write(d.join("data_batch_5.bin"), vec![0u8; 100]).unwrap();
        let err = cifar10(d).unwrap_err().to_string();
        assert!(
            err.contains("data_batch_5.bin") && err.contains("3073 bytes"),
            "{err}"
        );
        std::fs::remove_file(d.join("test_batch.bin")).unwrap();
        std::fs::write(d.join("data_batch_5.bin"), record(1, 1)).unwrap();
        let err = cifar10(d).unwrap_err().to_string();
        assert!(
            err.contains("test_batch.bin") && err.contains("missing"),
            "{err}"
        );
    }

    /// Debian's `dataset-fashion-mnist` package puts the four files here.
    const FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

    #[test]
    fn idx_reads_debian_fashion_mnist() {
        let dir = Path::new(FASHION_MNIST);
        if !dir.join("train-images-idx3-ubyte.gz").is_file() {
            println!("skipped: {FASHION_MNIST} not found (apt-get install dataset-fashion-mnist)");
            return;
        }
        let data = idx(dir).unwrap();
        assert_eq!((data.height, data.width), (28, 28));
        assert_eq!(
            (data.train.len(), data.validation.len(), data.test.len()),
            (50_000, 10_000, 10_000)
        );
        let mut counts = [0usize; 10];
        for &l in data.train.labels.iter().chain(&data.validation.labels) {
            counts[l as usize] += 1;
        }
        // Fashion-MNIST has 6,000 training images of each class.
        assert_eq!(counts, [6000; 10]);
        // The first training image is an ankle boot (class 9).
        assert_eq!(data.train.labels[0], 9);
    }
}
