//! PRODUCT.yaml, the vendor's description of a conformance submission: one reader for
//! `ingest` (which keeps its fields with the build) and `verify-submission` (which
//! checks them), so the two cannot read one file two ways.

use serde_json::{Map, Value};
use std::path::Path;

/// The largest PRODUCT.yaml read (real ones are under 2 KB).
pub const MAX_PRODUCT_BYTES: u64 = 1 << 20;

/// The fields of the PRODUCT.yaml at `path`: a YAML mapping, read under the YAML
/// budgets. The error says what is wrong, without the path.
pub fn read(path: &Path) -> Result<Map<String, Value>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read PRODUCT.yaml: {e}"))?;
    if meta.len() > MAX_PRODUCT_BYTES {
        return Err(format!(
            "PRODUCT.yaml is {} bytes; a product description is at most {} KiB",
            meta.len(),
            MAX_PRODUCT_BYTES >> 10
        ));
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("cannot read PRODUCT.yaml: {e}"))?;
    match crate::yaml::from_str::<Value>(&text) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err("PRODUCT.yaml is not a mapping of fields (`field: value` lines)".into()),
        Err(e) => Err(format!("PRODUCT.yaml is not valid YAML: {e}")),
    }
}
