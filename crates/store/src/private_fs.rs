//! Files and folders readable by their owner only (SECURITY.md R32).
//!
//! Everything Pinion creates in its data directory (the directory itself, the
//! SQLite database and its `-wal` and `-shm` files, the key file,
//! `instances/` and its lock files, sync outputs) holds secrets or users'
//! data, so it is created mode 0700 (folders) or 0600 (files) whatever the
//! process's umask: the mode is given to `open(2)`/`mkdir(2)` directly, and a
//! umask can only take bits away from it, never add them.
//!
//! SQLite creates its own files. It creates the database file 0644 less the
//! umask, and gives the `-wal`, `-shm` and `-journal` files the mode of the
//! database file (`findCreateFileMode` in `os_unix.c`). So
//! [`prepare_sqlite_file`] creates an empty database file 0600 before SQLite
//! opens it (an empty file is a new database to SQLite), and
//! [`restrict_sqlite_files`] sets 0600 on the database and the `-wal` and
//! `-shm` files that exist after opening, which also tightens files an older
//! Pinion created.
//!
//! On other platforms than Unix these are plain creates.

use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// The mode of every folder Pinion creates.
pub const DIR_MODE: u32 = 0o700;
/// The mode of every file Pinion creates.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` and any missing parents, each 0700. Folders that exist are
/// left as they are.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    builder.create(dir)
}

/// `OpenOptions` whose newly created files are 0600.
pub fn open_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    options
}

/// Creates (or truncates) `path` for writing, 0600 when created; like
/// `File::create`.
pub fn create_file(path: &Path) -> io::Result<fs::File> {
    open_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

/// Sets `path`'s mode to `mode`.
pub fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

/// Sets an open file's mode to 0600 (`fchmod`), for a file that may have
/// been created earlier with a wider mode.
pub fn restrict_open_file(file: &fs::File) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(FILE_MODE))
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        Ok(())
    }
}

/// Before SQLite opens `path`: creates its folder (0700) and, when the file
/// does not exist, an empty database file 0600, so SQLite's own files for it
/// inherit 0600. An existing file is not touched.
pub fn prepare_sqlite_file(path: &Path) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        create_dir_all(parent)?;
    }
    match open_options().write(true).create_new(true).open(path) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err),
    }
}

/// After SQLite opened `path`: sets 0600 on the database file and on its
/// `-wal` and `-shm` files where they exist.
pub fn restrict_sqlite_files(path: &Path) -> io::Result<()> {
    for file in sqlite_files(path) {
        match set_mode(&file, FILE_MODE) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// The database file and its `-wal`, `-shm` and `-journal` companions.
fn sqlite_files(path: &Path) -> [PathBuf; 4] {
    let with_suffix = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    [
        path.to_owned(),
        with_suffix("-wal"),
        with_suffix("-shm"),
        with_suffix("-journal"),
    ]
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn created_folders_and_files_are_private_and_existing_ones_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b/c");
        create_dir_all(&nested).unwrap();
        for folder in ["a", "a/b", "a/b/c"] {
            assert_eq!(mode(&dir.path().join(folder)), 0o700, "{folder}");
        }
        let file = nested.join("f");
        create_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);

        let db = dir.path().join("new/x.db");
        prepare_sqlite_file(&db).unwrap();
        assert_eq!((mode(&db), mode(db.parent().unwrap())), (0o600, 0o700));
        let wal = dir.path().join("new/x.db-wal");
        fs::write(&wal, b"").unwrap();
        set_mode(&wal, 0o644).unwrap();
        restrict_sqlite_files(&db).unwrap();
        assert_eq!(mode(&wal), 0o600);
    }
}
