//! Builds the zipc C core from this repository (`../../src/*.c`) into a
//! static library, plus a small shim exporting the `static inline` tensor
//! helpers of `zipc/tensor.h` and the C layout of every mirrored struct.
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.join("../..");
    let src = root.join("src");
    let include = root.join("include");

    let mut sources: Vec<PathBuf> = std::fs::read_dir(&src)
        .unwrap_or_else(|e| panic!("zipc-sys: cannot read {}: {e}", src.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    sources.sort();
    assert!(!sources.is_empty(), "zipc-sys: no C sources in {}", src.display());

    let mut build = cc::Build::new();
    build
        .files(&sources)
        .file(manifest.join("src/shim.c"))
        .include(&include)
        .include(&src)
        .flag("-std=c11")
        .define("_GNU_SOURCE", None)
        .flag_if_supported("-fvisibility=hidden")
        .warnings(true)
        .opt_level(2);
    build.compile("zipc_core");

    for p in &sources {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    println!("cargo:rerun-if-changed={}", src.join("internal.h").display());
    println!("cargo:rerun-if-changed={}", src.display());
    println!("cargo:rerun-if-changed={}", manifest.join("src/shim.c").display());
    for h in ["zipc.h", "zipc/common.h", "zipc/channel.h", "zipc/abi.h", "zipc/tensor.h", "zipc/types.h", "zipc/topic.h", "zipc/queue.h",
        "zipc/rpc.h", "zipc/store.h"] {
        println!("cargo:rerun-if-changed={}", include.join(h).display());
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:include={}", include.display());
}
