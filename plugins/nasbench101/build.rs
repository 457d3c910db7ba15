//! Generates the `nasbench.ModelMetrics` protobuf types from `proto/model_metrics.proto`
//! (protox parses the schema in Rust, so no `protoc` is needed).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/model_metrics.proto";
    println!("cargo:rerun-if-changed={proto}");
    let descriptors = protox::compile([proto], ["proto"])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
