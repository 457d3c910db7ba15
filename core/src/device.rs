//! Device selection: the one place that knows which Burn backends were compiled in.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A device named in a config or on the command line.
///
/// Syntax: `flex` (pure-Rust CPU, the default), `libtorch` (libtorch CPU),
/// `libtorch-cuda:N` (libtorch on CUDA GPU N), `cuda:N` (CubeCL CUDA GPU N).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DeviceSpec {
    /// Burn's pure-Rust CPU backend.
    #[default]
    Flex,
    /// libtorch on the CPU (feature `libtorch`).
    Libtorch,
    /// libtorch on CUDA GPU `N` (feature `libtorch`).
    LibtorchCuda(usize),
    /// CubeCL CUDA GPU `N` (feature `cuda`).
    Cuda(usize),
}

impl FromStr for DeviceSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let index = |rest: &str| {
            rest.parse::<usize>()
                .map_err(|_| Error::Device(format!("`{s}`: expected a GPU index after `:`, e.g. `{}0`", &s[..s.len() - rest.len()])))
        };
        match s {
            "flex" | "cpu" => Ok(DeviceSpec::Flex),
            "libtorch" => Ok(DeviceSpec::Libtorch),
            "libtorch-cuda" => Ok(DeviceSpec::LibtorchCuda(0)),
            "cuda" => Ok(DeviceSpec::Cuda(0)),
            _ => {
                if let Some(rest) = s.strip_prefix("libtorch-cuda:") {
                    Ok(DeviceSpec::LibtorchCuda(index(rest)?))
                } else if let Some(rest) = s.strip_prefix("cuda:") {
                    Ok(DeviceSpec::Cuda(index(rest)?))
                } else {
                    Err(Error::Device(format!(
                        "unknown device `{s}`; expected flex, libtorch, libtorch-cuda:N or cuda:N"
                    )))
                }
            }
        }
    }
}

impl TryFrom<String> for DeviceSpec {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<DeviceSpec> for String {
    fn from(d: DeviceSpec) -> String {
        d.to_string()
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Flex => f.write_str("flex"),
            DeviceSpec::Libtorch => f.write_str("libtorch"),
            DeviceSpec::LibtorchCuda(i) => write!(f, "libtorch-cuda:{i}"),
            DeviceSpec::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

impl DeviceSpec {
    /// The Burn device, or an error naming the cargo feature to build with.
    pub fn device(&self) -> Result<Device> {
        match self {
            DeviceSpec::Flex => Ok(Device::flex()),
            DeviceSpec::Libtorch => libtorch_device(None),
            DeviceSpec::LibtorchCuda(i) => libtorch_device(Some(*i)),
            DeviceSpec::Cuda(i) => cuda_device(*i),
        }
    }
}

#[cfg(feature = "libtorch")]
#[allow(deprecated)] // burn-tch is the GPU backend this project documents.
fn libtorch_device(gpu: Option<usize>) -> Result<Device> {
    match gpu {
        None => Ok(Device::libtorch()),
        Some(i) => {
            let found = tch::Cuda::device_count().max(0) as usize;
            if i >= found {
                return Err(Error::Device(format!(
                    "libtorch-cuda:{i} requested but libtorch sees {found} CUDA device(s){}",
                    if found == 0 { String::new() } else { format!(": libtorch-cuda:0..{}", found - 1) }
                )));
            }
            Ok(Device::libtorch_cuda(i))
        }
    }
}

#[cfg(not(feature = "libtorch"))]
fn libtorch_device(_gpu: Option<usize>) -> Result<Device> {
    Err(Error::Device(
        "this build has no libtorch backend; rebuild with `--features libtorch` (see README, \"libtorch\")".into(),
    ))
}

#[cfg(feature = "cuda")]
fn cuda_device(i: usize) -> Result<Device> {
    // Checked up front: CubeCL would otherwise fail on the first kernel launch. Enumeration
    // answers 0 on a machine without the NVIDIA driver rather than failing.
    let found = Device::enumerate(burn::tensor::DeviceType::Cuda).into_vec().len();
    if i >= found {
        return Err(Error::Device(format!(
            "cuda:{i} requested but CubeCL sees {found} CUDA device(s){}",
            if found == 0 { " (no NVIDIA driver or GPU on this machine)".to_string() } else { format!(": cuda:0..{}", found - 1) }
        )));
    }
    Ok(Device::cuda(i))
}

#[cfg(not(feature = "cuda"))]
fn cuda_device(_i: usize) -> Result<Device> {
    Err(Error::Device("this build has no CUDA backend; rebuild with `--features cuda`".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        for s in ["flex", "libtorch", "libtorch-cuda:1", "cuda:0"] {
            assert_eq!(s.parse::<DeviceSpec>().unwrap().to_string(), s);
        }
        assert!("tpu".parse::<DeviceSpec>().unwrap_err().to_string().contains("unknown device"));
        assert!("cuda:x".parse::<DeviceSpec>().is_err());
    }

    /// A GPU index past the machine's GPUs is an error naming what there is (every machine has
    /// fewer than 99 GPUs); without the backend's feature it is an error naming the feature.
    #[test]
    fn absent_gpus_are_errors() {
        let err = DeviceSpec::LibtorchCuda(99).device().unwrap_err().to_string();
        if cfg!(feature = "libtorch") {
            assert!(err.contains("libtorch-cuda:99 requested but libtorch sees") && err.contains("CUDA device(s)"), "{err}");
        } else {
            assert!(err.contains("--features libtorch"), "{err}");
        }
        let err = DeviceSpec::Cuda(99).device().unwrap_err().to_string();
        if cfg!(feature = "cuda") {
            assert!(err.contains("cuda:99 requested but CubeCL sees") && err.contains("CUDA device(s)"), "{err}");
        } else {
            assert!(err.contains("--features cuda"), "{err}");
        }
    }

    #[test]
    fn compiled_in_backends_build_their_devices() {
        assert!(DeviceSpec::Flex.device().is_ok());
        let libtorch = DeviceSpec::Libtorch.device();
        if cfg!(feature = "libtorch") {
            assert!(libtorch.is_ok());
        } else {
            let err = libtorch.unwrap_err().to_string();
            assert!(err.contains("--features libtorch"), "{err}");
        }
    }
}
