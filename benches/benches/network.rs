//! NAS-Bench-101 network training speed on the `flex` CPU device, in training images per
//! second (criterion's element throughput): the main job's small network (1 stack of 1 cell,
//! 16 channels, 8x8 digits-shaped images, batch 64) and the paper's full-size network (3 stacks
//! of 3 cells, 128 channels, 32x32 CIFAR-10-shaped images, batch 16 to keep the run short).
//! The cell is the data README's: every op, five interior vertices.

use std::time::Duration;

use burn::tensor::Device;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use seminas_nasbench101::network::{ImageBatch, NetworkConfig, Trainer, TrainingConfig};
use seminas_nasbench101::ModelSpec;

const CELL: &str = r#"{"matrix":[[0,1,1,1,0,1,0],[0,0,0,0,0,0,1],[0,0,0,0,0,0,1],[0,0,0,0,1,0,0],[0,0,0,0,0,0,1],[0,0,0,0,0,0,1],[0,0,0,0,0,0,0]],"ops":["input","conv1x1-bn-relu","conv3x3-bn-relu","conv3x3-bn-relu","conv3x3-bn-relu","maxpool3x3","output"]}"#;

fn bench(
    c: &mut Criterion,
    name: &str,
    network: NetworkConfig,
    size: usize,
    batch_size: usize,
    samples: usize,
) {
    let device = Device::flex();
    let mut config = TrainingConfig::new(1_000_000);
    config.batch_size = batch_size;
    let mut trainer = Trainer::new(&network, config, &device);
    let batch = ImageBatch::synthetic(
        batch_size,
        network.input_channels,
        size,
        network.classes,
        0,
        &trainer.device(),
    );
    let mut group = c.benchmark_group("network_train_step");
    group
        .sample_size(samples)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(batch_size as u64));
    group.bench_function(name, |b| b.iter(|| trainer.step(batch.clone())));
    group.finish();
}

fn train_step(c: &mut Criterion) {
    let spec = ModelSpec::parse_json(CELL).unwrap();
    let small = NetworkConfig::new(spec)
        .with_stacks(1)
        .with_cells(1)
        .with_channels(16)
        .with_input_channels(1);
    bench(c, "small_1x1x16_8x8_batch64", small, 8, 64, 20);
    bench(
        c,
        "full_3x3x128_32x32_batch16",
        NetworkConfig::new(spec),
        32,
        16,
        10,
    );
}

criterion_group!(benches, train_step);
criterion_main!(benches);
