//! The `redis` dependency check: connect, authenticate when the target carries
//! credentials, send `PING` in the Redis protocol (RESP) and expect `+PONG`. Four lines of
//! protocol do not justify a Redis client library.

use contract::model::RedisTarget;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A RESP array of bulk strings: what a Redis client sends for a command.
fn command(parts: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", parts.len()).into_bytes();
    for part in parts {
        out.extend_from_slice(format!("${}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The first reply line, without its `\r\n`; a line past 4 KiB is an error, not a wait.
async fn reply(reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Result<String, String> {
    let mut line = String::new();
    let read = reader
        .read_line(&mut line)
        .await
        .map_err(|e| format!("reading the reply: {e}"))?;
    if read == 0 {
        return Err("the server closed the connection".into());
    }
    if line.len() > 4096 {
        return Err("the reply is not Redis".into());
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Pings the Redis server `target` names (`host:port` or `redis://[user:password@]host:port`).
/// The caller bounds it in time.
pub async fn ping(target: &str) -> Result<(), String> {
    let target = RedisTarget::parse(target).ok_or_else(|| format!("`{target}` is not a Redis address"))?;
    let stream = TcpStream::connect(&target.address).await.map_err(|e| e.to_string())?;
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    if let Some(password) = &target.password {
        let auth = match &target.user {
            Some(user) => command(&["AUTH", user, password]),
            None => command(&["AUTH", password]),
        };
        write.write_all(&auth).await.map_err(|e| e.to_string())?;
        match reply(&mut reader).await? {
            ok if ok == "+OK" => {}
            // The password is never echoed into the check's error.
            error => return Err(format!("authentication failed: {}", error.trim_start_matches('-'))),
        }
    }
    write.write_all(&command(&["PING"])).await.map_err(|e| e.to_string())?;
    match reply(&mut reader).await?.as_str() {
        "+PONG" => Ok(()),
        error if error.starts_with('-') => Err(error[1..].to_string()),
        other => Err(format!("answered `{other}` instead of PONG")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_resp_arrays() {
        assert_eq!(command(&["PING"]), b"*1\r\n$4\r\nPING\r\n");
        assert_eq!(command(&["AUTH", "pw"]), b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n");
    }
}
