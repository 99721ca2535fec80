//! Where the TLS uprobes go in an ELF file: OpenSSL's functions, or Go's crypto/tls methods
//! and each of their RET instructions (decoded with iced-x86). Offsets are file offsets, as
//! uprobes take them.

use std::collections::HashMap;
use std::fs;

use anyhow::{Context, bail};

/// OpenSSL functions and their cookies (FT_SSL_* in tls.bpf.h).
const SSL_FUNCTIONS: &[(&str, u64)] = &[
    ("SSL_write", 0),
    ("SSL_read", 1),
    ("SSL_write_ex", 2),
    ("SSL_read_ex", 3),
    ("SSL_set_fd", SSL_SET_FD),
];
/// SSL_set_fd gets an entry probe only: it tells which socket an SSL object uses.
const SSL_SET_FD: u64 = 4;
/// Go functions and their cookies (1: the application writes).
const GO_FUNCTIONS: &[(&str, u64)] = &[
    ("crypto/tls.(*Conn).Write", 1),
    ("crypto/tls.(*Conn).Read", 0),
];

/// Which program a probe runs: the order of `Programs::NAMES` in tls.rs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    SslEnter,
    SslReturn,
    GoEnter,
    GoReturn,
}

/// One probe to attach: where (file offset), which program, its cookie, and for which function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Probe {
    pub kind: Kind,
    pub offset: u64,
    pub cookie: u64,
    pub function: &'static str,
}

/// What to attach in an ELF file: OpenSSL's functions where defined in it, Go's crypto/tls in a
/// Go binary. None when neither is there.
pub(crate) fn find_probes(file: fs::File) -> anyhow::Result<Option<(&'static str, Vec<Probe>)>> {
    use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};
    let cache = object::ReadCache::new(file);
    let elf = object::File::parse(&cache).context("not an ELF file")?;
    let wanted = |name: &str| {
        SSL_FUNCTIONS
            .iter()
            .chain(GO_FUNCTIONS)
            .map(|(function, _)| *function)
            .find(|function| *function == name)
    };
    let is_go = elf.section_by_name(".go.buildinfo").is_some();
    // (address, size, section) of each wanted function defined here
    let mut defined: HashMap<&'static str, (u64, u64, object::SectionIndex)> = HashMap::new();
    for symbol in elf.dynamic_symbols().chain(elf.symbols()) {
        if symbol.is_undefined() || symbol.kind() != SymbolKind::Text || symbol.address() == 0 {
            continue;
        }
        let (Ok(name), Some(section)) = (symbol.name(), symbol.section_index()) else {
            continue;
        };
        if let Some(function) = wanted(name) {
            defined.insert(function, (symbol.address(), symbol.size(), section));
        }
    }
    let file_offset = |address: u64, section: object::SectionIndex| -> anyhow::Result<u64> {
        let section = elf.section_by_index(section)?;
        let (offset, _) = section
            .file_range()
            .context("a section without file data")?;
        Ok(address - section.address() + offset)
    };
    let mut probes = Vec::new();
    for &(function, cookie) in SSL_FUNCTIONS {
        if let Some(&(address, _, section)) = defined.get(function) {
            let offset = file_offset(address, section)?;
            probes.push(Probe {
                kind: Kind::SslEnter,
                offset,
                cookie,
                function,
            });
            if cookie != SSL_SET_FD {
                probes.push(Probe {
                    kind: Kind::SslReturn,
                    offset,
                    cookie,
                    function,
                });
            }
        }
    }
    // OpenSSL (or BoringSSL) is where SSL_read is
    if probes.iter().any(|p| p.function == "SSL_read") {
        return Ok(Some(("openssl", probes)));
    }
    probes.clear();
    if !is_go {
        return Ok(None);
    }
    if elf.architecture() != object::Architecture::X86_64 {
        bail!(
            "a Go binary for {:?}: only amd64 is supported",
            elf.architecture()
        );
    }
    let buildinfo = elf
        .section_by_name(".go.buildinfo")
        .and_then(|s| s.data().ok())
        .unwrap_or_default();
    match go_version(buildinfo) {
        Some((1, minor)) if minor >= 18 => {}
        Some(version) => bail!("Go {version:?} is older than 1.18 (register ABI, buildinfo)"),
        None => bail!("no Go version in .go.buildinfo"),
    }
    for &(function, cookie) in GO_FUNCTIONS {
        let Some(&(address, size, section)) = defined.get(function) else {
            continue;
        };
        let code = elf
            .section_by_index(section)?
            .data_range(address, size)?
            .context("the function's code is not in the file")?;
        probes.push(Probe {
            kind: Kind::GoEnter,
            offset: file_offset(address, section)?,
            cookie,
            function,
        });
        for ret in ret_addresses(code, address) {
            probes.push(Probe {
                kind: Kind::GoReturn,
                offset: file_offset(ret, section)?,
                cookie,
                function,
            });
        }
    }
    Ok((!probes.is_empty()).then_some(("go crypto/tls", probes)))
}

/// The addresses of the RET instructions in a function's code (at `address`).
pub(crate) fn ret_addresses(code: &[u8], address: u64) -> Vec<u64> {
    use iced_x86::{Decoder, DecoderOptions, Instruction, Mnemonic};
    let mut decoder = Decoder::with_ip(64, code, address, DecoderOptions::NONE);
    let mut instruction = Instruction::default();
    let mut rets = Vec::new();
    while decoder.can_decode() {
        decoder.decode_out(&mut instruction);
        if instruction.mnemonic() == Mnemonic::Ret {
            rets.push(instruction.ip());
        }
    }
    rets
}

/// (major, minor) from a `.go.buildinfo` section in the Go 1.18+ layout: a 32-byte header
/// ("\xff Go buildinf:", pointer size, flags with bit 1 set), then the version as a
/// varint-prefixed string. Older layouts hold pointers instead: None.
pub(crate) fn go_version(buildinfo: &[u8]) -> Option<(u32, u32)> {
    if buildinfo.len() < 33 || !buildinfo.starts_with(b"\xff Go buildinf:") {
        return None;
    }
    if buildinfo[15] & 2 == 0 {
        return None;
    }
    let len = buildinfo[32] as usize; // versions are shorter than 128 bytes: a one-byte varint
    let version = std::str::from_utf8(buildinfo.get(33..33 + len)?).ok()?;
    let mut parts = version.strip_prefix("go")?.split(['.', 'r', 'b', '-', ' ']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn finds_every_ret_of_a_function() {
        // mov rax, 1; test rbx, rbx; je +1; ret; xor eax, eax; ret; int3
        let code = [
            0x48, 0xc7, 0xc0, 0x01, 0, 0, 0, 0x48, 0x85, 0xdb, 0x74, 0x01, 0xc3, 0x31, 0xc0, 0xc3,
            0xcc,
        ];
        assert_eq!(ret_addresses(&code, 0x1000), vec![0x100c, 0x100f]);
        // a 0xc3 byte inside an instruction is no RET: mov eax, 0xc3
        assert!(ret_addresses(&[0xb8, 0xc3, 0, 0, 0], 0).is_empty());
    }

    #[test]
    fn reads_the_go_version_of_the_buildinfo() {
        let mut info = b"\xff Go buildinf:".to_vec();
        info.extend([8, 2]);
        info.resize(32, 0);
        info.push(9);
        info.extend(b"go1.26.8\n");
        assert_eq!(go_version(&info), Some((1, 26)));
        info[15] = 0; // the pre-1.18 layout
        assert_eq!(go_version(&info), None);
    }

    #[test]
    fn finds_openssl_in_the_system_libssl() {
        let Ok(file) = fs::File::open("/usr/lib/x86_64-linux-gnu/libssl.so.3") else {
            return; // not installed here
        };
        let (what, probes) = find_probes(file).unwrap().unwrap();
        assert_eq!(what, "openssl");
        let functions: HashSet<_> = probes.iter().map(|p| p.function).collect();
        assert_eq!(functions.len(), 5, "{probes:?}");
        assert_eq!(
            probes.len(),
            9,
            "an entry and a return for each, SSL_set_fd an entry only"
        );
        assert!(probes.iter().all(|p| p.offset > 0));
    }
}
