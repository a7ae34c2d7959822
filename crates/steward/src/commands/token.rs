//! `steward token`: create, list and revoke API tokens.

use serde_json::json;
use steward_server::api_types::{CreatedToken, TokenInfo};

use crate::{
    cli::{Global, OutputFormat, TokenCommand},
    client::Client,
    output,
};

pub(crate) async fn run(global: &Global, command: TokenCommand) -> anyhow::Result<()> {
    let client = Client::new(global)?;
    match command {
        TokenCommand::Create { name, role } => {
            let created: CreatedToken = client
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
                        created.token.role, created.token.name, created.token.id,
                    ));
                    output::line(&created.secret);
                }
            }
        }
        TokenCommand::List { all } => {
            let query = if all {
                vec![("include_revoked", "true".to_owned())]
            } else {
                Vec::new()
            };
            let tokens: Vec<TokenInfo> = client.get("/api/v1/tokens", &query).await?;
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
                            token.id.clone(),
                            token.name.to_string(),
                            token.role.to_string(),
                            output::timestamp(&token.created_at),
                            token.created_by.to_string(),
                            output::or_dash(token.last_used_at.as_ref().map(output::timestamp)),
                            output::or_dash(token.revoked_at.as_ref().map(output::timestamp)),
                        ]);
                    }
                    output::print_table(&table);
                }
            }
        }
        TokenCommand::Revoke { id_or_name } => {
            let revoked: TokenInfo = client
                .delete(&format!(
                    "/api/v1/tokens/{}",
                    crate::client::encode_segment(&id_or_name)
                ))
                .await?;
            match global.output {
                OutputFormat::Json => output::json(&revoked),
                OutputFormat::Table => output::line(&format!(
                    "revoked {} token `{}` ({})",
                    revoked.role, revoked.name, revoked.id
                )),
            }
        }
    }
    Ok(())
}
