//! Team events over a real WebSocket (`graphql-transport-ws`): authenticated at
//! `connection_init`, shown only to subscribers whose policy lets them read them, and ended
//! for a member who is removed.

use std::time::Duration;

use super::TestServer;
use fieldguard_e2e::ensure;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a socket and sends `connection_init` with `token`; answers the server's first reply.
async fn connect(server: &TestServer, token: &str) -> anyhow::Result<(Socket, Value)> {
    let url = format!("{}/graphql/ws", server.url.replace("http://", "ws://"));
    let mut request = url.into_client_request()?;
    request.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    let init = json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } });
    socket.send(Message::Text(init.to_string().into())).await?;
    let first = next(&mut socket, Duration::from_secs(5)).await?.unwrap_or(Value::Null);
    Ok((socket, first))
}

/// Subscribes a demo user to `teamEvents`.
async fn subscribe(server: &TestServer, email: &str) -> anyhow::Result<Socket> {
    let (mut socket, ack) = connect(server, server.token(email)?).await?;
    anyhow::ensure!(ack["type"] == "connection_ack", "{email} is not acknowledged: {ack}");
    let subscribe = json!({
        "id": "1",
        "type": "subscribe",
        "payload": { "query": "subscription { teamEvents { kind email actorId portalRole } }" }
    });
    socket.send(Message::Text(subscribe.to_string().into())).await?;
    Ok(socket)
}

/// The next protocol message within `wait`, as JSON; `None` if none came. A close frame is
/// `{"type": "close", "code": …}`.
async fn next(socket: &mut Socket, wait: Duration) -> anyhow::Result<Option<Value>> {
    loop {
        match tokio::time::timeout(wait, socket.next()).await {
            Err(_) => return Ok(None),
            Ok(None) => return Ok(Some(json!({ "type": "closed" }))),
            Ok(Some(message)) => match message? {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(&text)?;
                    if value["type"] == "ping" || value["type"] == "pong" {
                        continue;
                    }
                    return Ok(Some(value));
                }
                Message::Close(frame) => {
                    let code = frame.map(|f| u16::from(f.code)).unwrap_or_default();
                    return Ok(Some(json!({ "type": "close", "code": code })));
                }
                _ => continue,
            },
        }
    }
}

#[tokio::test]
async fn an_invitation_reaches_the_subscribers_who_may_read_it() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let mut sam = subscribe(&server, "sam.security@acme.test").await?;
    let mut nina = subscribe(&server, "nina.nogroup@acme.test").await?;
    let mut gina = subscribe(&server, "gina.owner@globex.test").await?;
    // Give the subscriptions a moment to reach the bus (the protocol has no subscribe ack).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reply = server
        .query(
            "adam.admin@acme.test",
            r#"mutation { inviteMembers(input: { emails: ["watched@acme.test"], portalRole: MEMBER }) { results { invitation { id } } } }"#,
        )
        .await?;
    ensure(reply.errors().is_empty(), "adam invites", &reply)?;
    let seen = next(&mut sam, Duration::from_secs(5)).await?.unwrap_or(Value::Null);
    anyhow::ensure!(
        seen["type"] == "next"
            && seen["payload"]["data"]["teamEvents"]
                == json!({ "kind": "MEMBER_INVITED", "email": "watched@acme.test", "actorId": "User:2", "portalRole": "MEMBER" }),
        "the security admin sees the invitation: {seen}"
    );
    let nothing = next(&mut nina, Duration::from_millis(700)).await?;
    anyhow::ensure!(nothing.is_none(), "a member without the right sees nothing: {nothing:?}");
    let other_team = next(&mut gina, Duration::from_millis(300)).await?;
    anyhow::ensure!(other_team.is_none(), "another team sees nothing: {other_team:?}");

    // Removing Nina ends her own subscription.
    let reply = server
        .query("adam.admin@acme.test", r#"mutation { removeMember(memberId: "Membership:9") }"#)
        .await?;
    ensure(reply.errors().is_empty(), "adam removes nina", &reply)?;
    let ended = next(&mut nina, Duration::from_secs(5)).await?.unwrap_or(Value::Null);
    anyhow::ensure!(
        ended["type"] == "complete" && ended["id"] == "1",
        "nina's subscription ends: {ended}"
    );
    let removal = next(&mut sam, Duration::from_secs(5)).await?.unwrap_or(Value::Null);
    anyhow::ensure!(
        removal["payload"]["data"]["teamEvents"]["kind"] == "MEMBER_REMOVED",
        "sam sees the removal: {removal}"
    );
    Ok(())
}

#[tokio::test]
async fn a_bad_token_at_connection_init_is_refused() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (_socket, first) = connect(&server, "not-a-token").await?;
    anyhow::ensure!(
        first["type"] == "close"
            || first["type"] == "connection_error"
            || first["type"] == "closed",
        "refused: {first}"
    );
    Ok(())
}
