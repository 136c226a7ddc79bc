//! `trellis run --config FILE`: any of `trellis run`'s options in a YAML file, keyed
//! by their long names (`conformance-image: …` or `conformance_image: …`; `suites:`
//! for the suites). The file's options go before the command line's, so a flag given
//! on the command line wins (lists such as `bin-dir` are added to); a key that is not
//! an option of `trellis run` is refused with the key named. Paths are as on the
//! command line: relative to the working directory.

use super::failure::Failure;
use crate::exit;
use clap::CommandFactory;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;

/// Global options that come before the subcommand and take a value.
const GLOBAL_WITH_VALUE: [&str; 1] = ["--db"];

/// `argv` with `run --config FILE` replaced by the file's options.
pub fn expand(argv: Vec<OsString>) -> Result<Vec<OsString>, Failure> {
    let Some(run_at) = subcommand_at(&argv).filter(|i| argv[*i] == "run") else {
        return Ok(argv);
    };
    let mut rest: Vec<OsString> = argv[run_at + 1..].to_vec();
    let Some(file) = take_config(&mut rest)? else {
        return Ok(argv);
    };
    let options = run_options();
    let (mut from_file, suites) = file_args(&file, &options)?;
    let mut out: Vec<OsString> = argv[..=run_at].to_vec();
    out.append(&mut from_file);
    let gave_suites = has_positional(&rest, &options);
    out.extend(rest);
    if !gave_suites {
        out.extend(suites.into_iter().map(OsString::from));
    }
    Ok(out)
}

/// The index of the subcommand: the first argument that is not a global option.
fn subcommand_at(argv: &[OsString]) -> Option<usize> {
    let mut i = 1;
    while i < argv.len() {
        let a = argv[i].to_string_lossy();
        if GLOBAL_WITH_VALUE.contains(&a.as_ref()) {
            i += 2;
        } else if a.starts_with('-') {
            i += 1;
        } else {
            return Some(i);
        }
    }
    None
}

/// Removes `--config FILE` / `--config=FILE` from `args` (up to a `--`).
fn take_config(args: &mut Vec<OsString>) -> Result<Option<std::path::PathBuf>, Failure> {
    let Some(at) = args
        .iter()
        .take_while(|a| *a != "--")
        .position(|a| a == "--config" || a.to_string_lossy().starts_with("--config="))
    else {
        return Ok(None);
    };
    let flag = args.remove(at).to_string_lossy().into_owned();
    let path = match flag.strip_prefix("--config=") {
        Some(p) => p.to_string(),
        None if at < args.len() => args.remove(at).to_string_lossy().into_owned(),
        None => {
            return Err(Failure::message(
                exit::USAGE,
                "--config needs a FILE".to_string(),
                "trellis run --config run.yaml [SUITE…]",
            ))
        }
    };
    Ok(Some(path.into()))
}

/// One option of `trellis run`, as clap knows it.
struct RunOption {
    takes_value: bool,
    many: bool,
    short: Option<char>,
}

/// `trellis run`'s options by long name, from its clap definition (so a new flag is
/// a valid key at once).
fn run_options() -> BTreeMap<String, RunOption> {
    let cli = super::Cli::command();
    let Some(run) = cli.find_subcommand("run") else {
        return BTreeMap::new();
    };
    run.get_arguments()
        .chain(cli.get_arguments())
        .filter_map(|a| {
            let long = a.get_long()?;
            let takes_value = a.get_action().takes_values();
            Some((
                long.to_string(),
                RunOption {
                    takes_value,
                    many: matches!(a.get_action(), clap::ArgAction::Append),
                    short: a.get_short(),
                },
            ))
        })
        .collect()
}

/// The file's options as arguments, and its `suites`.
fn file_args(
    file: &Path,
    options: &BTreeMap<String, RunOption>,
) -> Result<(Vec<OsString>, Vec<String>), Failure> {
    let bad = |reason: String| {
        Failure::message(
            exit::USAGE,
            format!("--config {}: {reason}", file.display()),
            "keys are `trellis run` options by their long names (trellis run --help), plus `suites: [NAME, …]`",
        )
    };
    let text = std::fs::read_to_string(file).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let map: BTreeMap<String, serde_json::Value> =
        crate::yaml::from_str(&text).map_err(|e| bad(format!("not a YAML mapping: {e}")))?;
    let mut args = Vec::new();
    let mut suites = Vec::new();
    for (key, value) in map {
        let name = key.replace('_', "-");
        if name == "suites" {
            suites = strings(&value).map_err(|why| bad(format!("`suites`: {why}")))?;
            continue;
        }
        let option = options
            .get(&name)
            .filter(|_| name != "config" && name != "help" && name != "version")
            .ok_or_else(|| {
                bad(format!(
                    "unknown key `{key}`: `trellis run` has no --{name}"
                ))
            })?;
        if !option.takes_value {
            match value {
                serde_json::Value::Bool(true) => args.push(OsString::from(format!("--{name}"))),
                serde_json::Value::Bool(false) => {}
                other => {
                    return Err(bad(format!(
                        "`{key}` is a switch: true or false, not {other}"
                    )))
                }
            }
            continue;
        }
        let values = strings(&value).map_err(|why| bad(format!("`{key}`: {why}")))?;
        if values.len() > 1 && !option.many {
            return Err(bad(format!("`{key}` takes one value, not a list")));
        }
        args.extend(
            values
                .into_iter()
                .map(|v| OsString::from(format!("--{name}={v}"))),
        );
    }
    Ok((args, suites))
}

/// A scalar or a list of scalars, as strings.
fn strings(value: &serde_json::Value) -> Result<Vec<String>, String> {
    let one = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => Ok(s.clone()),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        serde_json::Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!(
            "expected a value or a list of values, found {other}"
        )),
    };
    match value {
        serde_json::Value::Array(items) => items.iter().map(one).collect(),
        v => one(v).map(|s| vec![s]),
    }
}

/// Whether `args` (after `run`) name a suite: an argument that is neither an option
/// nor an option's value.
fn has_positional(args: &[OsString], options: &BTreeMap<String, RunOption>) -> bool {
    let mut i = 0;
    while i < args.len() {
        let a = args[i].to_string_lossy();
        if a == "--" {
            return i + 1 < args.len();
        }
        let takes_value = if let Some(long) = a.strip_prefix("--") {
            !long.contains('=') && options.get(long).is_some_and(|o| o.takes_value)
        } else if let Some(short) = a.strip_prefix('-').filter(|s| s.chars().count() == 1) {
            options
                .values()
                .any(|o| o.takes_value && o.short.map(String::from).as_deref() == Some(short))
        } else if a.starts_with('-') {
            false
        } else {
            return true;
        };
        i += if takes_value { 2 } else { 1 };
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    fn strs(v: &[OsString]) -> Vec<String> {
        v.iter().map(|s| s.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn the_file_goes_first_and_the_command_line_wins() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("run.yaml");
        std::fs::write(
            &file,
            "suites: [conformance]\nconformance_image: mirror/conformance:v1\ndry-run: true\n\
             bin-dir: [a, b]\nparallel: 4\nlist-images: false\n",
        )
        .unwrap();
        let config = format!("--config={}", file.display());
        let out = expand(argv(&[
            "trellis", "--db", "x.db", "run", &config, "-j", "2",
        ]))
        .unwrap();
        assert_eq!(
            strs(&out),
            [
                "trellis",
                "--db",
                "x.db",
                "run",
                "--bin-dir=a",
                "--bin-dir=b",
                "--conformance-image=mirror/conformance:v1",
                "--dry-run",
                "--parallel=4",
                "-j",
                "2",
                "conformance"
            ]
        );
        // Suites on the command line replace the file's.
        let out = expand(argv(&[
            "trellis",
            "run",
            "smoke",
            "--config",
            file.to_str().unwrap(),
        ]))
        .unwrap();
        assert_eq!(strs(&out).last().map(String::as_str), Some("smoke"));
        assert!(!strs(&out).contains(&"conformance".to_string()));
        // Other subcommands are left alone.
        let other = argv(&["trellis", "status", "--config", "x"]);
        assert_eq!(expand(other.clone()).unwrap(), other);
    }

    #[test]
    fn unknown_keys_and_wrong_shapes_are_named() {
        let dir = tempfile::tempdir().unwrap();
        for (text, says) in [
            ("conformance-imag: x\n", "unknown key `conformance-imag`"),
            ("dry-run: yes please\n", "`dry-run` is a switch"),
            ("job: [a, b]\n", "`job` takes one value"),
            ("- a\n", "not a YAML mapping"),
            ("config: other.yaml\n", "unknown key `config`"),
        ] {
            let file = dir.path().join("run.yaml");
            std::fs::write(&file, text).unwrap();
            let e = expand(argv(&[
                "trellis",
                "run",
                "--config",
                file.to_str().unwrap(),
            ]))
            .unwrap_err()
            .render();
            assert!(e.contains(says) && e.contains("run.yaml"), "{text}: {e}");
        }
    }
}
