#include "handlers/auth/token.hpp"

#if !defined(EVALD_NO_OPENSSL)
#include <openssl/crypto.h>
#include <openssl/evp.h>
#endif

#include <memory>
#include <stdexcept>

namespace evald::auth {
namespace {

constexpr char base62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// Characters drawn without bias: bytes of 248 and above are redrawn (248 = 4 × 62).
std::string random_base62(std::size_t n, void (*random)(void*, std::size_t)) {
  std::string out;
  unsigned char buf[64];
  while (out.size() < n) {
    random(buf, sizeof buf);
    for (const unsigned char b : buf) {
      if (b < 248 && out.size() < n) {
        out.push_back(base62[b % 62]);
      }
    }
  }
  return out;
}

std::uint32_t crc32(std::string_view text) {
  std::uint32_t c = 0xffffffffu;
  for (const char ch : text) {
    c ^= static_cast<unsigned char>(ch);
    for (int k = 0; k < 8; ++k) {
      c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
  }
  return ~c;
}

std::string checksum(std::string_view text) {
  std::uint32_t v = crc32(text);
  std::string out(checksum_length, '0');
  for (std::size_t i = checksum_length; i-- > 0;) {
    out[i] = base62[v % 62];
    v /= 62;
  }
  return out;
}

#if !defined(EVALD_NO_OPENSSL)
// One SHA-256 implementation fetched once (OpenSSL 3 fetches it on every call
// otherwise), and a digest context per thread.
const EVP_MD* sha256_md() {
  static EVP_MD* md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (m == nullptr) {
      throw std::runtime_error("OpenSSL has no SHA-256");
    }
    return m;
  }();
  return md;
}
#endif

}  // namespace

bool digests_available() {
#if defined(EVALD_NO_OPENSSL)
  return false;
#else
  return true;
#endif
}

bool is_base62(std::string_view text) {
  for (const char c : text) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    if (!ok) {
      return false;
    }
  }
  return true;
}

new_token make_token(void (*random)(void*, std::size_t)) {
  new_token t;
  t.key_id = random_base62(key_id_length, random);
  std::string body =
      std::string(token_prefix) + t.key_id + "_" + random_base62(secret_length, random);
  t.token = body + checksum(body);
  return t;
}

std::optional<std::string_view> key_id_of(std::string_view token) {
  if (token.size() != token_length || !token.starts_with(token_prefix)) {
    return std::nullopt;
  }
  const std::string_view id = token.substr(token_prefix.size(), key_id_length);
  const std::size_t sep = token_prefix.size() + key_id_length;
  if (token[sep] != '_' || !is_base62(id) || !is_base62(token.substr(sep + 1))) {
    return std::nullopt;
  }
  const std::string_view body = token.substr(0, token.size() - checksum_length);
  if (checksum(body) != token.substr(body.size())) {
    return std::nullopt;
  }
  return id;
}

digest sha256(std::string_view token) {
#if defined(EVALD_NO_OPENSSL)
  (void)token;
  throw std::runtime_error("API keys need OpenSSL, which this build lacks");
#else
  struct ctx_free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  thread_local std::unique_ptr<EVP_MD_CTX, ctx_free> ctx(EVP_MD_CTX_new());
  digest out{};
  unsigned int len = 0;
  if (!ctx || EVP_DigestInit_ex2(ctx.get(), sha256_md(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), token.data(), token.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len != out.size()) {
    throw std::runtime_error("SHA-256 failed");
  }
  return out;
#endif
}

std::string hex(const digest& d) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (const unsigned char b : d) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

std::optional<digest> digest_from_hex(std::string_view text) {
  if (text.size() != 64) {
    return std::nullopt;
  }
  digest d{};
  for (std::size_t i = 0; i < 32; ++i) {
    int v = 0;
    for (std::size_t k = 0; k < 2; ++k) {
      const char c = text[2 * i + k];
      const int x = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
      if (x < 0) {
        return std::nullopt;
      }
      v = v * 16 + x;
    }
    d[i] = static_cast<unsigned char>(v);
  }
  return d;
}

bool same_digest(const digest& a, const digest& b) {
#if defined(EVALD_NO_OPENSSL)
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = static_cast<unsigned char>(diff | (a[i] ^ b[i]));
  }
  return diff == 0;
#else
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
#endif
}

}  // namespace evald::auth
