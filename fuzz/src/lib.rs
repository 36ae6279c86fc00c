//! The fuzz targets' bodies, shared by the libFuzzer targets
//! (`fuzz_targets/`) and the stable runner (`src/bin/stable_fuzz.rs`).
//!
//! The CLI is a binary crate, so its template parser is compiled here from
//! its own source files (`#[path]`), with the modules it needs at the same
//! place in the crate tree as in the CLI.
#![allow(dead_code, unused_imports)]

#[path = "../../cli/src/error.rs"]
mod error;
// Its submodules (the quoting contexts, quoting, path parts) come with it.
#[path = "../../cli/src/template/mod.rs"]
mod template;

/// `crate::exit_status` is named in the CLI error's documentation only.
mod exit_status {}

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

/// The protocol decoder: hostile bytes from a worker (or a parent).
pub fn protocol_decoder(data: &[u8]) {
    dummymp::__fuzz::decode_protocol_bytes(data);
}

/// The CLI's replacement-string parser and command rendering: the first
/// byte picks the number of input sources and of template words; the rest,
/// split at NUL bytes, gives the template words and then the input values.
pub fn cli_template(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let sources = usize::from(selector % 4);
    let word_count = usize::from(selector / 4 % 4) + 1;
    let mut fields = rest.split(|&b| b == 0);
    let words: Vec<OsString> = fields
        .by_ref()
        .take(word_count)
        .map(|w| OsString::from_vec(w.to_vec()))
        .collect();
    let mut inputs: Vec<Vec<u8>> = fields.map(<[u8]>::to_vec).collect();
    inputs.resize(sources.max(1), Vec::new());
    let options = template::TemplateOptions {
        sources: Some(sources),
        quote_command: false,
        context_replace: false,
    };
    let Ok(template) = template::Template::parse_with(&words, options) else {
        return;
    };
    for slot in [1, 7] {
        let job = template::JobValues {
            seq: data.len() as u64,
            slot,
            inputs: &inputs,
        };
        // A refused value is a fine answer; a panic is not.
        let _ = template.invocation(&job);
        let shown = template.command_line(&job).unwrap_or_default();
        // Rendering must stay proportional to what went in: every value is
        // quoted at most a few bytes per byte.
        let input_bytes: usize = inputs.iter().map(Vec::len).sum::<usize>() + 64;
        assert!(
            shown.len() <= (rest.len() + 64) * (4 * input_bytes + 64),
            "rendering grew out of proportion"
        );
    }
}
