fn main() {
    std::process::exit(trellis::cli::main());
}
