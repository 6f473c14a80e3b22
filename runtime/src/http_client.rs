//! The HTTP client the runtime speaks with: dependency checks, Loki pushes, and any
//! service or test that wants the same bounded behaviour. reqwest with rustls underneath,
//! so `https://` works; the trust store is the Mozilla roots compiled in (a `FROM scratch`
//! image has no system store) plus the PEM bundle named by `OBS_CA_FILE`, for private CAs.
//! Every call is bounded in time and in the size of what it reads.

use std::sync::OnceLock;
use std::time::Duration;

/// Names a PEM file whose certificates are trusted in addition to the built-in roots.
pub const CA_FILE_ENV: &str = "OBS_CA_FILE";
/// Largest response body read; more is an error rather than memory growth.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// How long an idle pooled connection is kept for the next request.
const POOL_IDLE: Duration = Duration::from_secs(30);

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot read the CA bundle {path}: {message}")]
    CaFile { path: String, message: String },
    #[error("the CA bundle {path} holds no PEM certificate")]
    CaEmpty { path: String },
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// A response: status code, headers (lowercased names) and body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A pooled client; cheap to clone (one reference count).
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
}

impl HttpClient {
    /// The reqwest client underneath, for exporters that take one.
    pub(crate) fn reqwest(&self) -> &reqwest::Client {
        &self.inner
    }

    /// A client trusting the built-in roots and, when given, the certificates of a PEM bundle.
    pub fn new(extra_roots_pem: Option<&[u8]>) -> Result<Self, ClientError> {
        Self::build(extra_roots_pem, "the PEM bundle passed to HttpClient::new")
    }

    /// A client whose extra roots come from `OBS_CA_FILE` in `env`, if set.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Self, ClientError> {
        match env(CA_FILE_ENV).filter(|p| !p.is_empty()) {
            Some(path) => {
                let pem = std::fs::read(&path).map_err(|e| ClientError::CaFile {
                    path: format!("{path} (named by {CA_FILE_ENV})"),
                    message: e.to_string(),
                })?;
                Self::build(Some(&pem), &format!("{path} (named by {CA_FILE_ENV})"))
            }
            None => Self::build(None, ""),
        }
    }

    fn build(extra_roots_pem: Option<&[u8]>, origin: &str) -> Result<Self, ClientError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("obs-runtime/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(POOL_IDLE)
            .no_proxy();
        if let Some(pem) = extra_roots_pem {
            let certificates = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| ClientError::CaFile {
                path: origin.to_string(),
                message: e.to_string(),
            })?;
            if certificates.is_empty() {
                return Err(ClientError::CaEmpty { path: origin.into() });
            }
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let inner = builder.build().map_err(|e| ClientError::Build(e.to_string()))?;
        Ok(Self { inner })
    }

    /// Sends one request and reads the whole response, all within `timeout`.
    pub async fn request(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Response, String> {
        let method =
            reqwest::Method::from_bytes(method.as_bytes()).map_err(|_| format!("`{method}` is not a method"))?;
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("`{url}` is not an http:// or https:// URL"));
        }
        let mut request = self.inner.request(method, parsed);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.body(body.to_vec());
        }
        tokio::time::timeout(timeout, exchange(request, url))
            .await
            .map_err(|_| format!("no answer from {url} within {timeout:?}"))?
    }

    pub async fn get(&self, url: &str, timeout: Duration) -> Result<Response, String> {
        self.request("GET", url, &[], None, timeout).await
    }
}

async fn exchange(request: reqwest::RequestBuilder, url: &str) -> Result<Response, String> {
    let mut response = request.send().await.map_err(|e| describe(url, &e))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| describe(url, &e))? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(format!("response from {url} is larger than {MAX_BODY_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Response { status, headers, body })
}

/// reqwest's error with its causes: "error sending request" alone says nothing.
fn describe(url: &str, error: &reqwest::Error) -> String {
    let mut message = format!("{url}: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    message
}

/// The process-wide client with the built-in roots and `OBS_CA_FILE` of the process
/// environment; falls back to the built-in roots alone when that file is unusable.
pub fn shared() -> &'static HttpClient {
    static SHARED: OnceLock<HttpClient> = OnceLock::new();
    SHARED.get_or_init(|| {
        HttpClient::from_env(|var| std::env::var(var).ok()).unwrap_or_else(|error| {
            eprintln!("obs: {error}; using the built-in roots only");
            HttpClient::new(None).expect("a client with the built-in roots builds")
        })
    })
}

/// [`HttpClient::request`] on the shared client.
pub async fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    timeout: Duration,
) -> Result<Response, String> {
    shared().request(method, url, headers, body, timeout).await
}

/// [`HttpClient::get`] on the shared client.
pub async fn get(url: &str, timeout: Duration) -> Result<Response, String> {
    shared().get(url, timeout).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn times_out_on_a_silent_server() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let _held = tokio::spawn(async move {
            let (_socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let error = get(&url, Duration::from_millis(200)).await.unwrap_err();
        assert!(error.contains("no answer"), "{error}");
    }

    #[tokio::test]
    async fn refuses_other_schemes_and_names_the_url() {
        let error = get("ftp://127.0.0.1/", Duration::from_secs(1)).await.unwrap_err();
        assert!(error.contains("not an http:// or https:// URL"), "{error}");
        let error = get("http://127.0.0.1:1/", Duration::from_secs(2)).await.unwrap_err();
        assert!(error.starts_with("http://127.0.0.1:1/"), "{error}");
    }

    #[test]
    fn a_ca_file_without_certificates_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let path = path.display().to_string();
        let error = HttpClient::from_env(|v| (v == CA_FILE_ENV).then(|| path.clone())).unwrap_err();
        assert!(error.to_string().contains(&path), "{error}");
        let error = HttpClient::from_env(|v| (v == CA_FILE_ENV).then(|| "/nonexistent/ca.pem".into())).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
    }
}
