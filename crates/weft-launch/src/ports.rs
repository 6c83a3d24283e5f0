//! Port allocation that holds across checkouts: a port is taken by holding an
//! exclusive `flock` on a file named after it in a directory every weft
//! process of this user shares, and checked free by binding it.
//!
//! The kernel drops the lock when its holder dies, so a killed supervisor
//! never leaves a port reserved.

use std::collections::hash_map::DefaultHasher;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};

use weft_model::config::PortRange;

use crate::error::LaunchError;

/// A port reserved on this machine until dropped.
#[derive(Debug)]
pub struct PortLease {
    pub port: u16,
    _lock: File,
}

/// Hands out ports no other weft process holds and nothing listens on.
#[derive(Debug, Clone)]
pub struct PortAllocator {
    directory: PathBuf,
}

impl PortAllocator {
    /// The allocator shared by every weft process of this user.
    pub fn for_this_machine() -> Result<Self, LaunchError> {
        let base = std::env::var_os("WEFT_PORT_DIR")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("XDG_RUNTIME_DIR").map(|d| PathBuf::from(d).join("weft")))
            .unwrap_or_else(|| {
                std::env::temp_dir().join(format!("weft-{}", nix::unistd::getuid()))
            });
        Self::in_directory(base.join("ports"))
    }

    pub fn in_directory(directory: PathBuf) -> Result<Self, LaunchError> {
        fs_err::create_dir_all(&directory).map_err(|e| LaunchError::Io {
            path: directory.clone(),
            source: e,
        })?;
        Ok(PortAllocator { directory })
    }

    pub fn directory(&self) -> &Path {
        &self.directory
    }

    /// Reserves `port` if no one holds it and it can be bound.
    pub fn try_reserve(&self, port: u16) -> Option<PortLease> {
        if port == 0 {
            return None;
        }
        let path = self.directory.join(format!("{port}.lock"));
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .ok()?;
        file.try_lock().ok()?;
        if !bindable(port) {
            return None;
        }
        Some(PortLease { port, _lock: file })
    }

    /// `preferred` when free, else a free port of `range`, starting at a point
    /// derived from `seed` so that a service tends to get the same port each time.
    pub fn reserve(
        &self,
        preferred: Option<u16>,
        range: PortRange,
        seed: &str,
        held: &[u16],
    ) -> Option<PortLease> {
        if let Some(port) = preferred
            && !held.contains(&port)
            && let Some(lease) = self.try_reserve(port)
        {
            return Some(lease);
        }
        let size = u32::from(range.last - range.first) + 1;
        let mut hasher = DefaultHasher::new();
        seed.hash(&mut hasher);
        let start = (hasher.finish() % u64::from(size)) as u32;
        (0..size)
            .map(|step| range.first + ((start + step) % size) as u16)
            .filter(|port| !held.contains(port))
            .find_map(|port| self.try_reserve(port))
    }
}

/// Whether nothing listens on `port`, on the loopback and on every address.
fn bindable(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
        && TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_or_bound_port_is_not_handed_out_twice() {
        let directory = tempfile::tempdir().unwrap();
        let one = PortAllocator::in_directory(directory.path().to_path_buf()).unwrap();
        let two = PortAllocator::in_directory(directory.path().to_path_buf()).unwrap();
        let range = PortRange {
            first: 20000,
            last: 60000,
        };
        let lease = one.reserve(None, range, "api", &[]).unwrap();
        // Another allocator (as in another checkout) cannot take it.
        assert!(two.try_reserve(lease.port).is_none());
        let other = two.reserve(Some(lease.port), range, "api", &[]).unwrap();
        assert_ne!(other.port, lease.port);
        // Released on drop.
        let port = lease.port;
        drop(lease);
        assert!(two.try_reserve(port).is_some());
        // A port something listens on is skipped.
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let bound = listener.local_addr().unwrap().port();
        assert!(one.try_reserve(bound).is_none());
    }
}
