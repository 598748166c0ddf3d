//! The baseline of the payment-status row in benches/README.md: a plain axum JSON endpoint on
//! the same runtime, router and serializer as `full_bot`, with no authentication and no
//! database. `benches/side_by_side.sh` runs it; it prints `listening on http://…` and serves
//! `GET /status/{id}` until killed.
#![allow(clippy::print_stdout)]

use axum::extract::Path;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

async fn status(Path(id): Path<String>) -> Json<Value> {
    // The same fields the real endpoint answers with.
    Json(json!({
        "success": true,
        "payment_id": id,
        "status": "pending",
        "amount": "25.00",
        "amount_minor": 2500,
        "currency": "USD",
        "credits": 500,
        "created_at": "2026-11-29T12:00:00Z",
        "balance": 0,
    }))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, Router::new().route("/status/{id}", get(status))).await?;
    Ok(())
}
