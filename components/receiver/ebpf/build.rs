//! Compiles the kernel-side programs in `<workspace>/ebpf/` with clang for the BPF target (CO-RE:
//! `-g` keeps the BTF that relocations need), and the protocol detectors once more for the host,
//! so that unit tests run the very C the kernel runs.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const CLANG_CANDIDATES: &[&str] = &["clang-19", "clang-18", "clang-17", "clang-16", "clang"];

fn find_clang() -> Option<String> {
    if let Ok(clang) = env::var("CLANG") {
        return Some(clang);
    }
    CLANG_CANDIDATES
        .iter()
        .find(|name| {
            Command::new(name)
                .arg("--version")
                .output()
                .is_ok_and(|out| out.status.success())
        })
        .map(|name| name.to_string())
}

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let ebpf = manifest
        .join("../../../ebpf")
        .canonicalize()
        .expect("<workspace>/ebpf");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    for entry in std::fs::read_dir(&ebpf).unwrap().flatten() {
        println!("cargo:rerun-if-changed={}", entry.path().display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        ebpf.join("include/vmlinux.h").display()
    );
    println!("cargo:rerun-if-env-changed=CLANG");

    build_bpf(&ebpf, &out.join("ferrotel.bpf.o"));

    cc::Build::new()
        .file(ebpf.join("protocols_host.c"))
        .include(&ebpf)
        .warnings(true)
        .compile("ferrotel_protocols_host");
}

fn build_bpf(ebpf: &Path, object: &Path) {
    let Some(clang) = find_clang() else {
        panic!(
            "the ebpf receiver needs clang to compile ebpf/ferrotel.bpf.c, and none was found \
             (tried {CLANG_CANDIDATES:?}, or set CLANG=/path/to/clang). On Debian 12: \
             apt-get install clang-19 libbpf-dev (scripts/setup.sh, run by `make test`, does it)"
        );
    };
    if !Path::new("/usr/include/bpf/bpf_helpers.h").exists() {
        panic!(
            "the ebpf receiver needs libbpf's headers (bpf/bpf_helpers.h), and they are missing. \
             On Debian 12: apt-get install libbpf-dev (scripts/setup.sh, run by `make test`, does it)"
        );
    }
    let status = Command::new(&clang)
        .args([
            "-g",
            "-O2",
            "-target",
            "bpf",
            "-D__TARGET_ARCH_x86",
            "-Wall",
            "-Werror",
        ])
        .args(["-Wno-unused-function", "-Wno-pass-failed"])
        .arg(format!("-fdebug-prefix-map={}=.", ebpf.display()))
        .arg("-I")
        .arg(ebpf.join("include"))
        .arg("-I")
        .arg(ebpf)
        .arg("-c")
        .arg(ebpf.join("ferrotel.bpf.c"))
        .arg("-o")
        .arg(object)
        .status()
        .unwrap_or_else(|e| panic!("running {clang}: {e}"));
    if !status.success() {
        panic!("{clang} failed to compile ebpf/ferrotel.bpf.c (see the errors above)");
    }
}
