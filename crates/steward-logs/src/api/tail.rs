//! `GET /loki/api/v1/tail`: live lines over a WebSocket, as Loki's tail
//! (what `logcli --tail` and Grafana's live view use).
//!
//! A tail first sends the lines since `start` (up to `limit`), then every
//! pushed line its query selects, one frame per push:
//! `{"streams":[{"stream":{...},"values":[["<ns>","line"]]}]}`. Pushes are
//! shown to tails through a broadcast channel, filtered by running the
//! query over the pushed streams alone; a tail that falls behind by more
//! than the channel holds is told how many pushes it missed
//! (`dropped_entries`) rather than slowing the pushers down. A line pushed
//! while the backlog is read may be sent twice; none is missed.

use std::sync::Arc;

use axum::{
    extract::{
        State,
        ws::{Message, WebSocket, WebSocketUpgrade},
    },
    response::Response,
};
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::{
    ApiError, DEFAULT_SINCE_NS, LokiApi, limit, now_ns,
    params::{LokiParams, Params},
    parse_query,
};
use crate::{
    MemorySource, PushStream,
    logql::{Direction, Expr, LogExpr, QueryResult, RangeParams},
};

/// Pushes a tail may fall behind by before it misses some.
const CAPACITY: usize = 1024;

/// Where pushes are shown to live tails.
#[derive(Clone)]
pub(crate) struct Hub {
    sender: broadcast::Sender<Arc<Vec<PushStream>>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            sender: broadcast::channel(CAPACITY).0,
        }
    }
}

impl Hub {
    /// Whether any tail is listening (pushes are copied only then).
    pub(crate) fn wants(&self) -> bool {
        self.sender.receiver_count() > 0
    }

    pub(crate) fn publish(&self, streams: Vec<PushStream>) {
        let _ = self.sender.send(Arc::new(streams));
    }
}

pub(crate) async fn tail(
    State(api): State<LokiApi>,
    ws: WebSocketUpgrade,
    params: Params,
) -> Result<Response, ApiError> {
    let expr = parse_query(&params)?;
    let Expr::Log(log) = expr else {
        return Err(ApiError::bad_data("only log queries can be tailed"));
    };
    let limit = limit(&params)?;
    let start = params.time_ns("start", now_ns().saturating_sub(DEFAULT_SINCE_NS))?;
    Ok(ws.on_upgrade(move |socket| run(api, log, start, limit, socket)))
}

/// The frame of a result's streams.
fn frame(result: &QueryResult, dropped: Option<u64>) -> Option<String> {
    let streams = result
        .to_json()
        .get("result")
        .cloned()
        .unwrap_or(Value::Null);
    if streams.as_array().is_some_and(|a| a.is_empty()) && dropped.is_none() {
        return None;
    }
    let dropped = dropped.map(|n| json!([{"labels": {}, "timestamp": n.to_string()}]));
    Some(json!({"streams": streams, "dropped_entries": dropped}).to_string())
}

async fn run(api: LokiApi, log: LogExpr, start: i64, limit: usize, mut socket: WebSocket) {
    let mut pushes = api.tail.sender.subscribe();
    let backlog = {
        let (engine, store, log) = (api.engine.clone(), api.store.clone(), log.clone());
        tokio::task::spawn_blocking(move || {
            engine.query_logs(
                &store,
                &log,
                &RangeParams {
                    start,
                    end: now_ns().saturating_add(1),
                    step: 1,
                    limit,
                    direction: Direction::Forward,
                },
            )
        })
        .await
    };
    match backlog {
        Ok(Ok(streams)) => {
            if let Some(text) = frame(&QueryResult::Streams(streams), None)
                && socket.send(Message::Text(text.into())).await.is_err()
            {
                return;
            }
        }
        Ok(Err(err)) => {
            let _ = socket
                .send(Message::Text(
                    json!({"error": err.to_string()}).to_string().into(),
                ))
                .await;
            return;
        }
        Err(_) => return,
    }
    loop {
        tokio::select! {
            push = pushes.recv() => {
                let (streams, dropped) = match push {
                    Ok(streams) => (streams, None),
                    Err(broadcast::error::RecvError::Lagged(n)) => (Arc::new(Vec::new()), Some(n)),
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                let source = MemorySource::new();
                source.push(streams.as_ref().clone());
                let shown = api.engine.query_logs(
                    &source,
                    &log,
                    &RangeParams {
                        start: i64::MIN,
                        end: i64::MAX,
                        step: 1,
                        limit: usize::MAX,
                        direction: Direction::Forward,
                    },
                );
                let Ok(shown) = shown else { continue };
                if let Some(text) = frame(&QueryResult::Streams(shown), dropped)
                    && socket.send(Message::Text(text.into())).await.is_err()
                {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
