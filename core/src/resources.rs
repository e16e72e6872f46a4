//! One size type for everything that counts resources: what an instance asks for, what it holds,
//! what an agent offers, what a plan allows and what a meter bills. CPUs are counted in
//! thousandths so arithmetic stays exact; the conversion from a core count lives here only.

use serde::{Deserialize, Serialize};

use crate::compute::{DEFAULT_CPUS, DEFAULT_MEMORY, DEFAULT_VM_MEMORY};
use crate::{Instance, InstanceSpec};

/// An amount of each resource.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Resources {
    /// Thousandths of a core.
    pub millicpus: u64,
    /// Bytes.
    pub memory: u64,
    /// Bytes.
    #[serde(default)]
    pub disk: u64,
    #[serde(default)]
    pub gpus: u32,
}

impl Resources {
    pub fn new(millicpus: u64, memory: u64, disk: u64, gpus: u32) -> Self {
        Self {
            millicpus,
            memory,
            disk,
            gpus,
        }
    }

    /// From a core count (fractions allowed), rounded to the nearest thousandth.
    pub fn from_cpus(cpus: f64, memory: u64, disk: u64) -> Self {
        Self::new(millicpus(cpus), memory, disk, 0)
    }

    /// What a spec asks for, with the defaults every provider applies where it leaves a size
    /// unset (see [`InstanceSpec::apply_defaults`]).
    pub fn of(spec: &InstanceSpec) -> Self {
        let memory = if spec.vm.is_some() {
            DEFAULT_VM_MEMORY
        } else {
            DEFAULT_MEMORY
        };
        Self::from_cpus(
            spec.cpus.unwrap_or(DEFAULT_CPUS),
            spec.memory.unwrap_or(memory),
            spec.disk.unwrap_or(0),
        )
    }

    /// What an instance holds, with the container defaults where its backend reports no limit.
    pub fn held(instance: &Instance) -> Self {
        Self::sized(instance.cpus, instance.memory, instance.disk)
    }

    /// A size from optional parts, with the container defaults where one is unset (no disk).
    pub fn sized(cpus: Option<f64>, memory: Option<u64>, disk: Option<u64>) -> Self {
        Self::from_cpus(
            cpus.unwrap_or(DEFAULT_CPUS),
            memory.unwrap_or(DEFAULT_MEMORY),
            disk.unwrap_or(0),
        )
    }

    /// The same without disk: what a meter bills by the hour.
    pub fn compute_only(self) -> Self {
        Self { disk: 0, ..self }
    }

    /// Cores, for people and for the REST views.
    pub fn cpus(&self) -> f64 {
        self.millicpus as f64 / 1000.0
    }

    /// Whether `self` fits within `room`.
    pub fn fits(&self, room: &Resources) -> bool {
        self.millicpus <= room.millicpus
            && self.memory <= room.memory
            && self.disk <= room.disk
            && self.gpus <= room.gpus
    }

    pub fn saturating_sub(&self, other: &Resources) -> Resources {
        Resources {
            millicpus: self.millicpus.saturating_sub(other.millicpus),
            memory: self.memory.saturating_sub(other.memory),
            disk: self.disk.saturating_sub(other.disk),
            gpus: self.gpus.saturating_sub(other.gpus),
        }
    }

    pub fn saturating_add(&self, other: &Resources) -> Resources {
        Resources {
            millicpus: self.millicpus.saturating_add(other.millicpus),
            memory: self.memory.saturating_add(other.memory),
            disk: self.disk.saturating_add(other.disk),
            gpus: self.gpus.saturating_add(other.gpus),
        }
    }
}

/// Thousandths of `cpus` cores (negative and NaN count as none).
pub fn millicpus(cpus: f64) -> u64 {
    (cpus * 1000.0).round().max(0.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::VmSpec;

    #[test]
    fn a_spec_counts_the_defaults_its_provider_applies() {
        let spec = InstanceSpec::new("a", "img");
        assert_eq!(
            Resources::of(&spec),
            Resources::new(1000, DEFAULT_MEMORY, 0, 0)
        );
        let mut vm = InstanceSpec::new("v", "img");
        vm.vm = Some(VmSpec::default());
        assert_eq!(Resources::of(&vm).memory, DEFAULT_VM_MEMORY);
        let mut applied = vm.clone();
        applied.apply_defaults();
        assert_eq!(Resources::of(&applied), Resources::of(&vm));
        assert_eq!(Resources::of(&spec.cpus(0.25)).millicpus, 250);
    }

    #[test]
    fn millicpus_round_and_never_wrap() {
        assert_eq!(millicpus(1.0005), 1001);
        assert_eq!(millicpus(-1.0), 0);
        assert_eq!(millicpus(f64::NAN), 0);
        assert_eq!(Resources::from_cpus(2.5, 1, 2).cpus(), 2.5);
    }
}
