#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace evald::auth {

// An API token: "evald_" + a public key id (12 base62 characters) + "_" + a secret
// (43 base62 characters, 256 bits from the OS CSPRNG) + a checksum (6 base62
// characters of the CRC-32 of everything before it). The prefix and the checksum let
// a secret scanner recognise a leaked token offline; the key id finds its entry in
// one lookup. Only the token's SHA-256 is ever stored.
inline constexpr std::string_view token_prefix = "evald_";
inline constexpr std::size_t key_id_length = 12;
inline constexpr std::size_t secret_length = 43;
inline constexpr std::size_t checksum_length = 6;
inline constexpr std::size_t token_length =
    token_prefix.size() + key_id_length + 1 + secret_length + checksum_length;

using digest = std::array<unsigned char, 32>;

struct new_token {
  std::string token;
  std::string key_id;
};
// A fresh token from `random` (a CSPRNG filling a buffer).
new_token make_token(void (*random)(void*, std::size_t));

// The key id of a well-formed token whose checksum holds; nullopt otherwise.
std::optional<std::string_view> key_id_of(std::string_view token);

// SHA-256 of the token (OpenSSL).
digest sha256(std::string_view token);
std::string hex(const digest& d);
// 64 hexadecimal digits → the digest; nullopt otherwise.
std::optional<digest> digest_from_hex(std::string_view text);
// Constant-time equality (CRYPTO_memcmp).
bool same_digest(const digest& a, const digest& b);

bool is_base62(std::string_view text);

// False where the build has no OpenSSL (Windows): keys files are refused at start.
bool digests_available();

}  // namespace evald::auth
