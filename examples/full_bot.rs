//! The reference app. For now it prints the catalog the payment page will sell; the HTTP server,
//! the bot and the payment providers arrive with their issues.
#![allow(clippy::print_stdout)]

use miniapp::catalog::Catalog;

fn main() -> anyhow::Result<()> {
    let catalog = Catalog::default();
    println!("miniapp demo: the default catalog");
    for package in catalog.packages() {
        let prices: Vec<String> = package.prices().iter().map(ToString::to_string).collect();
        println!(
            "  {:>5} tokens  {}",
            package.tokens().get(),
            prices.join("  or  ")
        );
    }
    println!("The payment page and the bot are not built yet (see the issues).");
    Ok(())
}
