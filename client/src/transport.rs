//! Transports behind one trait: hyper over turmoil TCP (simulation), hyper over tokio TCP with
//! rustls (real use) or plain TCP (loopback), and in-memory (tests, fast network mode).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::Connect;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A request: absolute URL, headers and body. Its `Debug` shows neither the body nor the values
/// of credential headers: they carry tokens, client secrets and passwords.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Header names whose values are secrets.
const SECRET_HEADERS: [&str; 4] = ["authorization", "proxy-authorization", "cookie", "x-api-key"];

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                let secret = SECRET_HEADERS
                    .iter()
                    .any(|secret| name.eq_ignore_ascii_case(secret));
                (name.as_str(), if secret { "<redacted>" } else { value.as_str() })
            })
            .collect();
        let url = self
            .url
            .split_once('?')
            .map_or(self.url.as_str(), |(path, _)| path);
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field(
                "url",
                &format_args!(
                    "{url}{}",
                    if url.len() < self.url.len() {
                        "?<query redacted>"
                    } else {
                        ""
                    }
                ),
            )
            .field("headers", &headers)
            .field("body", &format_args!("<{} bytes redacted>", self.body.len()))
            .finish()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Why no response came.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportError {
    /// The connection could not be made (nothing was sent).
    Connect,
    /// The attempt's timeout fired (the request may have been applied).
    Timeout,
    /// The connection closed before the response (the request may have been applied).
    Lost,
    /// The request could not be built (a bad URL or header).
    Invalid,
}

pub trait Transport: Send + Sync + 'static {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>>;
}

/// Any async function from request to response: stubs in tests, or a gateway core called directly.
pub struct InMemoryTransport {
    handler:
        Box<dyn Fn(HttpRequest) -> BoxFuture<'static, Result<HttpResponse, TransportError>> + Send + Sync>,
}

impl InMemoryTransport {
    pub fn new<F, Fut>(handler: F) -> InMemoryTransport
    where
        F: Fn(HttpRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<HttpResponse, TransportError>> + Send + 'static,
    {
        InMemoryTransport {
            handler: Box::new(move |request| Box::pin(handler(request))),
        }
    }
}

impl Transport for InMemoryTransport {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        (self.handler)(request)
    }
}

impl<T: Transport + ?Sized> Transport for Arc<T> {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        (**self).send(request)
    }
}

/// hyper-util's pooled client over any connector.
pub struct HyperTransport<C> {
    client: HyperClient<C, Full<Bytes>>,
}

impl<C: Connect + Clone + Send + Sync + 'static> HyperTransport<C> {
    pub fn with_connector(connector: C) -> HyperTransport<C> {
        let client = HyperClient::builder(TokioExecutor::new()).build(connector);
        HyperTransport { client }
    }
}

impl HyperTransport<hyper_util::client::legacy::connect::HttpConnector> {
    /// Plain HTTP over tokio TCP (loopback, `herdsim serve`).
    pub fn http() -> Self {
        HyperTransport::with_connector(hyper_util::client::legacy::connect::HttpConnector::new())
    }
}

#[cfg(feature = "tls")]
impl HyperTransport<hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>> {
    /// HTTPS (and HTTP) over tokio TCP with rustls and the webpki roots: for real platforms.
    pub fn https() -> Self {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        HyperTransport::with_connector(connector)
    }
}

impl<C: Connect + Clone + Send + Sync + 'static> Transport for HyperTransport<C> {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        Box::pin(async move {
            let mut builder = hyper::Request::builder()
                .method(request.method.as_str())
                .uri(request.url.as_str());
            for (name, value) in &request.headers {
                builder = builder.header(name.as_str(), value.as_str());
            }
            let request = builder
                .body(Full::new(Bytes::from(request.body)))
                .map_err(|_| TransportError::Invalid)?;
            let response = self.client.request(request).await.map_err(|error| {
                if error.is_connect() {
                    TransportError::Connect
                } else {
                    TransportError::Lost
                }
            })?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_string(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|_| TransportError::Lost)?
                .to_bytes()
                .to_vec();
            Ok(HttpResponse {
                status,
                headers,
                body,
            })
        })
    }
}

#[cfg(feature = "turmoil")]
pub use self::simulated::TurmoilConnector;

#[cfg(feature = "turmoil")]
mod simulated {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use hyper::Uri;
    use hyper_util::client::legacy::connect::{Connected, Connection};
    use hyper_util::rt::TokioIo;
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

    use super::{BoxFuture, HyperTransport};

    /// Connects over turmoil's simulated TCP.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct TurmoilConnector;

    /// A turmoil stream that hyper-util's pool accepts.
    pub struct TurmoilStream(turmoil::net::TcpStream);

    impl tower_service::Service<Uri> for TurmoilConnector {
        type Response = TokioIo<TurmoilStream>;
        type Error = std::io::Error;
        type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, uri: Uri) -> Self::Future {
            Box::pin(async move {
                let host = uri
                    .host()
                    .ok_or_else(|| std::io::Error::other("no host in URI"))?
                    .to_string();
                let port = uri.port_u16().unwrap_or(80);
                let stream = turmoil::net::TcpStream::connect((host.as_str(), port)).await?;
                Ok(TokioIo::new(TurmoilStream(stream)))
            })
        }
    }

    impl Connection for TurmoilStream {
        fn connected(&self) -> Connected {
            Connected::new()
        }
    }

    impl AsyncRead for TurmoilStream {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.0).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for TurmoilStream {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            Pin::new(&mut self.0).poll_write(cx, buf)
        }
        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.0).poll_flush(cx)
        }
        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.0).poll_shutdown(cx)
        }
    }

    impl HyperTransport<TurmoilConnector> {
        /// hyper over turmoil TCP: use inside a turmoil host.
        pub fn turmoil() -> Self {
            HyperTransport::with_connector(TurmoilConnector)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_credentials() {
        let request = HttpRequest {
            method: "POST".into(),
            url: "https://login.example/oauth/token?client_secret=s3cret-query".into(),
            headers: vec![
                ("Authorization".into(), "Basic c2VjcmV0LWlkOnMzY3JldA==".into()),
                ("content-type".into(), "application/x-www-form-urlencoded".into()),
            ],
            body: b"grant_type=password&password=s3cret-body&accessKeySecret=s3cret-key".to_vec(),
        };
        let shown = format!("{request:?}");
        for secret in ["s3cret", "c2VjcmV0", "password="] {
            assert!(!shown.contains(secret), "{secret} shows in {shown}");
        }
        assert!(shown.contains("application/x-www-form-urlencoded"), "{shown}");
        assert!(shown.contains("https://login.example/oauth/token"), "{shown}");
    }
}
