//! The payload of one record of the data set: one training run of one cell.
//!
//! Each payload is the JSON text of `[module_hash, epochs, raw_adjacency, raw_operations,
//! raw_metrics]` (the order the official `api.NASBench` reader unpacks): the 32-hex module hash,
//! the epoch budget, the adjacency matrix as a string of `n * n` digits `0`/`1` (row by row), the
//! op labels joined by commas, and a base64-encoded [`ModelMetrics`] protobuf.

use std::borrow::Cow;

use base64::Engine;
use prost::Message;
use serde::Deserialize;

use super::metrics::{EvaluationData, ModelMetrics};
use crate::spec::{ModelSpec, Op, RawCell, MAX_VERTICES};

/// One evaluation point of a run (the halfway or the final evaluation).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Evaluation {
    /// Training time in seconds up to this point.
    pub training_time: f64,
    /// Accuracy on 10,000 training images.
    pub train_accuracy: f64,
    /// Validation accuracy.
    pub validation_accuracy: f64,
    /// Test accuracy.
    pub test_accuracy: f64,
}

impl Evaluation {
    fn from_proto(e: &EvaluationData) -> Evaluation {
        Evaluation {
            training_time: e.training_time.unwrap_or(0.0),
            train_accuracy: e.train_accuracy.unwrap_or(0.0),
            validation_accuracy: e.validation_accuracy.unwrap_or(0.0),
            test_accuracy: e.test_accuracy.unwrap_or(0.0),
        }
    }
}

/// One training run of a cell at one epoch budget: the halfway and final evaluations, as the
/// official reader keeps them (`evaluation_data[1]` and `[2]`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Run {
    /// Evaluation halfway through training.
    pub halfway: Evaluation,
    /// Evaluation at the end of training.
    pub end: Evaluation,
}

/// One parsed record.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedRecord {
    /// The module hash as stored (32 lowercase hex digits).
    pub hash: [u8; 32],
    /// The epoch budget.
    pub epochs: u32,
    /// The cell (pruned).
    pub spec: ModelSpec,
    /// Trainable parameters.
    pub params: i32,
    /// The run.
    pub run: Run,
}

#[derive(Deserialize)]
struct RawPayload<'a>(
    #[serde(borrow)] Cow<'a, str>,
    u32,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
);

/// Parses one payload; the error says what is wrong (the caller adds the record's place).
pub fn parse(payload: &[u8]) -> Result<ParsedRecord, String> {
    let RawPayload(hash, epochs, adjacency, operations, metrics) = serde_json::from_slice(payload)
        .map_err(|e| {
            format!(
                "not a JSON array [module_hash, epochs, raw_adjacency, raw_operations, \
                 raw_metrics]: {e}"
            )
        })?;
    let hash_bytes: [u8; 32] = hash
        .as_bytes()
        .try_into()
        .ok()
        .filter(|h: &[u8; 32]| h.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .ok_or_else(|| format!("module hash `{hash}` is not 32 lowercase hex digits"))?;
    let spec = parse_cell(&adjacency, &operations)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(metrics.as_bytes())
        .map_err(|e| format!("metrics are not base64: {e}"))?;
    let metrics = ModelMetrics::decode(bytes.as_slice())
        .map_err(|e| format!("metrics are not a nasbench.ModelMetrics protobuf: {e}"))?;
    if metrics.evaluation_data.len() < 3 {
        return Err(format!(
            "metrics hold {} evaluations; at least 3 (start, halfway, end) are expected",
            metrics.evaluation_data.len()
        ));
    }
    Ok(ParsedRecord {
        hash: hash_bytes,
        epochs,
        spec,
        params: metrics.trainable_parameters.unwrap_or(0),
        run: Run {
            halfway: Evaluation::from_proto(&metrics.evaluation_data[1]),
            end: Evaluation::from_proto(&metrics.evaluation_data[2]),
        },
    })
}

/// Reads `raw_adjacency` and `raw_operations` into a pruned, valid cell.
pub fn parse_cell(adjacency: &str, operations: &str) -> Result<ModelSpec, String> {
    let len = adjacency.len();
    let n = (1..=MAX_VERTICES).find(|&n| n * n == len).ok_or_else(|| {
        format!("adjacency `{adjacency}` is not a square matrix of at most {MAX_VERTICES} vertices")
    })?;
    let mut ops = [Op::Input; MAX_VERTICES];
    let mut count = 0;
    for label in operations.split(',') {
        if count == n {
            count += 1;
            break;
        }
        ops[count] = Op::from_label(label)
            .ok_or_else(|| format!("unknown operation `{label}` in `{operations}`"))?;
        count += 1;
    }
    if count != n {
        return Err(format!("{n} vertices but operations `{operations}`"));
    }
    let mut rows = [0u8; MAX_VERTICES];
    for (i, c) in adjacency.bytes().enumerate() {
        match c {
            b'0' => {}
            b'1' => rows[i / n] |= 1 << (i % n),
            _ => return Err(format!("adjacency `{adjacency}` holds `{}`", c as char)),
        }
    }
    RawCell::from_rows(&rows[..n], &ops[..n])
        .and_then(|raw| raw.prune())
        .map_err(|e| format!("invalid cell {adjacency} [{operations}]: {e}"))
}

/// The payload text for one run, in the official format (Python's `json.dumps` spacing).
pub fn format(hash: &str, epochs: u32, spec: &ModelSpec, metrics: &ModelMetrics) -> String {
    let n = spec.num_vertices();
    let mut adjacency = String::with_capacity(n * n);
    for v in 0..n {
        for w in 0..n {
            adjacency.push(if spec.has_edge(v, w) { '1' } else { '0' });
        }
    }
    let operations: Vec<&str> = spec.ops().iter().map(|op| op.label()).collect();
    let metrics = base64::engine::general_purpose::STANDARD.encode(metrics.encode_to_vec());
    format!(
        "[\"{hash}\", {epochs}, \"{adjacency}\", \"{}\", \"{metrics}\"]",
        operations.join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> ModelMetrics {
        let point = |epoch: f64, time: f64, acc: f64| EvaluationData {
            current_epoch: Some(epoch),
            training_time: Some(time),
            train_accuracy: Some(acc + 0.05),
            validation_accuracy: Some(acc),
            test_accuracy: Some(acc - 0.01),
            checkpoint_path: Some(String::new()),
        };
        ModelMetrics {
            evaluation_data: vec![
                point(0.0, 0.0, 0.1),
                point(54.0, 800.0, 0.85),
                point(108.0, 1600.0, 0.9),
            ],
            trainable_parameters: Some(2_694_282),
            total_time: Some(1700.0),
        }
    }

    #[test]
    fn round_trip() {
        let spec = ModelSpec::parse_json(
            r#"{"matrix":[[0,1,1],[0,0,1],[0,0,0]],"ops":["input","maxpool3x3","output"]}"#,
        )
        .unwrap();
        let text = format(&spec.hash(), 108, &spec, &metrics());
        assert!(
            text.starts_with(&format!(
                "[\"{}\", 108, \"011001000\", \"input,maxpool3x3,output\", \"",
                spec.hash()
            )),
            "{text}"
        );
        let parsed = parse(text.as_bytes()).unwrap();
        assert_eq!(parsed.spec, spec);
        assert_eq!(parsed.epochs, 108);
        assert_eq!(&parsed.hash, spec.hash().as_bytes());
        assert_eq!(parsed.params, 2_694_282);
        assert_eq!(parsed.run.halfway.training_time, 800.0);
        assert_eq!(parsed.run.end.validation_accuracy, 0.9);
        assert_eq!(parsed.run.end.test_accuracy, 0.9 - 0.01);
        assert_eq!(parsed.run.end.train_accuracy, 0.9 + 0.05);
    }

    #[test]
    fn malformed_payloads_are_explained() {
        let spec =
            ModelSpec::parse_json(r#"{"matrix":[[0,1],[0,0]],"ops":["input","output"]}"#).unwrap();
        let good = format(&spec.hash(), 108, &spec, &metrics());
        let cases = [
            ("not json".to_string(), "JSON array"),
            (good.replacen(&spec.hash(), "XYZ", 1), "hex"),
            (good.replace("\"0100\"", "\"010\""), "square"),
            (good.replace("\"0100\"", "\"0120\""), "holds"),
            (
                good.replace("input,output", "input,conv5x5"),
                "unknown operation",
            ),
            (
                good.replace("input,output", "input,output,output"),
                "operations",
            ),
            (good.replace("\"0100\"", "\"0000\""), "invalid cell"),
        ];
        for (text, want) in cases {
            let err = parse(text.as_bytes()).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
        let mut few = metrics();
        few.evaluation_data.truncate(2);
        let err = parse(format(&spec.hash(), 108, &spec, &few).as_bytes()).unwrap_err();
        assert!(err.contains("at least 3"), "{err}");
        let bad_b64 = good.replace("\"]", "!\"]");
        assert!(parse(bad_b64.as_bytes()).unwrap_err().contains("base64"));
    }
}
