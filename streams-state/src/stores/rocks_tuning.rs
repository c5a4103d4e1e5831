//! What every RocksDB supplier lets an application tune: the resources its stores draw on
//! and a config setter.

use std::sync::Arc;

use streams_core::StoreMemory;

use crate::rocks::{RocksDbConfigSetter, RocksDbResources};

/// The tuning of a RocksDB supplier's stores; the default is the instance's memory budget
/// (or the process-wide resources without one), untuned.
#[derive(Clone, Default)]
pub(super) struct RocksTuning {
    pub(super) resources: Option<Arc<RocksDbResources>>,
    pub(super) setter: Option<Arc<dyn RocksDbConfigSetter>>,
}

impl RocksTuning {
    /// The resources to open a store with: the supplier's own, else those of the
    /// instance's memory budget (`memory`), else the process-wide ones.
    pub(super) fn resources(&self, memory: Option<StoreMemory>) -> Arc<RocksDbResources> {
        match (&self.resources, memory) {
            (Some(own), _) => Arc::clone(own),
            (None, Some(memory)) => RocksDbResources::for_memory(memory),
            (None, None) => RocksDbResources::shared(),
        }
    }

    /// The config setter to open a store with.
    pub(super) fn setter(&self) -> Option<Arc<dyn RocksDbConfigSetter>> {
        self.setter.clone()
    }
}

/// The tuning setters of a supplier whose `tuning` field is a [`RocksTuning`]; `$what` names
/// what a setter tunes ("store", "segment").
macro_rules! tuning_setters {
    ($what:literal) => {
        #[doc = concat!("Tunes each ", $what, " with `setter`.")]
        #[must_use]
        pub fn with_config_setter(
            mut self,
            setter: ::std::sync::Arc<dyn $crate::RocksDbConfigSetter>,
        ) -> Self {
            self.tuning.setter = Some(setter);
            self
        }

        /// Draws on `resources` instead of the instance's `memory.budget.bytes` share, or the
        /// process-wide [`RocksDbResources::shared`]($crate::RocksDbResources::shared) without
        /// a budget. Stores given their own resources are outside the budget.
        #[must_use]
        pub fn with_resources(
            mut self,
            resources: ::std::sync::Arc<$crate::RocksDbResources>,
        ) -> Self {
            self.tuning.resources = Some(resources);
            self
        }
    };
}

pub(super) use tuning_setters;
