//! `agriops`: plan spray missions, fly them, bridge parlors and serve the dashboard.

fn main() -> anyhow::Result<()> {
    web::cli::run()
}
