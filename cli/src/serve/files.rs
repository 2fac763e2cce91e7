//! `additional_files`: a zip extracted into the job directory with limits on the total
//! uncompressed size (counted while inflating, so a zip that lies about its sizes is stopped
//! too), the number of entries and the names. Entries must be plain relative paths (no `..`,
//! no absolute path, no backslash tricks); symbolic links and other special entries are
//! refused, so nothing extracted can point outside the job directory.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

/// Extraction limits.
#[derive(Debug, Clone, Copy)]
pub struct ZipLimits {
    /// Total bytes of all entries once inflated.
    pub max_bytes: u64,
    /// Number of entries (directories included).
    pub max_entries: usize,
}

fn entry_path(name: &str) -> Result<PathBuf, String> {
    if name.contains('\\') || name.contains('\0') {
        return Err(format!("additional_files: bad entry name {name:?}"));
    }
    let p = Path::new(name);
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => {
                return Err(format!(
                    "additional_files: entry {name:?} leaves the working directory"
                ));
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err(format!("additional_files: empty entry name {name:?}"));
    }
    Ok(out)
}

/// Check the zip (`dest` = None) or extract it under `dest`, which must be a directory this
/// process created and nobody else has written to yet. Returns the entries' paths.
pub fn extract(
    zip_bytes: &[u8],
    dest: Option<&Path>,
    limits: ZipLimits,
) -> Result<Vec<PathBuf>, String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes))
        .map_err(|e| format!("additional_files: not a zip archive: {e}"))?;
    if archive.len() > limits.max_entries {
        return Err(format!(
            "additional_files: {} entries, more than the limit of {}",
            archive.len(),
            limits.max_entries
        ));
    }
    let mut total: u64 = 0;
    let mut paths = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    for i in 0..archive.len() {
        let mut f = archive
            .by_index(i)
            .map_err(|e| format!("additional_files: entry {i}: {e}"))?;
        let rel = entry_path(f.name())?;
        let mode = f.unix_mode().unwrap_or(0);
        let kind = mode & 0o170000;
        if f.is_symlink() || (kind != 0 && kind != 0o100000 && kind != 0o040000) {
            return Err(format!(
                "additional_files: entry {:?} is a link or special file",
                f.name()
            ));
        }
        let is_dir = f.is_dir() || kind == 0o040000;
        let target = dest.map(|d| d.join(&rel));
        if is_dir {
            if let Some(t) = &target {
                std::fs::create_dir_all(t)
                    .map_err(|e| format!("additional_files: {}: {e}", rel.display()))?;
            }
            paths.push(rel);
            continue;
        }
        let mut out = match &target {
            Some(t) => {
                if let Some(parent) = t.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| format!("additional_files: {}: {e}", rel.display()))?;
                }
                use std::os::unix::fs::OpenOptionsExt;
                let perm = if mode & 0o111 != 0 { 0o755 } else { 0o644 };
                Some(
                    std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(perm)
                        .custom_flags(libc::O_NOFOLLOW)
                        .open(t)
                        .map_err(|e| format!("additional_files: {}: {e}", rel.display()))?,
                )
            }
            None => None,
        };
        loop {
            let n = f
                .read(&mut buf)
                .map_err(|e| format!("additional_files: {}: {e}", rel.display()))?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > limits.max_bytes {
                return Err(format!(
                    "additional_files: more than {} bytes once extracted",
                    limits.max_bytes
                ));
            }
            if let Some(o) = &mut out {
                o.write_all(&buf[..n])
                    .map_err(|e| format!("additional_files: {}: {e}", rel.display()))?;
            }
        }
        paths.push(rel);
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zip::write::SimpleFileOptions;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, data) in entries {
            w.start_file(*name, SimpleFileOptions::default()).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    const LIM: ZipLimits = ZipLimits {
        max_bytes: 1 << 20,
        max_entries: 16,
    };

    #[test]
    fn plain_files_extract() {
        let z = zip_of(&[("run", b"echo hi"), ("dir/a.txt", b"a")]);
        let d = tempfile::tempdir().unwrap();
        extract(&z, Some(d.path()), LIM).unwrap();
        assert_eq!(std::fs::read(d.path().join("dir/a.txt")).unwrap(), b"a");
    }

    #[test]
    fn escaping_names_are_refused() {
        for bad in ["../x", "a/../../x", "/etc/x", "a\\..\\x"] {
            let z = zip_of(&[(bad, b"x")]);
            assert!(extract(&z, None, LIM).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        let zeros = vec![0u8; 4 << 20];
        let z = zip_of(&[("big", &zeros)]);
        assert!(z.len() < 64 << 10, "compresses well: {}", z.len());
        let err = extract(&z, None, LIM).unwrap_err();
        assert!(err.contains("more than"), "{err}");
    }

    #[test]
    fn symlinks_are_refused() {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.add_symlink("link", "/etc/passwd", SimpleFileOptions::default())
            .unwrap();
        let z = w.finish().unwrap().into_inner();
        let err = extract(&z, None, LIM).unwrap_err();
        assert!(err.contains("link"), "{err}");
    }

    #[test]
    fn too_many_entries_are_refused() {
        let names: Vec<String> = (0..20).map(|i| format!("f{i}")).collect();
        let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
        assert!(extract(&zip_of(&entries), None, LIM).is_err());
    }
}
