#include "server/tls.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <chrono>
#include <cstring>
#include <stdexcept>

namespace evald {

bool tls_available() noexcept {
  return true;
}

namespace {

// Mozilla's "intermediate" configuration (TLS 1.2 suites; TLS 1.3 keeps OpenSSL's
// defaults), with the client's preference honoured.
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";

// OpenSSL's error queue as one line (and emptied), for a log or a start-up error.
std::string openssl_errors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(e, text, sizeof text);
    if (!out.empty()) {
      out += "; ";
    }
    out += text;
  }
  return out.empty() ? std::string("unknown OpenSSL error") : out;
}

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("TLS: " + what + ": " + openssl_errors());
}

// ALPN: HTTP/1.1 when the client offers it; otherwise no protocol is selected and the
// handshake goes on (a client that offered only h2 then sees HTTP/1.1 answers).
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  static constexpr unsigned char http11[] = {'h', 't', 't', 'p', '/', '1', '.', '1'};
  for (unsigned int i = 0; i < inlen;) {
    const unsigned int len = in[i];
    if (i + 1 + len > inlen) {
      break;
    }
    if (len == sizeof http11 && std::memcmp(in + i + 1, http11, len) == 0) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

int ticket_keys_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

}  // namespace

// Session-ticket keys: one set per endpoint, kept by every context it builds (so a
// ticket survives a certificate reload), made fresh every 12 hours; a ticket sealed
// with the previous key still resumes (and is renewed) for 12 more hours.
struct tls_endpoint::ticket_keys {
  struct key {
    unsigned char name[16];
    unsigned char aes[32];
    unsigned char hmac[32];
  };
  static constexpr auto rotation = std::chrono::hours(12);

  std::mutex mutex;
  key current{};
  key previous{};
  bool has_previous = false;
  std::chrono::steady_clock::time_point made;

  ticket_keys() { fresh(current); }

  void fresh(key& k) {
    if (RAND_bytes(k.name, sizeof k.name) != 1 || RAND_bytes(k.aes, sizeof k.aes) != 1 ||
        RAND_bytes(k.hmac, sizeof k.hmac) != 1) {
      fail("no random bytes for session-ticket keys");
    }
    made = std::chrono::steady_clock::now();
  }

  // OpenSSL's ticket callback: seal with the current key (enc = 1) or find the key a
  // ticket names (1: valid, 2: valid but renew it, 0: unknown → full handshake).
  static int callback(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                      EVP_MAC_CTX* mac, int enc) {
    auto* self =
        static_cast<ticket_keys*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ticket_keys_index()));
    if (self == nullptr) {
      return -1;
    }
    const std::lock_guard lock(self->mutex);
    const auto now = std::chrono::steady_clock::now();
    if (now - self->made >= rotation) {
      self->previous = self->current;
      self->has_previous = true;
      self->fresh(self->current);
    }
    const key* k = nullptr;
    int result = 1;
    if (enc == 1) {
      if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1) {
        return -1;
      }
      k = &self->current;
      std::memcpy(name, k->name, sizeof k->name);
      if (EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, k->aes, iv) != 1) {
        return -1;
      }
    } else {
      if (std::memcmp(name, self->current.name, sizeof self->current.name) == 0) {
        k = &self->current;
      } else if (self->has_previous &&
                 std::memcmp(name, self->previous.name, sizeof self->previous.name) == 0) {
        k = &self->previous;
        result = 2;
      } else {
        return 0;
      }
      if (EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, k->aes, iv) != 1) {
        return -1;
      }
    }
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(k->hmac),
                                          sizeof k->hmac),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end()};
    if (EVP_MAC_CTX_set_params(mac, params) != 1) {
      return -1;
    }
    return result;
  }
};

namespace {

std::shared_ptr<tls_context> build_context(const config::tls_settings& settings,
                                           tls_endpoint::ticket_keys* tickets) {
  ERR_clear_error();
  auto ctx = std::make_shared<tls_context>(tls_context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
    fail("cannot require TLS 1.2");
  }
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_clear_options(native,
                        SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_ALLOW_CLIENT_RENEGOTIATION);
  if (SSL_CTX_set_cipher_list(native, tls12_ciphers) != 1) {
    fail("cipher list");
  }
  if (SSL_CTX_set1_groups_list(native, "X25519:P-256:P-384") != 1) {
    fail("key-exchange groups");
  }
  for (const auto& c : settings.certificates) {
    if (SSL_CTX_use_certificate_chain_file(native, c.cert.c_str()) != 1) {
      fail("certificate " + c.cert);
    }
    if (SSL_CTX_use_PrivateKey_file(native, c.key.c_str(), SSL_FILETYPE_PEM) != 1) {
      fail("private key " + c.key);
    }
    if (SSL_CTX_check_private_key(native) != 1) {
      fail("the key " + c.key + " does not match the certificate " + c.cert);
    }
  }
  if (!settings.client_ca.empty()) {
    if (SSL_CTX_load_verify_locations(native, settings.client_ca.c_str(), nullptr) != 1) {
      fail("client CA " + settings.client_ca);
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(settings.client_ca.c_str());
    if (names == nullptr) {
      fail("client CA " + settings.client_ca);
    }
    SSL_CTX_set_client_CA_list(native, names);
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  SSL_CTX_set_alpn_select_cb(native, select_alpn, nullptr);
  static constexpr unsigned char session_context[] = {'e', 'v', 'a', 'l', 'd'};
  SSL_CTX_set_session_id_context(native, session_context, sizeof session_context);
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_SERVER);
  SSL_CTX_set_ex_data(native, ticket_keys_index(), tickets);
  SSL_CTX_set_tlsext_ticket_key_evp_cb(native, &tls_endpoint::ticket_keys::callback);
  return ctx;
}

}  // namespace

tls_endpoint::tls_endpoint(config::tls_settings settings)
    : settings_(std::move(settings)), tickets_(std::make_shared<ticket_keys>()) {
  current_ = build_context(settings_, tickets_.get());
}

tls_endpoint::~tls_endpoint() = default;

std::shared_ptr<tls_context> tls_endpoint::context() const {
  const std::lock_guard lock(mutex_);
  return current_;
}

scope_set tls_endpoint::client_scopes() const noexcept {
  scope_set out = 0;
  for (const auto& name : settings_.client_scopes) {
    if (const auto s = scope_named(name)) {
      out = out | *s;
    }
  }
  return out;
}

// The tenant a verified client certificate names: its subject's CN, if that is a
// tenant name ([a-z0-9_-]{1,64}, not "shared"); "" otherwise.
std::string certificate_tenant(tls_stream& stream) {
  const X509* cert = SSL_get0_peer_certificate(stream.native_handle());
  if (cert == nullptr || SSL_get_verify_result(stream.native_handle()) != X509_V_OK) {
    return {};
  }
  char cn[80] = {};
  const int n =
      X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
  if (n <= 0 || n > 64) {
    return {};
  }
  const std::string name(cn, static_cast<std::size_t>(n));
  for (const char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
      return {};
    }
  }
  return name == "shared" ? std::string() : name;
}

std::string tls_endpoint::reload() {
  try {
    auto fresh = build_context(settings_, tickets_.get());
    const std::lock_guard lock(mutex_);
    current_ = std::move(fresh);
    return {};
  } catch (const std::exception& e) {
    return e.what();
  }
}

}  // namespace evald
