//! The floor a YAML-library-bound `deploy render` cannot go under: read a
//! file and parse it with serde-saphyr into an untyped `serde_json::Value`
//! (no locations, no validation, no rendering, no output), with the same
//! allocator as the `deploy` binary. `benches/run.sh` times it as a whole
//! process next to `deploy render` on the same 1,000-service file.
//!
//!     cargo run --release --example yaml_floor -- FILE

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: yaml_floor FILE");
        return std::process::ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match serde_saphyr::from_str::<serde_json::Value>(&text) {
        Ok(v) => {
            println!("{} top-level keys", v.as_object().map_or(0, |o| o.len()));
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
