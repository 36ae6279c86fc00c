//! The identity of an executable, so that a worker never calls into code of
//! a program other than its parent's.
//!
//! The identity is the ELF build id that the linker stamps into the
//! program (`ld --build-id`, the default of the usual toolchains): two
//! copies of one build share it, two builds do not. It is read from the
//! first pages of the file, so checking it costs a worker one small read.
//! An executable without a build id is identified by its size and a digest
//! of its first and last 64 KiB instead.

use std::fs::File;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::OnceLock;

use object::elf;
use object::read::elf::{FileHeader, ProgramHeader};

use crate::platform;

/// The identity of the file that holds this crate's code (the running
/// executable, or the shared library that embeds dummymp), computed once.
pub(crate) fn current() -> &'static [u8] {
    static IDENTITY: OnceLock<Vec<u8>> = OnceLock::new();
    IDENTITY.get_or_init(|| {
        let file = code()
            .map(|code| code.file.clone())
            .unwrap_or_else(|_| platform::self_exe_for_reading().to_path_buf());
        of_file(&file).unwrap_or_else(|e| format!("unreadable executable: {e}").into_bytes())
    })
}

/// The executable mapping that holds this crate's code (the running
/// executable, or the shared library that embeds dummymp), looked up once.
pub(crate) fn code() -> Result<&'static platform::CodeMapping, &'static io::Error> {
    static CODE: OnceLock<io::Result<platform::CodeMapping>> = OnceLock::new();
    CODE.get_or_init(|| platform::code_mapping_of(current as fn() -> &'static [u8] as usize))
        .as_ref()
}

/// The identity of the executable file at `path`.
pub(crate) fn of_file(path: &Path) -> io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    let mut head = Vec::with_capacity(4096);
    (&mut file).take(4096).read_to_end(&mut head)?;
    if let Some(id) = build_id(&head) {
        return Ok(tagged(b"build-id:", id));
    }
    // The notes may lie further in; look at a larger head before giving up.
    (&mut file).take(60 * 1024).read_to_end(&mut head)?;
    if let Some(id) = build_id(&head) {
        return Ok(tagged(b"build-id:", id));
    }
    let len = file.metadata()?.len();
    let mut hasher = DefaultHasher::new();
    len.hash(&mut hasher);
    head.hash(&mut hasher);
    let mut tail = Vec::with_capacity(64 * 1024);
    file.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)))?;
    file.take(64 * 1024).read_to_end(&mut tail)?;
    tail.hash(&mut hasher);
    Ok(tagged(b"digest:", &hasher.finish().to_le_bytes()))
}

fn tagged(tag: &[u8], id: &[u8]) -> Vec<u8> {
    [tag, id].concat()
}

/// A readable rendering of an identity, for error messages.
pub(crate) fn describe(identity: &[u8]) -> String {
    let (tag, id) = match identity.iter().position(|&b| b == b':') {
        Some(colon) => identity.split_at(colon + 1),
        None => (&b""[..], identity),
    };
    let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}{hex}", String::from_utf8_lossy(tag))
}

/// The GNU build id in the program headers of the ELF image starting
/// `data`, if `data` holds them.
fn build_id(data: &[u8]) -> Option<&[u8]> {
    // Each header type checks the file class when it parses.
    build_id_of::<elf::FileHeader64<object::Endianness>>(data)
        .or_else(|| build_id_of::<elf::FileHeader32<object::Endianness>>(data))
}

fn build_id_of<H: FileHeader<Endian = object::Endianness>>(data: &[u8]) -> Option<&[u8]> {
    let header = H::parse(data).ok()?;
    let endian = header.endian().ok()?;
    for segment in header.program_headers(endian, data).ok()? {
        let Ok(Some(mut notes)) = segment.notes(endian, data) else {
            continue;
        };
        while let Ok(Some(note)) = notes.next() {
            if note.name() == elf::ELF_NOTE_GNU && note.n_type(endian) == elf::NT_GNU_BUILD_ID {
                return Some(note.desc());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_executable_has_a_build_id() {
        let id = current();
        assert!(id.starts_with(b"build-id:"), "{}", describe(id));
        assert!(id.len() > b"build-id:".len() + 8);
        assert_eq!(of_file(platform::self_exe_for_reading()).unwrap(), id);
    }

    #[test]
    fn a_copy_is_the_same_and_a_changed_id_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("copy");
        std::fs::copy(platform::self_exe_for_reading(), &copy).unwrap();
        assert_eq!(of_file(&copy).unwrap(), current());

        let mut bytes = std::fs::read(&copy).unwrap();
        let id = &current()[b"build-id:".len()..];
        let at = bytes
            .windows(id.len())
            .position(|w| w == id)
            .expect("the build id is in the file");
        bytes[at] ^= 0xff;
        std::fs::write(&copy, &bytes).unwrap();
        assert_ne!(of_file(&copy).unwrap(), current());
    }

    #[test]
    fn files_without_build_id_get_a_digest() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, b"#!/bin/sh\ntrue\n").unwrap();
        let id = of_file(&a).unwrap();
        assert!(id.starts_with(b"digest:"));
        std::fs::write(&a, b"#!/bin/sh\nfalse\n").unwrap();
        assert_ne!(of_file(&a).unwrap(), id);
        assert!(describe(&id).starts_with("digest:"));
    }
}
