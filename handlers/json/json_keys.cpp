#include "handlers/json/json_keys.hpp"

#include "server/ascii.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <nlohmann/json.hpp>
#include <vector>

namespace evald {

namespace {

using json = nlohmann::json;

// RFC 8259 JSON straight into nlohmann's DOM, iteratively (an explicit stack of open
// containers, so depth costs no C++ stack). nlohmann's own lexer keeps every byte it
// reads twice (the token and its error context) and was a quarter of a small
// request's CPU; this reads plain runs of a string in one append.
class parser {
 public:
  parser(std::string_view text, std::size_t max_depth)
      : begin_(text.data()),
        p_(text.data()),
        end_(text.data() + text.size()),
        max_depth_(max_depth) {}

  // Between two calls of advance() the state is p_, target_ and open_: each pointer
  // stays valid, because a container only grows while none of its children is open.
  bool advance(std::size_t bytes) {
    if (done_) {
      return true;
    }
    const auto left = static_cast<std::size_t>(end_ - p_);
    return advance(bytes >= left ? end_ : p_ + bytes);
  }
  bool done() const noexcept { return done_; }
  json take() { return std::move(root_); }

  // Parses on until the value is complete (true) or, between two values, p_ has
  // passed `stop` (false: call again to go on). Throws on the first error.
  bool advance(const char* stop) {
    json*& target = target_;  // where the next value goes
    for (;;) {
      if (p_ >= stop && stop != end_) {
        return false;
      }
      skip_ws();
      if (p_ == end_) {
        fail("unexpected end of input; expected a value");
      }
      bool closed_empty = false;
      switch (*p_) {
        case '{':
          ++p_;
          check_depth();
          *target = json::value_t::object;
          skip_ws();
          if (p_ < end_ && *p_ == '}') {
            ++p_;
            closed_empty = true;
            break;
          }
          open_.push_back(target);
          target = member(*target);
          continue;
        case '[':
          ++p_;
          check_depth();
          *target = json::value_t::array;
          skip_ws();
          if (p_ < end_ && *p_ == ']') {
            ++p_;
            closed_empty = true;
            break;
          }
          open_.push_back(target);
          target = &target->get_ref<json::array_t&>().emplace_back();
          continue;
        case '"': {
          ++p_;
          std::string s;
          read_string(s);
          *target = std::move(s);
          break;
        }
        case 't':
          literal("true");
          *target = true;
          break;
        case 'f':
          literal("false");
          *target = false;
          break;
        case 'n':
          literal("null");
          *target = nullptr;
          break;
        default:
          read_number(*target);
      }
      (void)closed_empty;
      // After a value: close containers until one takes another element.
      for (;;) {
        skip_ws();
        if (open_.empty()) {
          if (p_ != end_) {
            fail("unexpected character after the JSON value");
          }
          done_ = true;
          return true;
        }
        json& top = *open_.back();
        if (p_ == end_) {
          fail(top.is_object() ? "unexpected end of input; expected ',' or '}'"
                               : "unexpected end of input; expected ',' or ']'");
        }
        const char c = *p_++;
        if (c == ',') {
          skip_ws();
          target = top.is_object() ? member(top) : &top.get_ref<json::array_t&>().emplace_back();
          break;
        }
        if (c == (top.is_object() ? '}' : ']')) {
          open_.pop_back();
          continue;
        }
        --p_;
        fail(top.is_object() ? "expected ',' or '}' after an object member"
                             : "expected ',' or ']' after an array element");
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& message) const {
    const auto byte = static_cast<std::size_t>(p_ - begin_) + 1;
    throw json::parse_error::create(101, byte, message, nullptr);
  }

  // p_ just past the bracket: its 1-based position is p_ - begin_. Empty containers
  // count too, as one more level for whoever walks the tree later.
  void check_depth() const {
    if (open_.size() >= max_depth_) {
      throw json_too_deep(max_depth_, static_cast<std::size_t>(p_ - begin_));
    }
  }

  void skip_ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) {
      ++p_;
    }
  }

  void literal(std::string_view word) {
    if (static_cast<std::size_t>(end_ - p_) < word.size() ||
        std::memcmp(p_, word.data(), word.size()) != 0) {
      fail("invalid literal; expected " + std::string(word));
    }
    p_ += word.size();
  }

  // A key, ':' and the member's slot (empty until its value is parsed).
  json* member(json& object) {
    if (p_ == end_ || *p_ != '"') {
      fail("expected a string as an object key");
    }
    ++p_;
    std::string key;
    read_string(key);
    skip_ws();
    if (p_ == end_ || *p_ != ':') {
      fail("expected ':' after an object key");
    }
    ++p_;
    auto& map = object.get_ref<json::object_t&>();
    const auto [it, inserted] = map.try_emplace(std::move(key));
    if (!inserted) {
      throw duplicate_json_key(it->first);
    }
    return &it->second;
  }

  // Four hex digits after "\u" (p_ on the first).
  unsigned read_hex4() {
    if (end_ - p_ < 4) {
      fail("incomplete \\u escape");
    }
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      const int d = ascii_hex_value(p_[i]);
      if (d < 0) {
        fail("\\u must be followed by four hex digits");
      }
      v = v * 16 + static_cast<unsigned>(d);
    }
    p_ += 4;
    return v;
  }

  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  // Length of the well-formed UTF-8 sequence at p_ (RFC 3629: no overlongs, no
  // surrogates, nothing past U+10FFFF), or 0.
  std::size_t utf8_length() const {
    const auto byte = [&](std::ptrdiff_t k) { return static_cast<std::uint8_t>(p_[k]); };
    const auto left = end_ - p_;
    const auto cont = [&](std::ptrdiff_t k) { return k < left && (byte(k) & 0xC0) == 0x80; };
    const std::uint8_t b0 = byte(0);
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      return cont(1) ? 2 : 0;
    }
    if (b0 >= 0xE0 && b0 <= 0xEF) {
      if (!cont(1) || !cont(2) || (b0 == 0xE0 && byte(1) < 0xA0) ||
          (b0 == 0xED && byte(1) > 0x9F)) {
        return 0;
      }
      return 3;
    }
    if (b0 >= 0xF0 && b0 <= 0xF4) {
      if (!cont(1) || !cont(2) || !cont(3) || (b0 == 0xF0 && byte(1) < 0x90) ||
          (b0 == 0xF4 && byte(1) > 0x8F)) {
        return 0;
      }
      return 4;
    }
    return 0;
  }

  // The rest of a string (p_ after the opening quote) into `out`, decoded.
  void read_string(std::string& out) {
    for (;;) {
      const char* run = p_;
      while (p_ < end_) {
        const auto c = static_cast<unsigned char>(*p_);
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) {
          break;
        }
        ++p_;
      }
      out.append(run, static_cast<std::size_t>(p_ - run));
      if (p_ == end_) {
        fail("unexpected end of input inside a string");
      }
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        return;
      }
      if (c < 0x20) {
        fail("control character in a string (it must be escaped)");
      }
      if (c >= 0x80) {
        const std::size_t n = utf8_length();
        if (n == 0) {
          fail("invalid UTF-8 byte in a string");
        }
        out.append(p_, n);
        p_ += n;
        continue;
      }
      ++p_;  // the backslash
      if (p_ == end_) {
        fail("unexpected end of input in an escape");
      }
      switch (*p_++) {
        case '"':
          out.push_back('"');
          break;
        case '\\':
          out.push_back('\\');
          break;
        case '/':
          out.push_back('/');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          unsigned cp = read_hex4();
          if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail("a UTF-16 low surrogate without a high one before it");
          }
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') {
              fail("a UTF-16 high surrogate must be followed by a \\u low surrogate");
            }
            p_ += 2;
            const unsigned low = read_hex4();
            if (low < 0xDC00 || low > 0xDFFF) {
              fail("a UTF-16 high surrogate must be followed by a \\u low surrogate");
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default:
          --p_;
          fail("invalid escape in a string");
      }
    }
  }

  void read_number(json& target) {
    const char* start = p_;
    bool negative = false;
    if (p_ < end_ && *p_ == '-') {
      negative = true;
      ++p_;
    }
    const auto digits = [&] {
      const char* d = p_;
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') {
        ++p_;
      }
      return p_ - d;
    };
    const char* int_start = p_;
    const auto int_digits = digits();
    if (int_digits == 0) {
      p_ = start;
      fail("unexpected character; expected a value");
    }
    if (*int_start == '0' && int_digits > 1) {
      p_ = int_start + 1;
      fail("a number may not have a leading zero");
    }
    bool integer = true;
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      integer = false;
      if (digits() == 0) {
        fail("expected a digit after the decimal point");
      }
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      integer = false;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) {
        ++p_;
      }
      if (digits() == 0) {
        fail("expected a digit in the exponent");
      }
    }
    if (integer) {
      // As nlohmann does: unsigned when not negative, signed when negative, and a
      // float when it does not fit 64 bits.
      if (!negative) {
        std::uint64_t u = 0;
        if (std::from_chars(start, p_, u).ec == std::errc()) {
          target = u;
          return;
        }
      } else {
        std::int64_t i = 0;
        if (std::from_chars(start, p_, i).ec == std::errc()) {
          target = i;
          return;
        }
      }
    }
    // strtod (C locale: evald never sets one) for the rounding nlohmann has.
    const std::string text(start, p_);
    const double v = std::strtod(text.c_str(), nullptr);
    if (!std::isfinite(v)) {
      throw json::out_of_range::create(406, "number overflow parsing '" + text + "'", nullptr);
    }
    target = v;
  }

  const char* begin_;
  const char* p_;
  const char* end_;
  std::size_t max_depth_;
  std::vector<json*> open_;  // containers not closed yet; only the innermost grows
  json root_;
  json* target_ = &root_;
  bool done_ = false;
};

}  // namespace

json parse_json_rejecting_duplicate_keys(std::string_view text, std::size_t max_depth) {
  parser p(text, max_depth);
  p.advance(text.size());
  return p.take();
}

class json_incremental_parser::state : public parser {
 public:
  using parser::parser;
};

json_incremental_parser::json_incremental_parser(std::string_view text, std::size_t max_depth)
    : state_(std::make_unique<state>(text, max_depth)) {}

json_incremental_parser::~json_incremental_parser() = default;

bool json_incremental_parser::advance(std::size_t bytes) {
  return state_->advance(bytes);
}

json json_incremental_parser::take() {
  return state_->take();
}

bool shed_json(json& j, std::size_t count) {
  for (; count > 0; --count) {
    json* c = &j;
    for (;;) {
      if (c->is_array() && !c->empty()) {
        json& last = c->back();
        if ((last.is_array() || last.is_object()) && !last.empty()) {
          c = &last;
          continue;
        }
        c->get_ref<json::array_t&>().pop_back();
        break;
      }
      if (c->is_object() && !c->empty()) {
        auto& members = c->get_ref<json::object_t&>();
        const auto last = std::prev(members.end());
        if ((last->second.is_array() || last->second.is_object()) && !last->second.empty()) {
          c = &last->second;
          continue;
        }
        members.erase(last);
        break;
      }
      j = nullptr;  // only the root can be a scalar or empty here
      return true;
    }
  }
  return j.is_null();
}

}  // namespace evald
