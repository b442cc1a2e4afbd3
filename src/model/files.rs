//! Reading the files a config names (secrets, certificates, keys, rates, the config itself).
//! Only regular files are opened: a FIFO, a device or a socket would block `check`, a reload
//! and the shutdown that waits for the reload, forever.

use std::io;
use std::path::Path;

/// Whether `path` is a regular file (after symlinks), checked before it is opened.
fn regular(path: &Path) -> io::Result<()> {
    let kind = std::fs::metadata(path)?.file_type();
    match kind.is_file() {
        true => Ok(()),
        false => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a regular file but {}", describe(kind)),
        )),
    }
}

fn describe(kind: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() || kind.is_char_device() {
        "a device"
    } else {
        "something else"
    }
}

/// The bytes of a regular file.
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    regular(path)?;
    std::fs::read(path)
}

/// The text of a regular file.
pub fn read_to_string(path: &Path) -> io::Result<String> {
    regular(path)?;
    std::fs::read_to_string(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_a_directory_and_a_device_are_refused_before_they_are_opened() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success(), "mkfifo (coreutils) made a FIFO");
        let error = read_to_string(&fifo).unwrap_err().to_string();
        assert_eq!(error, "not a regular file but a FIFO (named pipe)");
        let error = read(dir.path()).unwrap_err().to_string();
        assert_eq!(error, "not a regular file but a directory");
        let error = read(Path::new("/dev/zero")).unwrap_err().to_string();
        assert_eq!(error, "not a regular file but a device");
        let file = dir.path().join("secret");
        std::fs::write(&file, "s3cret\n").unwrap();
        assert_eq!(read_to_string(&file).unwrap(), "s3cret\n");
    }
}
