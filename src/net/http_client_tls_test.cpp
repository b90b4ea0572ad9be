// HttpClient over TLS against a small in-test Beast server. The certificates (two CAs, a server
// certificate for 127.0.0.1/localhost and a client certificate) are made at test start with
// OpenSSL's API, so the test needs no files and no `openssl` binary.
#include <future>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "net/http_client.h"

namespace tug::net {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertDeleter {
  void operator()(X509* x) const { X509_free(x); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyDeleter>;
using Cert = std::unique_ptr<X509, CertDeleter>;

struct Issued {
  Key key;
  Cert cert;
  std::string cert_pem;
  std::string key_pem;
};

std::string ToPem(X509* x) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, x);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

std::string ToPem(EVP_PKEY* k) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

void AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  ASSERT_NE(ext, nullptr) << value;
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

/// A certificate for `cn`, signed by `issuer` (self-signed when null). `san` empty: a CA.
Issued Issue(const std::string& cn, const Issued* issuer, const char* san) {
  static long serial = 1;
  Issued out;
  out.key.reset(EVP_EC_gen("P-256"));
  out.cert.reset(X509_new());
  X509* x = out.cert.get();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 24L * 3600);
  X509_set_pubkey(x, out.key.get());
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* issuer_cert = issuer != nullptr ? issuer->cert.get() : x;
  X509_set_issuer_name(x, X509_get_subject_name(issuer_cert));
  if (san == nullptr) {
    AddExt(x, issuer_cert, NID_basic_constraints, "critical,CA:TRUE");
    AddExt(x, issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExt(x, issuer_cert, NID_basic_constraints, "critical,CA:FALSE");
    AddExt(x, issuer_cert, NID_key_usage, "critical,digitalSignature");
    AddExt(x, issuer_cert, NID_ext_key_usage, "serverAuth,clientAuth");
    if (*san != '\0') AddExt(x, issuer_cert, NID_subject_alt_name, san);
  }
  AddExt(x, issuer_cert, NID_subject_key_identifier, "hash");
  if (issuer != nullptr) AddExt(x, issuer_cert, NID_authority_key_identifier, "keyid:always");
  X509_sign(x, issuer != nullptr ? issuer->key.get() : out.key.get(), EVP_sha256());
  out.cert_pem = ToPem(x);
  out.key_pem = ToPem(out.key.get());
  return out;
}

struct Pki {
  Issued ca = Issue("tug-test-ca", nullptr, nullptr);
  Issued other_ca = Issue("some-other-ca", nullptr, nullptr);
  Issued server = Issue("tug-test-server", &ca, "IP:127.0.0.1,DNS:localhost");
  Issued client = Issue("tug-test-client", &ca, "");
};

const Pki& Certs() {
  static const Pki* pki = new Pki();
  return *pki;
}

/// HTTPS on 127.0.0.1:0 with the test server certificate (OpenSSL adds the CA to the chain it
/// sends, from the verify store). Routes: /hello, /whoami (the client
/// certificate's CN or "none"), /stream (one chunk, then silence until the client leaves).
class TlsServer {
 public:
  explicit TlsServer(bool require_client_cert) {
    const Pki& pki = Certs();
    ctx_.use_certificate_chain(asio::buffer(pki.server.cert_pem));
    ctx_.use_private_key(asio::buffer(pki.server.key_pem), ssl::context::pem);
    ctx_.add_certificate_authority(asio::buffer(pki.ca.cert_pem));
    ctx_.set_verify_mode(require_client_cert ? ssl::verify_peer | ssl::verify_fail_if_no_peer_cert
                                             : ssl::verify_peer);
    acceptor_.open(tcp::v4());
    acceptor_.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(io_, Accept(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TlsServer() {
    io_.stop();
    thread_.join();
  }
  TlsServer(const TlsServer&) = delete;
  TlsServer& operator=(const TlsServer&) = delete;

  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  uint16_t port() const { return port_; }

 private:
  asio::awaitable<void> Accept() {
    while (true) {
      tcp::socket socket = co_await acceptor_.async_accept(asio::use_awaitable);
      asio::co_spawn(io_, Session(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> Session(tcp::socket socket) {
    ssl::stream<tcp::socket> stream(std::move(socket), ctx_);
    co_await stream.async_handshake(ssl::stream_base::server, asio::use_awaitable);
    boost::beast::flat_buffer buffer;
    while (true) {
      http::request<http::string_body> req;
      co_await http::async_read(stream, buffer, req, asio::use_awaitable);
      if (req.target() == "/stream") {
        std::string head =
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5\r\nfirst\r\n";
        co_await asio::async_write(stream, asio::buffer(head), asio::use_awaitable);
        asio::steady_timer forever(io_, 1h);
        co_await forever.async_wait(asio::use_awaitable);
        co_return;
      }
      http::response<http::string_body> res(http::status::ok, 11);
      res.set(http::field::content_type, "text/plain");
      if (req.target() == "/whoami") {
        std::string cn = "none";
        if (X509* peer = SSL_get1_peer_certificate(stream.native_handle())) {
          char buf[256] = {};
          X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, buf, sizeof(buf));
          cn = buf;
          X509_free(peer);
        }
        res.body() = cn;
      } else {
        res.body() = "hello";
      }
      res.keep_alive(true);
      res.prepare_payload();
      co_await http::async_write(stream, res, asio::use_awaitable);
    }
  }

  ssl::context ctx_{ssl::context::tls_server};
  asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  uint16_t port_ = 0;
  std::thread thread_;
};

HttpClientOptions WithCa(const std::string& ca_pem) {
  HttpClientOptions o;
  o.timeout = 5s;
  o.tls.ca_pem = ca_pem;
  o.peer = "the Kubernetes API server";
  return o;
}

TEST(HttpClientTlsTest, VerifiesTheServerAgainstTheCaAndItsIpSan) {
  TlsServer server(false);
  auto client = HttpClient::Create(server.url(), WithCa(Certs().ca.cert_pem));
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  for (int i = 0; i < 2; ++i) {  // the second request reuses the TLS connection
    auto r = client->Send("GET", "/hello");
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "hello");
  }
  auto who = client->Send("GET", "/whoami");
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who->body, "none");
}

TEST(HttpClientTlsTest, ServerNameOverrideIsCheckedAgainstDnsSans) {
  TlsServer server(false);
  auto o = WithCa(Certs().ca.cert_pem);
  o.tls.server_name = "localhost";
  auto ok = HttpClient::Create(server.url(), o);
  ASSERT_TRUE(ok.ok());
  auto r = ok->Send("GET", "/hello");
  ASSERT_TRUE(r.ok()) << r.error().ToString();

  o.tls.server_name = "kubernetes.example";
  auto wrong = HttpClient::Create(server.url(), o);
  ASSERT_TRUE(wrong.ok());
  auto bad = wrong->Send("GET", "/hello");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), Code::kUnavailable);
  EXPECT_NE(bad.error().message().find("hostname mismatch"), std::string::npos)
      << bad.error().message();
  EXPECT_NE(bad.error().message().find("'kubernetes.example'"), std::string::npos);
}

TEST(HttpClientTlsTest, WrongCaIsRejectedWithAClearError) {
  TlsServer server(false);
  auto client = HttpClient::Create(server.url(), WithCa(Certs().other_ca.cert_pem));
  ASSERT_TRUE(client.ok());
  auto r = client->Send("GET", "/hello");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kUnavailable);
  EXPECT_EQ(
      r.error().message(),
      "cannot verify the TLS certificate of the Kubernetes API server at " + server.url() +
          " (self-signed certificate in certificate chain, checked as '127.0.0.1'); check the CA "
          "certificate and the server name");

  auto insecure = WithCa(Certs().other_ca.cert_pem);
  insecure.tls.insecure_skip_verify = true;
  auto skip = HttpClient::Create(server.url(), insecure);
  ASSERT_TRUE(skip.ok());
  auto r2 = skip->Send("GET", "/hello");
  ASSERT_TRUE(r2.ok()) << r2.error().ToString();
  EXPECT_EQ(r2->body, "hello");
}

TEST(HttpClientTlsTest, PresentsTheClientCertificate) {
  TlsServer server(true);
  auto o = WithCa(Certs().ca.cert_pem);
  o.tls.client_cert_pem = Certs().client.cert_pem;
  o.tls.client_key_pem = Certs().client.key_pem;
  auto client = HttpClient::Create(server.url(), o);
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  auto r = client->Send("GET", "/whoami");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->body, "tug-test-client");

  // Without one, the server refuses (TLS 1.3 tells the client at its first read).
  auto anonymous = HttpClient::Create(server.url(), WithCa(Certs().ca.cert_pem));
  ASSERT_TRUE(anonymous.ok());
  auto refused = anonymous->Send("GET", "/whoami");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), Code::kUnavailable);
}

TEST(HttpClientTlsTest, BadTlsMaterialIsInvalidArgument) {
  auto o = WithCa("not a certificate");
  auto r = HttpClient::Create("https://127.0.0.1:1", o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  EXPECT_NE(r.error().message().find("CA certificate"), std::string::npos) << r.error().message();

  o = WithCa(Certs().ca.cert_pem);
  o.tls.client_cert_pem = Certs().client.cert_pem;
  auto half = HttpClient::Create("https://127.0.0.1:1", o);
  ASSERT_FALSE(half.ok());
  EXPECT_EQ(half.error().code(), Code::kInvalidArgument);

  o.tls.client_key_pem = Certs().server.key_pem;  // not the certificate's key
  auto mismatch = HttpClient::Create("https://127.0.0.1:1", o);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.error().code(), Code::kInvalidArgument);
}

TEST(HttpClientTlsTest, CancelUnblocksAStream) {
  TlsServer server(false);
  auto client = HttpClient::Create(server.url(), WithCa(Certs().ca.cert_pem));
  ASSERT_TRUE(client.ok());
  std::promise<std::string> first;
  auto streaming = std::async(std::launch::async, [&] {
    bool once = true;
    int status = 0;
    Status st = client->Stream(
        "GET", "/stream",
        [&](std::string_view d) {
          if (once) first.set_value(std::string(d));
          once = false;
          return true;
        },
        &status);
    EXPECT_EQ(status, 200);
    return st;
  });
  EXPECT_EQ(first.get_future().get(), "first");
  client->Cancel();
  Status st = streaming.get();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Code::kCancelled);
  EXPECT_EQ(st.error().message(),
            "the request to the Kubernetes API server at " + server.url() + " was cancelled");
}

}  // namespace
}  // namespace tug::net
