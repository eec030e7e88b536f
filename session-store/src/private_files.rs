//! Files and folders only their owner may read: what the file stores create
//! their session files, locks, temporary writes and folders with.
//!
//! On Unix that is mode 0600 for files and 0700 for folders, set as they are
//! created (no window in which another user could open them). Elsewhere the
//! store relies on the platform's defaults: on Windows a file inherits the
//! access list of its folder, and a user's profile folders (where session
//! files belong) are private to that user. Point the stores at such a
//! folder; a shared folder gives a shared file.

use std::fs::{DirBuilder, OpenOptions};
use std::io;
use std::path::Path;

/// A recursive folder builder that creates owner-only folders.
pub(crate) fn folder_builder() -> DirBuilder {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
}

/// Makes `options` create owner-only files.
pub(crate) fn owner_only(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(options, 0o600);
    options
}

/// Flushes a folder's entries (a rename into it) to disk, where the
/// platform lets a folder be opened; elsewhere the rename's own durability
/// is what there is.
pub(crate) fn sync_folder(folder: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(folder)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = folder;
        Ok(())
    }
}
