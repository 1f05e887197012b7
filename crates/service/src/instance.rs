//! Which process holds a refresh lease, and whether that process still runs.
//!
//! A process that refreshes tokens (`pinion serve`, `pinion credentials
//! refresh`) registers an instance in its data directory: a new file
//! `instances/inst_<128-bit hex>.lock` that it keeps locked exclusively (an OS
//! file lock, which the kernel releases when the process ends, however it
//! ends). Its refresh leases carry the instance id (`att_…@inst_…`).
//!
//! A lease marker whose instance file is in this data directory and can be
//! locked belongs to a process that is gone: the token manager expires that
//! lease at once instead of waiting out its duration, and the usual claim then
//! resolves the refresh as one whose outcome is unknown. Anything else (the
//! file is locked, or not here because the lease is another machine's, or the
//! marker carries no instance) is left to the lease duration. Liveness is thus
//! asked of the kernel, never guessed from a node name, so several replicas on
//! one PostgreSQL (each with its own data directory, or sharing one) never cut
//! each other's live leases short.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

/// The directory of instance lock files inside a data directory.
pub const INSTANCES_DIR: &str = "instances";

const PREFIX: &str = "inst_";

/// The instance registry of one data directory.
#[derive(Debug, Clone)]
pub struct Instances {
    dir: PathBuf,
}

/// What the registry knows of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// Its process holds its lock.
    Running,
    /// Its lock file is here and unlocked: the process ended.
    Ended,
    /// Not registered here (another data directory or machine), or unreadable.
    Unknown,
}

/// This process's registration; the lock is held until it is dropped.
#[derive(Debug)]
pub struct Instance {
    id: String,
    path: PathBuf,
    registry: Instances,
    _lock: File,
}

impl Instances {
    /// The registry under `data_dir`.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join(INSTANCES_DIR),
        }
    }

    /// Registers this process: creates a new lock file and locks it.
    pub fn register(&self) -> std::io::Result<Instance> {
        pinion_store::private_fs::create_dir_all(&self.dir)?;
        let id = pinion_domain::FlowId::generate()
            .as_str()
            .replace("flow_", PREFIX);
        let path = self.path_of(&id).ok_or_else(|| {
            std::io::Error::other("a generated instance id is not a valid file name")
        })?;
        let file = pinion_store::private_fs::open_options()
            .write(true)
            .create_new(true)
            .open(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(std::io::Error::other("a new instance file is locked"));
            }
            Err(TryLockError::Error(err)) => return Err(err),
        }
        Ok(Instance {
            id,
            path,
            registry: self.clone(),
            _lock: file,
        })
    }

    /// Whether the instance `id` still runs, as far as this data directory can tell.
    pub fn liveness(&self, id: &str) -> Liveness {
        let Some(path) = self.path_of(id) else {
            return Liveness::Unknown;
        };
        let Ok(file) = File::open(&path) else {
            return Liveness::Unknown;
        };
        match file.try_lock() {
            // Dropping `file` releases the lock again at once.
            Ok(()) => Liveness::Ended,
            Err(TryLockError::WouldBlock) => Liveness::Running,
            Err(TryLockError::Error(_)) => Liveness::Unknown,
        }
    }

    /// Deletes the files of ended instances not in `keep` (those still named
    /// by a lease marker); returns how many were deleted.
    pub fn forget_ended(&self, keep: &[&str]) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        let mut forgotten = 0;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".lock")) else {
                continue;
            };
            if keep.contains(&id) || self.liveness(id) != Liveness::Ended {
                continue;
            }
            if std::fs::remove_file(entry.path()).is_ok() {
                forgotten += 1;
            }
        }
        forgotten
    }

    /// The lock file of `id`, if `id` is a well-formed instance id (it comes
    /// from the database, so it is checked before it names a file).
    fn path_of(&self, id: &str) -> Option<PathBuf> {
        let hex = id.strip_prefix(PREFIX)?;
        (hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| self.dir.join(format!("{id}.lock")))
    }
}

impl Instance {
    /// This instance's id (`inst_…`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The registry it belongs to.
    pub fn registry(&self) -> &Instances {
        &self.registry
    }
}

impl Drop for Instance {
    /// A clean exit removes the file (a lease it left, e.g. a refresh whose
    /// outcome is unknown, then waits out its duration as an unknown
    /// instance's would). A crash leaves the file, unlocked, for others to find.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The instance id an attempt id carries (`…@inst_…`), if any.
pub(crate) fn instance_of(attempt_id: &str) -> Option<&str> {
    attempt_id.rsplit_once('@').map(|(_, instance)| instance)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registered_instance_runs_until_dropped_then_is_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let registry = Instances::in_data_dir(dir.path());
        let instance = registry.register().unwrap();
        let id = instance.id().to_owned();
        assert_eq!(registry.liveness(&id), Liveness::Running);
        assert_eq!(registry.forget_ended(&[]), 0);
        drop(instance);
        assert_eq!(registry.liveness(&id), Liveness::Unknown);
    }

    #[test]
    fn an_unlocked_file_is_an_ended_instance_and_is_forgotten_unless_kept() {
        let dir = tempfile::tempdir().unwrap();
        let registry = Instances::in_data_dir(dir.path());
        let _running = registry.register().unwrap();
        // What a crash leaves: the file, with no process holding its lock.
        let id = "inst_0123456789abcdef0123456789abcdef";
        let path = registry.path_of(id).unwrap();
        std::fs::write(&path, b"").unwrap();
        assert_eq!(registry.liveness(id), Liveness::Ended);
        assert_eq!(registry.forget_ended(&[id]), 0);
        assert!(path.exists());
        assert_eq!(registry.forget_ended(&[]), 1);
        assert!(!path.exists());
        assert_eq!(registry.liveness(id), Liveness::Unknown);
    }

    #[test]
    fn ids_that_are_not_instance_ids_name_no_file() {
        let registry = Instances::in_data_dir(Path::new("/nonexistent"));
        for id in [
            "",
            "inst_",
            "inst_../../etc/passwd",
            "other_0123",
            "inst_zz",
        ] {
            assert_eq!(registry.liveness(id), Liveness::Unknown, "{id}");
        }
        assert_eq!(
            instance_of("att_00@inst_0123456789abcdef0123456789abcdef"),
            Some("inst_0123456789abcdef0123456789abcdef")
        );
        assert_eq!(instance_of("att_00"), None);
    }
}
