//! `sp-gateway`: see the library documentation and `sp-gateway --help`.
#![forbid(unsafe_code)]

/// mimalloc instead of glibc's malloc: a KYC request allocates and frees many buffers of a few
/// KiB, which glibc serves through `malloc_consolidate`; see docs/DECISIONS.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(sp_gateway::cli::main());
}
