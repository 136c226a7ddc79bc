//! A build's cells packed into one value, as a grid reads them: loading a job's grid
//! reads one value per build instead of one row per cell (a release-scale history is
//! 37.5 M cells in 7,500 builds).
//!
//! Both stores keep it beside the `cells` table (which `show`, `gate` and copies read)
//! and write it in the same transaction. Layout, version 1:
//!
//! ```text
//! u8 version (1), varint cell count, then per cell in test-id order:
//!   varint (test id − previous test id), u8 status code,
//!   if FLAKY: varint attempts,
//!   if failing: varint (message length + 1, 0 for none), message bytes (UTF-8)
//! ```
//!
//! Only what a grid holds is kept: messages of failing cells, attempts of flaky ones.

use crate::model::{CellStatus, CountBucket};

const VERSION: u8 = 1;

/// One cell as the packer takes it.
pub(super) struct CellIn<'a> {
    pub test_id: i64,
    pub status: CellStatus,
    pub attempts: u32,
    pub message: Option<&'a str>,
}

/// One cell as the unpacker gives it.
pub(super) struct CellOut<'a> {
    pub test_id: i64,
    pub status: CellStatus,
    pub attempts: u32,
    pub message: Option<&'a str>,
}

/// Why a packed value could not be read.
#[derive(Debug, thiserror::Error)]
#[error("packed cells: {0}")]
pub(super) struct Damaged(&'static str);

pub(super) fn pack(mut cells: Vec<CellIn<'_>>) -> Vec<u8> {
    cells.sort_unstable_by_key(|c| c.test_id);
    let mut out = Vec::with_capacity(4 + cells.len() * 3);
    out.push(VERSION);
    put(&mut out, cells.len() as u64);
    let mut previous = 0i64;
    for c in &cells {
        put(&mut out, c.test_id.wrapping_sub(previous) as u64);
        previous = c.test_id;
        out.push(c.status.code());
        if c.status == CellStatus::Flaky {
            put(&mut out, u64::from(c.attempts));
        }
        if c.status.bucket() == CountBucket::Fail {
            match c.message {
                Some(m) => {
                    put(&mut out, m.len() as u64 + 1);
                    out.extend_from_slice(m.as_bytes());
                }
                None => put(&mut out, 0),
            }
        }
    }
    out
}

/// Calls `each` for every cell in `bytes`, in test-id order.
pub(super) fn unpack<'a, E: From<Damaged>>(
    bytes: &'a [u8],
    mut each: impl FnMut(CellOut<'a>) -> Result<(), E>,
) -> Result<(), E> {
    let mut r = Reader { bytes, at: 0 };
    if r.byte()? != VERSION {
        return Err(Damaged("unknown format version").into());
    }
    let count = r.varint()?;
    // Each cell takes at least two bytes: a count beyond that is a damaged value, and
    // checking it here bounds the loop by the value's size.
    if count > bytes.len() as u64 {
        return Err(Damaged("cell count larger than the value").into());
    }
    let mut test_id = 0i64;
    for _ in 0..count {
        test_id = test_id.wrapping_add(r.varint()? as i64);
        let status = CellStatus::from_code(i64::from(r.byte()?)).unwrap_or(CellStatus::Unknown);
        let attempts = match status {
            CellStatus::Flaky => u32::try_from(r.varint()?).unwrap_or(u32::MAX),
            _ => 1,
        };
        let message = if status.bucket() == CountBucket::Fail {
            match r.varint()? {
                0 => None,
                n => {
                    let len = usize::try_from(n - 1).map_err(|_| Damaged("message length"))?;
                    let raw = r.take(len)?;
                    Some(std::str::from_utf8(raw).map_err(|_| Damaged("message not UTF-8"))?)
                }
            }
        } else {
            None
        };
        each(CellOut {
            test_id,
            status,
            attempts,
            message,
        })?;
    }
    Ok(())
}

fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, Damaged> {
        let b = *self.bytes.get(self.at).ok_or(Damaged("value cut short"))?;
        self.at += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, Damaged> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Damaged("varint longer than 64 bits"))
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], Damaged> {
        let end = self.at.checked_add(len).ok_or(Damaged("length"))?;
        let raw = self
            .bytes
            .get(self.at..end)
            .ok_or(Damaged("value cut short"))?;
        self.at = end;
        Ok(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_round_trip_and_damage_is_an_error() {
        let long = "x".repeat(300);
        let cells = vec![
            CellIn {
                test_id: 900,
                status: CellStatus::Fail,
                attempts: 1,
                message: Some(&long),
            },
            CellIn {
                test_id: 3,
                status: CellStatus::Pass,
                attempts: 1,
                message: Some("kept only when failing"),
            },
            CellIn {
                test_id: 40,
                status: CellStatus::Flaky,
                attempts: 3,
                message: None,
            },
            CellIn {
                test_id: 41,
                status: CellStatus::Fail,
                attempts: 1,
                message: None,
            },
            CellIn {
                test_id: 1 << 40,
                status: CellStatus::Fail,
                attempts: 1,
                message: Some("é"),
            },
        ];
        let bytes = pack(cells);
        let mut seen = Vec::new();
        unpack::<Damaged>(&bytes, |c| {
            seen.push((
                c.test_id,
                c.status,
                c.attempts,
                c.message.map(str::to_string),
            ));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                (3, CellStatus::Pass, 1, None),
                (40, CellStatus::Flaky, 3, None),
                (41, CellStatus::Fail, 1, None),
                (900, CellStatus::Fail, 1, Some(long.clone())),
                (1 << 40, CellStatus::Fail, 1, Some("é".to_string())),
            ]
        );
        // Every truncation, and a wrong version, is an error, never a panic.
        for cut in 0..bytes.len() {
            assert!(
                unpack::<Damaged>(&bytes[..cut], |_| Ok(())).is_err(),
                "cut at {cut}"
            );
        }
        let mut other = bytes.clone();
        other[0] = 9;
        assert!(unpack::<Damaged>(&other, |_| Ok(())).is_err());
        assert!(unpack::<Damaged>(&[1, 0xff, 0xff, 0xff, 0xff, 0x7f], |_| Ok(())).is_err());
    }
}
