//! `sp-gateway`: see the library documentation and `sp-gateway --help`.
#![forbid(unsafe_code)]

fn main() {
    std::process::exit(sp_gateway::cli::main());
}
