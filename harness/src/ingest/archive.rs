//! Safe extraction of result tarballs (Sonobuoy's `sonobuoy retrieve` output).
//!
//! Every entry is checked before anything is written: absolute paths and `..`
//! components are refused, links are never created, and the total size is capped so
//! a decompression bomb cannot fill the disk.

use super::IngestError;
use flate2::read::GzDecoder;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Component, Path};

/// Largest total size extracted from one archive.
pub const MAX_EXTRACTED_BYTES: u64 = 8 << 30;

/// Extracts `archive` (tar, optionally gzip-compressed) into a new scratch directory.
pub fn extract_to_temp(archive: &Path) -> Result<super::scratch::ScratchDir, IngestError> {
    let dir = super::scratch::ScratchDir::new("extract")?;
    extract(archive, dir.path())?;
    Ok(dir)
}

pub fn extract(archive: &Path, into: &Path) -> Result<(), IngestError> {
    let io = |e| IngestError::Io {
        path: archive.to_path_buf(),
        source: e,
    };
    let mut file = BufReader::new(File::open(archive).map_err(io)?);
    let mut magic = [0u8; 2];
    let gz = file.read(&mut magic).map_err(io)? == 2 && magic == [0x1f, 0x8b];
    let file = BufReader::new(File::open(archive).map_err(io)?);
    let reader: Box<dyn Read> = if gz {
        Box::new(GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let bad = |reason: String| IngestError::Archive {
        archive: archive.to_path_buf(),
        reason,
    };
    let mut tar = tar::Archive::new(reader);
    let mut total = 0u64;
    for entry in tar.entries().map_err(|e| bad(e.to_string()))? {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        let rel = entry.path().map_err(|e| bad(e.to_string()))?.into_owned();
        let entry_name = rel.display().to_string();
        check_relative(&rel).map_err(|_| IngestError::UnsafeArchivePath {
            archive: archive.to_path_buf(),
            entry: entry_name.clone(),
        })?;
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            if let Ok(Some(target)) = entry.link_name() {
                if check_relative(&target).is_err() {
                    return Err(IngestError::UnsafeArchivePath {
                        archive: archive.to_path_buf(),
                        entry: format!("{entry_name} -> {}", target.display()),
                    });
                }
            }
            // Results never need links: none is made, and the reader is told.
            tracing::warn!(
                "{}: link {entry_name} not extracted (links are never followed)",
                archive.display()
            );
            continue;
        }
        let dest = into.join(&rel);
        if kind.is_dir() {
            std::fs::create_dir_all(&dest).map_err(|e| IngestError::Io {
                path: dest,
                source: e,
            })?;
            continue;
        }
        // Type 7 ("contiguous file") is a regular file to every tar reader today.
        if !kind.is_file() && !kind.is_contiguous() {
            tracing::warn!(
                "{}: {entry_name} skipped: a {kind:?} entry, not a file or directory",
                archive.display()
            );
            continue;
        }
        total += entry.header().size().unwrap_or(0);
        if total > MAX_EXTRACTED_BYTES {
            return Err(bad(format!(
                "expands past {} GiB; refusing to extract further",
                MAX_EXTRACTED_BYTES >> 30
            )));
        }
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| IngestError::Io {
                path: parent.to_path_buf(),
                source: e,
            })?;
        }
        let mut out = File::create(&dest).map_err(|e| IngestError::Io {
            path: dest.clone(),
            source: e,
        })?;
        std::io::copy(&mut entry, &mut out).map_err(|e| bad(format!("{entry_name}: {e}")))?;
    }
    Ok(())
}

/// Accepts only paths made of plain names (and `.`).
fn check_relative(p: &Path) -> Result<(), ()> {
    for c in p.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return Err(()),
        }
    }
    Ok(())
}
