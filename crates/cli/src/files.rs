//! Reading the files users name on the command line, with a size limit: a mistaken path such as
//! `/dev/zero` or a multi-gigabyte log must be refused with a clear error, not read until memory
//! runs out.

use std::io::Read;
use std::path::Path;

/// Config files, state files and CA bundles: far above any real one.
pub const MAX_FILE_BYTES: u64 = 16 << 20;
/// Key files hold one key.
pub const MAX_KEY_FILE_BYTES: u64 = 64 << 10;

/// Read at most `limit` bytes of UTF-8 text from `path` (`-` is standard input).
pub fn read_text(path: &Path, limit: u64) -> std::io::Result<String> {
    let bytes = read_bytes(path, limit)?;
    String::from_utf8(bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the file is not UTF-8 text",
        )
    })
}

/// Read at most `limit` bytes from `path` (`-` is standard input).
pub fn read_bytes(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let source: Box<dyn Read> = if path == Path::new("-") {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(path)?)
    };
    source.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {}: is it the right file?", human_size(limit)),
        ));
    }
    Ok(bytes)
}

/// `16 MiB`, `64 KiB`.
fn human_size(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KiB", bytes >> 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_file_is_refused_after_the_limit() {
        let err = read_text(Path::new("/dev/zero"), 1024).unwrap_err();
        assert!(err.to_string().contains("larger than 1 KiB"), "{err}");
        assert_eq!(human_size(MAX_FILE_BYTES), "16 MiB");
    }

    #[test]
    fn a_small_file_is_read_whole() {
        let dir = std::env::temp_dir().join(format!("gatepost-files-{}", std::process::id()));
        std::fs::write(&dir, "{\"rules\": []}").unwrap();
        assert_eq!(read_text(&dir, 1024).unwrap(), "{\"rules\": []}");
        std::fs::remove_file(&dir).unwrap();
    }
}
