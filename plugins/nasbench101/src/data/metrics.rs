//! The `nasbench.ModelMetrics` protobuf of the data set's records, generated at build time
//! from `proto/model_metrics.proto` (`syntax = "proto2"`, so every scalar is optional).

include!(concat!(env!("OUT_DIR"), "/nasbench.rs"));

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn wire_format_matches_the_proto() {
        // Hand-assembled bytes for ModelMetrics { evaluation_data: [{ current_epoch: 1.0,
        // test_accuracy: 0.5 }], trainable_parameters: 300, total_time: 2.0 }:
        // field 1 (message) = 0x0a, field 2 (varint) = 0x10, field 3 (double) = 0x19;
        // inside, field 1 (double) = 0x09, field 5 (double) = 0x29.
        let mut inner = vec![0x09];
        inner.extend_from_slice(&1.0f64.to_le_bytes());
        inner.push(0x29);
        inner.extend_from_slice(&0.5f64.to_le_bytes());
        let mut bytes = vec![0x0a, inner.len() as u8];
        bytes.extend_from_slice(&inner);
        bytes.extend_from_slice(&[0x10, 0xac, 0x02]);
        bytes.push(0x19);
        bytes.extend_from_slice(&2.0f64.to_le_bytes());
        let m = ModelMetrics::decode(bytes.as_slice()).unwrap();
        assert_eq!(m.trainable_parameters, Some(300));
        assert_eq!(m.total_time, Some(2.0));
        assert_eq!(m.evaluation_data.len(), 1);
        assert_eq!(m.evaluation_data[0].current_epoch, Some(1.0));
        assert_eq!(m.evaluation_data[0].test_accuracy, Some(0.5));
        assert_eq!(m.evaluation_data[0].training_time, None);
        assert_eq!(m.encode_to_vec(), bytes);
    }
}
