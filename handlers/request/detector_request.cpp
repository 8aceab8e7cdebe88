#include "handlers/request/detector_request.hpp"
#include "handlers/json/error_json.hpp"

#include <algorithm>

#include "handlers/request/eval_request.hpp"

namespace evald {
namespace {

using json = nlohmann::json;

// Where a field is ("payload.conditions[2].type"), spelt out only for an error: a
// valid record builds no path strings.
struct field {
  const field* parent = nullptr;
  std::string_view name;         // the root's name, or ".name" below a parent
  std::size_t index = SIZE_MAX;  // "[index]" instead of a name

  std::string str() const {
    std::string out = parent != nullptr ? parent->str() : std::string();
    if (index != SIZE_MAX) {
      return out + "[" + std::to_string(index) + "]";
    }
    return parent != nullptr ? out + "." + std::string(name) : std::string(name);
  }
  field operator/(std::string_view child) const { return field{this, child}; }
  field operator[](std::size_t i) const { return field{this, {}, i}; }
};

[[noreturn]] void bad(const field& where, const std::string& message) {
  throw bad_request(where.str() + ": " + message);
}

std::string describe(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "an integer";
    case json::value_t::number_float:
      return "a number with a fraction or exponent";
    case json::value_t::string:
      return "a string";
    case json::value_t::array:
      return "an array";
    case json::value_t::object:
      return "an object";
    default:
      return "an unusable value";
  }
}

std::int64_t read_int64(const json& v, const field& where) {
  if (v.is_number_integer() && !v.is_number_unsigned()) {
    return v.get<std::int64_t>();
  }
  if (v.is_number_unsigned() && v.get<std::uint64_t>() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v.get<std::uint64_t>());
  }
  bad(where, "must be an integer from -2^63 to 2^63-1, got " + describe(v));
}

std::vector<std::int64_t> read_int_array(const json& v, const field& where) {
  if (!v.is_array()) {
    bad(where, "must be an array of integers, got " + describe(v));
  }
  std::vector<std::int64_t> out;
  out.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    out.push_back(read_int64(v[i], where[i]));
  }
  return out;
}

std::string read_code(const json& v, const field& where, std::uint64_t max_source) {
  if (!v.is_string()) {
    bad(where, "must be a string of Lua code, got " + describe(v));
  }
  const auto& text = v.get_ref<const std::string&>();
  if (text.size() > max_source) {
    throw http_error(http::status::payload_too_large, "source_too_large",
                     where.str() + " is " + std::to_string(text.size()) +
                         " bytes; scripts.max_source is " + std::to_string(max_source));
  }
  return text;
}

detector_condition parse_condition(const json& c, const field& where, std::uint64_t max_source) {
  if (!c.is_object()) {
    bad(where, "a condition must be an object, got " + describe(c));
  }
  detector_condition out;
  const auto numeration = c.find("numeration");
  if (numeration == c.end()) {
    bad(where, "numeration is missing (every condition needs one)");
  }
  out.numeration = read_int64(*numeration, where / "numeration");
  const auto type = c.find("type");
  if (type == c.end() || !type->is_string()) {
    bad(where / "type", type == c.end() ? "is missing (Standard, Timed or Order)"
                                        : "must be a string: Standard, Timed or Order");
  }
  const auto& name = type->get_ref<const std::string&>();
  const std::string condition = " (condition " + std::to_string(out.numeration) + ")";
  if (name == "Standard" || name == "Timed") {
    out.type = name == "Standard" ? condition_type::standard : condition_type::timed;
    const auto text = c.find("text");
    if (text == c.end()) {
      bad(where / "text", "is missing: a " + name + " condition needs Lua code" + condition);
    }
    out.text = read_code(*text, where / "text", max_source);
    if (out.type == condition_type::timed) {
      const auto range = c.find("timeRange");
      if (range == c.end()) {
        bad(where / "timeRange", "is missing: a Timed condition needs it (ms)" + condition);
      }
      out.time_range = read_int64(*range, where / "timeRange");
    }
  } else if (name == "Order") {
    out.type = condition_type::order;
    const auto order = c.find("order");
    if (order == c.end()) {
      bad(where / "order",
          "is missing: an Order condition needs an array of numerations" + condition);
    }
    out.order = read_int_array(*order, where / "order");
  } else {
    bad(where / "type",
        "unknown condition type \"" + name + "\" (known: Standard, Timed, Order)" + condition);
  }
  return out;
}

// Keys of a payload: the contract's, nothing else (a misspelt "trueCondition" would
// otherwise silently mean "none").
void check_keys(const json& p, const field& where, bool launch) {
  for (const auto& [key, _] : p.items()) {
    const bool known = launch ? key == "log" || key == "launchCondition"
                              : key == "log" || key == "conditions" || key == "context" ||
                                    key == "trueConditions" || key == "stateTime" ||
                                    key == "logProcessingTime";
    if (!known) {
      const std::string extra =
          !launch && key == "launchCondition"
              ? "; a launchCondition goes to POST /eval-launch"
              : (launch && key == "conditions" ? "; conditions go to POST /eval" : "");
      const char* allowed = launch ? "log, launchCondition"
                                   : "log, conditions, context, trueConditions, stateTime, "
                                     "logProcessingTime";
      bad(where, "unknown field \"" + key + "\" (allowed: " + allowed + ")" + extra);
    }
  }
}

std::shared_ptr<const detector_record> parse_payload(json& p, const field& where, bool launch,
                                                     const config::settings& settings) {
  if (!p.is_object()) {
    bad(where, "must be an object, got " + describe(p));
  }
  check_keys(p, where, launch);
  auto r = std::make_shared<detector_record>();
  r->launch = launch;
  const auto log = p.find("log");
  if (log == p.end() || !log->is_object()) {
    bad(where / "log", log == p.end() ? "is missing (the log record, an object)"
                                      : "must be an object, got " + describe(*log));
  }
  const auto text = log->find("Text");
  if (text == log->end() || !text->is_string()) {
    bad(where / "log" / "Text", text == log->end() ? "is missing (the record's text, a string)"
                                                   : "must be a string, got " + describe(*text));
  }
  // The original replaced newlines in the text it spliced into code; here the text is
  // data, and the cleaning is kept so conditions see what they always saw.
  auto& t = text->get_ref<std::string&>();
  std::replace(t.begin(), t.end(), '\n', ' ');
  r->text = t;
  r->log = std::move(*log);

  if (launch) {
    const auto code = p.find("launchCondition");
    if (code == p.end()) {
      bad(where / "launchCondition", "is missing (Lua code that may call launch(context))");
    }
    r->launch_condition = read_code(*code, where / "launchCondition", settings.scripts.max_source);
    return r;
  }

  const auto conditions = p.find("conditions");
  if (conditions == p.end() || !conditions->is_array()) {
    bad(where / "conditions", conditions == p.end()
                                  ? "is missing (an array of conditions)"
                                  : "must be an array, got " + describe(*conditions));
  }
  r->conditions.reserve(conditions->size());
  bool timed = false;
  for (std::size_t i = 0; i < conditions->size(); ++i) {
    r->conditions.push_back(
        parse_condition((*conditions)[i], (where / "conditions")[i], settings.scripts.max_source));
    timed = timed || r->conditions.back().type == condition_type::timed;
  }
  if (const auto context = p.find("context"); context != p.end() && !context->is_null()) {
    if (!context->is_object()) {
      bad(where / "context",
          "must be an object (the state machine's data), got " + describe(*context));
    }
    r->context = std::move(*context);
  }
  if (const auto found = p.find("trueConditions"); found != p.end() && !found->is_null()) {
    r->true_conditions = read_int_array(*found, where / "trueConditions");
  }
  for (const char* key : {"stateTime", "logProcessingTime"}) {
    const auto v = p.find(key);
    if (v == p.end() || v->is_null()) {
      if (timed) {
        const auto first =
            std::find_if(r->conditions.begin(), r->conditions.end(),
                         [](const auto& c) { return c.type == condition_type::timed; });
        bad(where / key, "is missing: condition " + std::to_string(first->numeration) +
                             " is Timed and needs stateTime and logProcessingTime (ms)");
      }
      continue;
    }
    const std::int64_t ms = read_int64(*v, where / key);
    (std::string_view(key) == "stateTime" ? r->state_time : r->processing_time) = ms;
  }
  return r;
}

std::string condition_name(const rule_failure& f) {
  return f.numeration ? "condition " + std::to_string(*f.numeration) : "the launchCondition";
}

}  // namespace

bool is_detector_body(const json& body) {
  return body.is_object() && (body.contains("payload") || body.contains("payloads"));
}

eval_item detector_batch_item(json& payload, std::size_t i, bool launch_route,
                              const config::settings& settings) {
  eval_item item;
  try {
    const field payloads_field{nullptr, "payloads"};
    item.record = parse_payload(payload, payloads_field[i], launch_route, settings);
    item.what = eval_item::kind::record;
  } catch (const http_error& e) {
    item.failure = e;  // one record's problem stays in its slot
  }
  return item;
}

eval_request parse_detector_body(json& body, bool launch_route, const config::settings& settings,
                                 json** deferred_payloads) {
  if (deferred_payloads != nullptr) {
    *deferred_payloads = nullptr;
  }
  eval_request out;
  out.detector = true;
  const bool batch = body.contains("payloads");
  for (const auto& [key, _] : body.items()) {
    if (key != "timeout_ms" && key != (batch ? "payloads" : "payload") &&
        (key != "chunk" || !batch)) {
      bad(field{nullptr, "body"},
          "unknown field \"" + key + "\" beside " + (batch ? "payloads" : "payload") +
              " (allowed: " + (batch ? "payloads, timeout_ms, chunk)" : "payload, timeout_ms)"));
    }
  }
  if (const auto t = body.find("timeout_ms"); t != body.end()) {
    if (!t->is_number_unsigned() || t->get<std::uint64_t>() == 0) {
      throw bad_request("timeout_ms must be a positive integer");
    }
    out.timeout_ms = t->get<std::uint64_t>();
  }
  if (!batch) {
    eval_item item;
    item.what = eval_item::kind::record;
    item.record = parse_payload(body["payload"], field{nullptr, "payload"}, launch_route, settings);
    out.items.push_back(std::move(item));
    return out;
  }
  auto& payloads = body["payloads"];
  if (!payloads.is_array()) {
    bad(field{nullptr, "payloads"}, "must be an array of payloads, got " + describe(payloads));
  }
  read_batch_shape(body, payloads.size(), {"payloads", "records", "records"}, settings, out);
  out.batch = true;
  out.items.reserve(payloads.size());
  if (deferred_payloads != nullptr) {
    *deferred_payloads = &payloads;
    return out;
  }
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    out.items.push_back(detector_batch_item(payloads[i], i, launch_route, settings));
  }
  return out;
}

http_error rule_http_error(const rule_failure& f) {
  using kind = sandbox::script_failure::kind;
  http::status status = http::status::unprocessable_entity;
  std::string code = "condition_error";
  std::string what = condition_name(f);
  if (f.timeout) {
    code = "condition_timeout";
  } else {
    switch (f.failure.what) {
      case kind::syntax:
        status = http::status::bad_request;
        code = "condition_syntax";
        break;
      case kind::memory:
        code = "condition_memory";
        break;
      case kind::result:
      case kind::result_too_large:
        code = "condition_result";
        break;
      case kind::runtime:
      case kind::burst:
      case kind::stopped:
        break;
    }
  }
  if (f.failure.line) {
    what += " line " + std::to_string(*f.failure.line);
  }
  http_error e(status, code, what + ": " + f.failure.message);
  if (f.numeration) {
    e.add_detail("numeration", *f.numeration);
  }
  if (f.failure.line) {
    e.add_detail("line", *f.failure.line);
  }
  return e;
}

std::string rule_error_json(const rule_failure& f) {
  return error_json(rule_http_error(f));
}

}  // namespace evald
