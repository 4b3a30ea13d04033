//! Files meshtop writes that are nobody else's business (the audit log, the log file, a
//! kubeconfig copy, an edit in the temp directory): readable by their owner only from the
//! moment they exist, and never written through a symbolic link, which in a shared
//! directory could point the write at another file.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::Path;

/// Owner read and write: the mode every file here is created with.
const PRIVATE: u32 = 0o600;

fn refuse_symlink(path: &Path) -> io::Result<()> {
    match path.symlink_metadata() {
        Ok(m) if m.file_type().is_symlink() => Err(io::Error::other(
            "it is a symbolic link: meshtop does not write through one",
        )),
        _ => Ok(()),
    }
}

fn make_parent(path: &Path) -> io::Result<()> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => std::fs::create_dir_all(dir),
        None => Ok(()),
    }
}

/// Opens `path` to append to it, creating it (and its directory) owner-only. A symbolic
/// link at `path` is refused, also one swapped in while the file was being opened.
pub fn append(path: &Path) -> io::Result<File> {
    make_parent(path)?;
    refuse_symlink(path)?;
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(PRIVATE)
        .open(path)?;
    let opened = file.metadata()?;
    let there = path.symlink_metadata()?;
    if there.file_type().is_symlink() || (there.dev(), there.ino()) != (opened.dev(), opened.ino())
    {
        return Err(io::Error::other(
            "it was replaced while being opened: meshtop does not write through a symbolic link",
        ));
    }
    Ok(file)
}

/// Creates `path` owner-only; an existing file or link there is an error, never followed.
pub fn create_new(path: &Path) -> io::Result<File> {
    make_parent(path)?;
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE)
        .open(path)
}

/// Writes `contents` to `path` as a new owner-only file. A file already there is removed
/// first, rather than truncated, so that its permissions do not carry over; a symbolic
/// link there is refused.
pub fn replace(path: &Path, contents: &[u8]) -> io::Result<()> {
    refuse_symlink(path)?;
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    create_new(path)?.write_all(contents)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn files_are_owner_only_and_links_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("a/b/audit.log");
        append(&log)
            .and_then(|mut f| f.write_all(b"one\n"))
            .expect("append");
        append(&log)
            .and_then(|mut f| f.write_all(b"two\n"))
            .expect("append");
        assert_eq!(std::fs::read_to_string(&log).expect("read"), "one\ntwo\n");
        assert_eq!(mode(&log), 0o600);

        let target = dir.path().join("target");
        std::fs::write(&target, "mine").expect("write");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        let e = append(&link).expect_err("a link");
        assert!(e.to_string().contains("symbolic link"), "{e}");
        let e = replace(&link, b"secret").expect_err("a link");
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(create_new(&link).is_err());
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "mine");

        // A world-readable file is replaced by an owner-only one.
        let copy = dir.path().join("k.kubeconfig");
        std::fs::write(&copy, "old").expect("write");
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        replace(&copy, b"token: x").expect("replace");
        assert_eq!(mode(&copy), 0o600);
        assert_eq!(std::fs::read_to_string(&copy).expect("read"), "token: x");
    }
}
