//! The NAO controller learns on real NAS-Bench-101 data.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use seminas_core::nao::{NaoController, NaoSettings};
use seminas_core::predictor::evaluate_predictor;
use seminas_core::strategies::semi::{Normalizer, SemiSupervised};
use seminas_core::{Arch, Component, ComponentKind, Controller, Example, SearchSpace, TableEvaluator, TableSettings};
use seminas_tests::{reference_file, registry};

fn nasbench101_rows() -> Option<(std::sync::Arc<dyn SearchSpace>, Vec<(Arch, f64)>)> {
    let path = reference_file("nasbench101/sample-11k.jsonl")?;
    let space = registry().build_space(&Component::new(ComponentKind::Space, "nasbench101")).unwrap();
    let settings = TableSettings {
        path: path.display().to_string(),
        arch_column: None,
        signal: "val_acc.108".into(),
        report: Default::default(),
        cost: None,
        rank_by: None,
    };
    let mut table = TableEvaluator::load(space.as_ref(), &path, &settings).unwrap();
    let mut rows = Vec::new();
    for arch in seminas_core::Evaluator::members(&table).unwrap() {
        let key = space.key(&arch).unwrap();
        let signal = seminas_core::Evaluator::evaluate(&mut table, &arch, &key).unwrap().signal;
        rows.push((arch, signal));
    }
    assert_eq!(rows.len(), 11_000);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    rows.shuffle(&mut rng);
    Some((space, rows))
}

#[test]
fn controller_learns_nasbench101() {
    let Some((space, rows)) = nasbench101_rows() else { return };
    let train = &rows[..1000];
    let test = &rows[1000..4000];
    let device = seminas_core::DeviceSpec::Flex.device().unwrap();
    let mut controller = NaoController::new(NaoSettings::default(), space.encoding(), &device, 3).unwrap();
    let settings = SemiSupervised { m: 0, up_sample: 1, pretrain_epochs: 150, epochs: 0 };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let report = evaluate_predictor(&mut controller, space.as_ref(), train, test, &settings, &mut rng).unwrap();
    println!("held-out predictor quality with 1000 labelled cells: {}", serde_json::to_string(&report).unwrap());
    assert!(report.kendall_tau > 0.4, "Kendall tau {} should exceed 0.4", report.kendall_tau);

    // Reconstruction of the training cells. The decoder, like the official one, emits only
    // edge and operation tokens, never the padding of cells with fewer than 7 vertices, so
    // the accuracy is measured on the 7-vertex cells (84% of the sample).
    let seqs: Vec<Vec<usize>> = train.iter().map(|(a, _)| space.encode(a).unwrap()).collect();
    let full: Vec<Vec<usize>> = seqs.iter().filter(|s| !s.contains(&0)).cloned().collect();
    let rebuilt = controller.reconstruct(&full).unwrap();
    let total: usize = full.iter().map(Vec::len).sum();
    let same: usize = full.iter().zip(&rebuilt).map(|(a, b)| a.iter().zip(b).filter(|(x, y)| x == y).count()).sum();
    let accuracy = same as f64 / total as f64;
    println!("reconstruction accuracy on {} 7-vertex training cells: {accuracy:.4}", full.len());
    // Chance level is about 0.45 (half the edge tokens, a quarter of the op tokens). With the
    // 1,500 training steps used here the decoder reaches about 0.68; the 0.95 of a fully
    // trained controller needs the official schedule's ~10,000 steps (see issue notes).
    assert!(accuracy > 0.6, "reconstruction accuracy {accuracy} should exceed 0.6");

    // Gradient ascent raises the predicted score of the decoded architectures.
    let seeds: Vec<Vec<usize>> = seqs[..200].to_vec();
    let before = controller.predict(&seeds).unwrap();
    let moved = controller.ascend(&seeds, 10.0).unwrap();
    let after = controller.predict(&moved).unwrap();
    let changed: Vec<usize> = (0..seeds.len()).filter(|&i| moved[i] != seeds[i]).collect();
    let raised = changed.iter().filter(|&&i| after[i] > before[i]).count();
    println!("gradient ascent changed {} of {} seeds and raised the prediction of {raised}", changed.len(), seeds.len());
    assert!(changed.len() >= 20, "gradient ascent should change a good share of the seeds");
    assert!(raised * 2 > changed.len(), "gradient ascent should raise the predicted score for most seeds");
}

#[test]
fn controller_training_is_deterministic() {
    let Some((space, rows)) = nasbench101_rows() else { return };
    let normalizer = Normalizer::fit(&rows[..200].iter().map(|r| r.1).collect::<Vec<_>>());
    let examples: Vec<Example> = rows[..200]
        .iter()
        .map(|(a, s)| Example { tokens: space.encode(a).unwrap(), score: normalizer.forward(*s) })
        .collect();
    let device = seminas_core::DeviceSpec::Flex.device().unwrap();
    let run = || {
        let mut c = NaoController::new(NaoSettings::default(), space.encoding(), &device, 11).unwrap();
        let report = c.fit(&examples, 3).unwrap();
        (report.score_loss, c.predict(&examples.iter().map(|e| e.tokens.clone()).collect::<Vec<_>>()).unwrap())
    };
    assert_eq!(run(), run());
}
