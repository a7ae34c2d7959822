//! `steward token`: create, list and revoke API tokens.

use serde_json::{Value, json};

use crate::{
    cli::{Global, OutputFormat, TokenCommand},
    client::Client,
    output,
};

pub(crate) async fn run(global: &Global, command: TokenCommand) -> anyhow::Result<()> {
    let client = Client::new(global)?;
    match command {
        TokenCommand::Create { name, role } => {
            let created: Value = client
                .post(
                    "/api/v1/tokens",
                    &json!({"name": name, "role": role.as_str()}),
                )
                .await?;
            match global.output {
                OutputFormat::Json => output::json(&created),
                OutputFormat::Table => {
                    output::note(&format!(
                        "created {} token `{}` ({}); it is shown only now:",
                        output::text(&created["token"]["role"]),
                        output::text(&created["token"]["name"]),
                        output::text(&created["token"]["id"]),
                    ));
                    output::line(&output::text(&created["secret"]));
                }
            }
        }
        TokenCommand::List { all } => {
            let query = if all {
                vec![("include_revoked", "true".to_owned())]
            } else {
                Vec::new()
            };
            let tokens: Vec<Value> = client.get("/api/v1/tokens", &query).await?;
            match global.output {
                OutputFormat::Json => output::json(&tokens),
                OutputFormat::Table => {
                    let mut table = output::table(&[
                        "ID",
                        "NAME",
                        "ROLE",
                        "CREATED",
                        "CREATED BY",
                        "LAST USED",
                        "REVOKED",
                    ]);
                    for token in &tokens {
                        table.add_row(vec![
                            output::text(&token["id"]),
                            output::text(&token["name"]),
                            output::text(&token["role"]),
                            output::time(&token["created_at"]),
                            output::text(&token["created_by"]),
                            output::time(&token["last_used_at"]),
                            output::time(&token["revoked_at"]),
                        ]);
                    }
                    output::print_table(&table);
                }
            }
        }
        TokenCommand::Revoke { id_or_name } => {
            let revoked: Value = client
                .delete(&format!("/api/v1/tokens/{}", encode_segment(&id_or_name)))
                .await?;
            match global.output {
                OutputFormat::Json => output::json(&revoked),
                OutputFormat::Table => output::line(&format!(
                    "revoked {} token `{}` ({})",
                    output::text(&revoked["role"]),
                    output::text(&revoked["name"]),
                    output::text(&revoked["id"])
                )),
            }
        }
    }
    Ok(())
}

/// Percent-encodes a path segment so a name can never change the path.
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
