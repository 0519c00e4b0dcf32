#include "yurt/kube/selectors.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <span>
#include <vector>

#include "src/kube/json_util.hpp"
#include "src/kube/text.hpp"

namespace yurt::kube {
namespace {

// ---------------------------------------------------------------------------------------------
// Validation (apimachinery util/validation).

constexpr std::size_t kMaxNameLength = 63;  // label key name part and label value
constexpr std::size_t kMaxSubdomain = 253;  // DNS-1123 subdomain

constexpr std::string_view kQualifiedNameMsg =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName', or 'my.name', or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
constexpr std::string_view kLabelValueMsg =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue', or 'my_value', "
    "or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

bool is_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] — non-empty.
bool is_qualified_name_part(std::string_view s) noexcept {
  if (s.empty() || !is_alnum(s.front()) || !is_alnum(s.back())) {
    return false;
  }
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; });
}

bool is_dns1123_label_part(std::string_view s) noexcept {
  auto lower_alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (s.empty() || !lower_alnum(s.front()) || !lower_alnum(s.back())) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [&](char c) { return lower_alnum(c) || c == '-'; });
}

Error invalid_value(std::string_view what, std::string_view value, std::string_view why) {
  return fail(Errc::Invalid,
              std::string(what) + " " + text::quote(value) + ": " + std::string(why));
}

// ---------------------------------------------------------------------------------------------
// Label selector lexer and parser, following apimachinery labels/selector.go's grammar.

enum class Tok {
  Error,
  End,
  ClosedPar,
  Comma,
  DoesNotExist,
  DoubleEquals,
  Equals,
  GreaterThan,
  Identifier,
  In,
  LessThan,
  NotEquals,
  NotIn,
  OpenPar,
};

struct Token {
  Tok tok;
  std::string literal;
};

bool is_whitespace(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool is_special(char c) noexcept {
  switch (c) {
    case '=':
    case '!':
    case '(':
    case ')':
    case ',':
    case '>':
    case '<':
      return true;
    default:
      return false;
  }
}

std::vector<Token> lex(std::string_view s) {
  std::vector<Token> out;
  std::size_t i = 0;
  while (true) {
    while (i < s.size() && is_whitespace(s[i])) {
      ++i;
    }
    if (i >= s.size()) {
      out.push_back({Tok::End, ""});
      return out;
    }
    if (is_special(s[i])) {
      // Longest match: the two-character operators, else the single symbol.
      const auto two = s.substr(i, 2);
      if (two == "!=" || two == "==") {
        out.push_back({two == "!=" ? Tok::NotEquals : Tok::DoubleEquals, std::string(two)});
        i += 2;
        continue;
      }
      Tok t = Tok::Error;
      switch (s[i]) {
        case '=':
          t = Tok::Equals;
          break;
        case '!':
          t = Tok::DoesNotExist;
          break;
        case '(':
          t = Tok::OpenPar;
          break;
        case ')':
          t = Tok::ClosedPar;
          break;
        case ',':
          t = Tok::Comma;
          break;
        case '>':
          t = Tok::GreaterThan;
          break;
        case '<':
          t = Tok::LessThan;
          break;
        default:
          break;
      }
      out.push_back({t, std::string(1, s[i])});
      ++i;
      continue;
    }
    const std::size_t start = i;
    while (i < s.size() && !is_special(s[i]) && !is_whitespace(s[i])) {
      ++i;
    }
    std::string word(s.substr(start, i - start));
    Tok t = Tok::Identifier;
    if (word == "in") {
      t = Tok::In;
    } else if (word == "notin") {
      t = Tok::NotIn;
    }
    out.push_back({t, std::move(word)});
  }
}

std::string_view describe(const Token& t) {
  return t.tok == Tok::End ? std::string_view("end of string") : std::string_view(t.literal);
}

Error parse_error(std::string message) {
  return fail(Errc::BadRequest, std::move(message));
}

enum class Context { KeyAndOperator, Values };

Result<void> validate_requirement(LabelRequirement& r);

class LabelParser {
 public:
  explicit LabelParser(std::string_view s) : tokens_(lex(s)) {}

  Result<std::vector<LabelRequirement>> parse() {
    std::vector<LabelRequirement> reqs;
    while (true) {
      const Token t = lookahead(Context::Values);
      switch (t.tok) {
        case Tok::Identifier:
        case Tok::DoesNotExist: {
          auto r = parse_requirement();
          if (!r) {
            return parse_error("unable to parse requirement: " + r.error().message());
          }
          reqs.push_back(std::move(*r));
          const Token next = consume(Context::Values);
          if (next.tok == Tok::End) {
            return reqs;
          }
          if (next.tok == Tok::Comma) {
            const Token after = lookahead(Context::Values);
            if (after.tok != Tok::Identifier && after.tok != Tok::DoesNotExist) {
              return parse_error("found '" + text::excerpt(describe(after), 64) +
                                 "', expected: identifier after ','");
            }
            continue;
          }
          return parse_error("found '" + text::excerpt(describe(next), 64) +
                             "', expected: ',' or 'end of string'");
        }
        case Tok::End:
          return reqs;
        default:
          return parse_error("found '" + text::excerpt(describe(t), 64) +
                             "', expected: !, identifier, or 'end of string'");
      }
    }
  }

 private:
  // In a values context the keywords in/notin are plain identifiers ("a in (in)").
  static Token adjust(Token t, Context ctx) {
    if (ctx == Context::Values && (t.tok == Tok::In || t.tok == Tok::NotIn)) {
      t.tok = Tok::Identifier;
    }
    return t;
  }
  [[nodiscard]] Token lookahead(Context ctx) const { return adjust(tokens_[pos_], ctx); }
  Token consume(Context ctx) {
    // The token list always ends with End; never step past it.
    Token t = adjust(tokens_[pos_], ctx);
    if (pos_ + 1 < tokens_.size()) {
      ++pos_;
    }
    return t;
  }

  Result<LabelRequirement> parse_requirement() {
    LabelRequirement r;
    Token t = consume(Context::Values);
    bool not_exists = false;
    if (t.tok == Tok::DoesNotExist) {
      not_exists = true;
      t = consume(Context::Values);
    }
    if (t.tok != Tok::Identifier) {
      return parse_error("found '" + text::excerpt(describe(t), 64) + "', expected: identifier");
    }
    if (auto v = validate_qualified_name(t.literal); !v) {
      return v.error();
    }
    r.key = std::move(t.literal);
    // "!a" is complete; whatever follows is the caller's problem ("!a=b" fails there).
    if (not_exists) {
      r.op = SelectorOp::DoesNotExist;
      return finish(std::move(r));
    }
    const Tok next = lookahead(Context::Values).tok;
    if (next == Tok::End || next == Tok::Comma) {
      r.op = SelectorOp::Exists;
      return finish(std::move(r));
    }
    const Token op = consume(Context::KeyAndOperator);
    switch (op.tok) {
      case Tok::In:
        r.op = SelectorOp::In;
        break;
      case Tok::NotIn:
        r.op = SelectorOp::NotIn;
        break;
      case Tok::Equals:
        r.op = SelectorOp::Equals;
        break;
      case Tok::DoubleEquals:
        r.op = SelectorOp::DoubleEquals;
        break;
      case Tok::NotEquals:
        r.op = SelectorOp::NotEquals;
        break;
      case Tok::GreaterThan:
        r.op = SelectorOp::GreaterThan;
        break;
      case Tok::LessThan:
        r.op = SelectorOp::LessThan;
        break;
      default:
        return parse_error("found '" + text::excerpt(describe(op), 64) +
                           "', expected: in, notin, =, ==, !=, gt, lt");
    }
    Result<std::vector<std::string>> values =
        (r.op == SelectorOp::In || r.op == SelectorOp::NotIn) ? parse_values() : parse_exact();
    if (!values) {
      return values.error();
    }
    r.values = std::move(*values);
    return finish(std::move(r));
  }

  // Upstream validates each requirement as it is parsed, so a bad value is reported before
  // whatever follows it.
  static Result<LabelRequirement> finish(LabelRequirement r) {
    if (auto ok = validate_requirement(r); !ok) {
      return ok.error();
    }
    return r;
  }

  Result<std::vector<std::string>> parse_values() {
    const Token open = consume(Context::Values);
    if (open.tok != Tok::OpenPar) {
      return parse_error("found '" + text::excerpt(describe(open), 64) + "' expected: '('");
    }
    const Token first = lookahead(Context::Values);
    if (first.tok == Tok::ClosedPar) {  // "()" is the set {""}
      consume(Context::Values);
      return std::vector<std::string>{""};
    }
    if (first.tok != Tok::Identifier && first.tok != Tok::Comma) {
      return parse_error("found '" + text::excerpt(describe(first), 64) +
                         "', expected: ',', ')' or identifier");
    }
    // A comma-separated list of possibly empty identifiers: "(a,,b)", "(,a)", "(a,)".
    std::vector<std::string> values;
    bool expect_value = true;
    while (true) {
      const Token t = consume(Context::Values);
      if (t.tok == Tok::Identifier && expect_value) {
        values.push_back(t.literal);
        expect_value = false;
      } else if (t.tok == Tok::Comma) {
        if (expect_value) {
          values.emplace_back();
        }
        expect_value = true;
      } else if (t.tok == Tok::ClosedPar) {
        if (expect_value) {
          values.emplace_back();
        }
        return values;
      } else {
        return parse_error(
            "found '" + text::excerpt(describe(t), 64) +
            (expect_value ? "', expected: ',', or identifier" : "', expected: ',' or ')'"));
      }
    }
  }

  Result<std::vector<std::string>> parse_exact() {
    const Tok next = lookahead(Context::Values).tok;
    if (next == Tok::End || next == Tok::Comma) {
      return std::vector<std::string>{""};
    }
    const Token t = consume(Context::Values);
    if (t.tok == Tok::Identifier) {
      return std::vector<std::string>{t.literal};
    }
    return parse_error("found '" + text::excerpt(describe(t), 64) + "', expected: identifier");
  }

  std::vector<Token> tokens_;
  std::size_t pos_ = 0;
};

// Upstream NewRequirement's checks, run on parsed and structured requirements alike.
Result<void> validate_requirement(LabelRequirement& r) {
  if (auto v = validate_qualified_name(r.key); !v) {
    return v.error();
  }
  switch (r.op) {
    case SelectorOp::In:
    case SelectorOp::NotIn:
      if (r.values.empty()) {
        return fail(Errc::Invalid, "key " + text::quote(r.key) +
                                       ": for 'in', 'notin' operators, values set can't be empty");
      }
      break;
    case SelectorOp::Equals:
    case SelectorOp::DoubleEquals:
    case SelectorOp::NotEquals:
      if (r.values.size() != 1) {
        return fail(Errc::Invalid, "key " + text::quote(r.key) +
                                       ": exact-match compatibility requires one single value");
      }
      break;
    case SelectorOp::Exists:
    case SelectorOp::DoesNotExist:
      if (!r.values.empty()) {
        return fail(Errc::Invalid, "key " + text::quote(r.key) +
                                       ": values set must be empty for exists and does not exist");
      }
      break;
    case SelectorOp::GreaterThan:
    case SelectorOp::LessThan:
      if (r.values.size() != 1) {
        return fail(Errc::Invalid, "key " + text::quote(r.key) +
                                       ": for 'Gt', 'Lt' operators, exactly one value is required");
      }
      if (!text::parse_int64(r.values.front())) {
        return fail(Errc::Invalid, "key " + text::quote(r.key) + ": value " +
                                       text::quote(r.values.front()) +
                                       ": for 'Gt', 'Lt' operators, the value must be an integer");
      }
      break;
  }
  for (const auto& v : r.values) {
    if (auto ok = validate_label_value(v); !ok) {
      return fail(Errc::Invalid, "key " + text::quote(r.key) + ": " + ok.error().message());
    }
  }
  std::sort(r.values.begin(), r.values.end());
  r.values.erase(std::unique(r.values.begin(), r.values.end()), r.values.end());
  return {};
}

void sort_by_key(std::vector<LabelRequirement>& reqs) {
  std::stable_sort(reqs.begin(), reqs.end(),
                   [](const auto& a, const auto& b) { return a.key < b.key; });
}

const std::string* label_of(const nlohmann::json& labels, const std::string& key) {
  if (!labels.is_object()) {
    return nullptr;
  }
  auto it = labels.find(key);
  if (it == labels.end() || !it->is_string()) {
    return nullptr;
  }
  return it->get_ptr<const std::string*>();
}

// ---------------------------------------------------------------------------------------------
// Field selectors: upstream's selectable fields per built-in resource.

enum class Zero { Empty, False, ZeroInt };

struct FieldSpec {
  std::string_view label;
  std::string_view path;  // dotted JSON path; empty = never set (always the zero value)
  Zero zero = Zero::Empty;
  std::string_view fallback = {};  // used when `path` gives "" (Event source → reporting component)
};

struct ResourceSpec {
  std::string_view group;
  std::string_view resource;
  std::string_view kind;
  std::span<const FieldSpec> fields;
};

constexpr FieldSpec kMetaName{"metadata.name", "metadata.name"};
constexpr FieldSpec kMetaNamespace{"metadata.namespace", "metadata.namespace"};

constexpr std::array kPodFields{
    kMetaName,
    kMetaNamespace,
    FieldSpec{"spec.nodeName", "spec.nodeName"},
    FieldSpec{"spec.host", "spec.nodeName"},  // old v1 clients; the apiserver converts it
    FieldSpec{"spec.restartPolicy", "spec.restartPolicy"},
    FieldSpec{"spec.schedulerName", "spec.schedulerName"},
    FieldSpec{"spec.serviceAccountName", "spec.serviceAccountName"},
    FieldSpec{"spec.hostNetwork", "spec.hostNetwork", Zero::False},
    FieldSpec{"status.phase", "status.phase"},
    // The apiserver takes the first of status.podIPs; status.podIP mirrors it in v1.
    FieldSpec{"status.podIP", "status.podIPs.0.ip", Zero::Empty, "status.podIP"},
    // Accepted by the field label conversion but absent from the selectable set: always "".
    FieldSpec{"status.podIPs", ""},
    FieldSpec{"status.nominatedNodeName", "status.nominatedNodeName"},
};
constexpr std::array kNodeFields{
    kMetaName,
    FieldSpec{"spec.unschedulable", "spec.unschedulable", Zero::False},
};
constexpr std::array kReplicasFields{
    kMetaName,
    kMetaNamespace,
    FieldSpec{"status.replicas", "status.replicas", Zero::ZeroInt},
};
constexpr std::array kCoreEventFields{
    kMetaName,
    kMetaNamespace,
    FieldSpec{"involvedObject.kind", "involvedObject.kind"},
    FieldSpec{"involvedObject.namespace", "involvedObject.namespace"},
    FieldSpec{"involvedObject.name", "involvedObject.name"},
    FieldSpec{"involvedObject.uid", "involvedObject.uid"},
    FieldSpec{"involvedObject.apiVersion", "involvedObject.apiVersion"},
    FieldSpec{"involvedObject.resourceVersion", "involvedObject.resourceVersion"},
    FieldSpec{"involvedObject.fieldPath", "involvedObject.fieldPath"},
    FieldSpec{"reason", "reason"},
    FieldSpec{"reportingComponent", "reportingComponent"},
    FieldSpec{"source", "source.component", Zero::Empty, "reportingComponent"},
    FieldSpec{"type", "type"},
};
// events.k8s.io/v1 serves the same objects under other JSON names; the field labels stay the
// core/v1 ones.
constexpr std::array kEventsV1Fields{
    kMetaName,
    kMetaNamespace,
    FieldSpec{"involvedObject.kind", "regarding.kind"},
    FieldSpec{"involvedObject.namespace", "regarding.namespace"},
    FieldSpec{"involvedObject.name", "regarding.name"},
    FieldSpec{"involvedObject.uid", "regarding.uid"},
    FieldSpec{"involvedObject.apiVersion", "regarding.apiVersion"},
    FieldSpec{"involvedObject.resourceVersion", "regarding.resourceVersion"},
    FieldSpec{"involvedObject.fieldPath", "regarding.fieldPath"},
    FieldSpec{"reason", "reason"},
    FieldSpec{"reportingComponent", "reportingController"},
    FieldSpec{"source", "deprecatedSource.component", Zero::Empty, "reportingController"},
    FieldSpec{"type", "type"},
};
constexpr std::array kNamespaceFields{
    kMetaName,
    FieldSpec{"status.phase", "status.phase"},
};
constexpr std::array kSecretFields{kMetaName, kMetaNamespace, FieldSpec{"type", "type"}};
constexpr std::array kServiceFields{
    kMetaName,
    kMetaNamespace,
    FieldSpec{"spec.clusterIP", "spec.clusterIP"},
    FieldSpec{"spec.type", "spec.type"},
};
constexpr std::array kJobFields{
    kMetaName,
    kMetaNamespace,
    // The label says "successful"; the field is status.succeeded.
    FieldSpec{"status.successful", "status.succeeded", Zero::ZeroInt},
};
constexpr std::array kCsrFields{kMetaName, FieldSpec{"spec.signerName", "spec.signerName"}};
constexpr std::array kDefaultFields{kMetaName, kMetaNamespace};

constexpr std::array kResources{
    ResourceSpec{"", "pods", "Pod", kPodFields},
    ResourceSpec{"", "nodes", "Node", kNodeFields},
    ResourceSpec{"", "replicationcontrollers", "ReplicationController", kReplicasFields},
    ResourceSpec{"", "events", "Event", kCoreEventFields},
    ResourceSpec{"events.k8s.io", "events", "Event", kEventsV1Fields},
    ResourceSpec{"", "namespaces", "Namespace", kNamespaceFields},
    ResourceSpec{"", "secrets", "Secret", kSecretFields},
    ResourceSpec{"", "services", "Service", kServiceFields},
    ResourceSpec{"apps", "replicasets", "ReplicaSet", kReplicasFields},
    ResourceSpec{"batch", "jobs", "Job", kJobFields},
    ResourceSpec{"certificates.k8s.io", "certificatesigningrequests", "CertificateSigningRequest",
                 kCsrFields},
};

// Groups served by kube-apiserver itself, whose resources support only metadata.name and
// metadata.namespace unless listed above. resource.k8s.io is left out on purpose: its selectable
// fields change between releases, so we evaluate any field there rather than refuse one.
constexpr std::array<std::string_view, 22> kBuiltinGroups{
    "",
    "apps",
    "batch",
    "autoscaling",
    "policy",
    "extensions",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "certificates.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "events.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "internal.apiserver.k8s.io",
    "networking.k8s.io",
    "node.k8s.io",
    "rbac.authorization.k8s.io",
    "scheduling.k8s.io",
    "storage.k8s.io",
};

const ResourceSpec* find_resource(ResourceRef r) {
  for (const auto& spec : kResources) {
    if (spec.group == r.group && spec.resource == r.resource) {
      return &spec;
    }
  }
  return nullptr;
}

const ResourceSpec* find_kind(const nlohmann::json& object) {
  if (!object.is_object()) {
    return nullptr;
  }
  auto kind = object.find("kind");
  if (kind == object.end() || !kind->is_string()) {
    return nullptr;
  }
  std::string_view group;
  if (auto av = object.find("apiVersion"); av != object.end() && av->is_string()) {
    const auto& s = av->get_ref<const std::string&>();
    if (auto slash = s.find('/'); slash != std::string::npos) {
      group = std::string_view(s).substr(0, slash);
    }
  }
  for (const auto& spec : kResources) {
    if (spec.kind == kind->get_ref<const std::string&>() && spec.group == group) {
      return &spec;
    }
  }
  return nullptr;
}

const FieldSpec* find_field(const ResourceSpec& spec, std::string_view label) {
  for (const auto& f : spec.fields) {
    if (f.label == label) {
      return &f;
    }
  }
  return nullptr;
}

// Walks a dotted path; numeric segments index arrays. nullptr when any step is missing.
const nlohmann::json* walk(const nlohmann::json& object, std::string_view path) {
  const nlohmann::json* node = &object;
  while (!path.empty()) {
    const auto dot = path.find('.');
    const auto segment = path.substr(0, dot);
    path = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
    if (node->is_object()) {
      auto it = node->find(segment);
      if (it == node->end()) {
        return nullptr;
      }
      node = &*it;
    } else if (node->is_array()) {
      std::size_t index = 0;
      auto [ptr, ec] = std::from_chars(segment.data(), segment.data() + segment.size(), index);
      if (ec != std::errc{} || ptr != segment.data() + segment.size() || index >= node->size()) {
        return nullptr;
      }
      node = &(*node)[index];
    } else {
      return nullptr;
    }
  }
  return node;
}

// Scalars as Go's fmt prints them; anything else is "not set".
std::optional<std::string> scalar(const nlohmann::json* j) {
  if (j == nullptr) {
    return std::nullopt;
  }
  if (j->is_string()) {
    return j->get<std::string>();
  }
  if (j->is_boolean()) {
    return j->get<bool>() ? "true" : "false";
  }
  if (j->is_number_integer()) {
    return j->dump();
  }
  if (j->is_number_float()) {
    return j->dump();
  }
  return std::nullopt;
}

std::string zero_value(Zero z) {
  switch (z) {
    case Zero::False:
      return "false";
    case Zero::ZeroInt:
      return "0";
    case Zero::Empty:
      break;
  }
  return {};
}

std::string spec_value(const nlohmann::json& object, const FieldSpec& f) {
  if (f.path.empty()) {
    return zero_value(f.zero);
  }
  auto v = scalar(walk(object, f.path));
  if ((!v || v->empty()) && !f.fallback.empty()) {
    v = scalar(walk(object, f.fallback));
  }
  return v ? *v : zero_value(f.zero);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

bool is_dns1123_subdomain(std::string_view s) noexcept {
  if (s.empty() || s.size() > kMaxSubdomain) {
    return false;
  }
  while (true) {
    const auto dot = s.find('.');
    if (!is_dns1123_label_part(s.substr(0, dot))) {
      return false;
    }
    if (dot == std::string_view::npos) {
      return true;
    }
    s.remove_prefix(dot + 1);
  }
}

Result<void> validate_qualified_name(std::string_view key) {
  std::string_view name = key;
  if (const auto slash = key.find('/'); slash != std::string_view::npos) {
    if (key.find('/', slash + 1) != std::string_view::npos) {
      return invalid_value("label key", key,
                           "a qualified name " + std::string(kQualifiedNameMsg) +
                               " with an optional DNS subdomain prefix and '/' (e.g. "
                               "'example.com/MyName')");
    }
    const auto prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (prefix.empty()) {
      return invalid_value("label key", key, "prefix part must be non-empty");
    }
    if (!is_dns1123_subdomain(prefix)) {
      return invalid_value(
          "label key", key,
          "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
          "characters, '-' or '.', and must start and end with an alphanumeric character, at "
          "most 253 characters");
    }
  }
  if (name.empty()) {
    return invalid_value("label key", key, "name part must be non-empty");
  }
  if (name.size() > kMaxNameLength) {
    return invalid_value("label key", key, "name part must be no more than 63 characters");
  }
  if (!is_qualified_name_part(name)) {
    return invalid_value("label key", key, "name part " + std::string(kQualifiedNameMsg));
  }
  return {};
}

Result<void> validate_label_value(std::string_view value) {
  if (value.size() > kMaxNameLength) {
    return invalid_value("label value", value, "must be no more than 63 characters");
  }
  if (!value.empty() && !is_qualified_name_part(value)) {
    return invalid_value("label value", value, kLabelValueMsg);
  }
  return {};
}

bool LabelRequirement::matches(const nlohmann::json& labels) const {
  const std::string* v = label_of(labels, key);
  auto has_value = [&] { return std::binary_search(values.begin(), values.end(), *v); };
  switch (op) {
    case SelectorOp::In:
    case SelectorOp::Equals:
    case SelectorOp::DoubleEquals:
      return v != nullptr && has_value();
    case SelectorOp::NotIn:
    case SelectorOp::NotEquals:
      return v == nullptr || !has_value();
    case SelectorOp::Exists:
      return v != nullptr;
    case SelectorOp::DoesNotExist:
      return v == nullptr;
    case SelectorOp::GreaterThan:
    case SelectorOp::LessThan: {
      if (v == nullptr || values.size() != 1) {
        return false;
      }
      const auto have = text::parse_int64(*v);
      const auto want = text::parse_int64(values.front());
      if (!have || !want) {
        return false;
      }
      return op == SelectorOp::GreaterThan ? *have > *want : *have < *want;
    }
  }
  return false;
}

std::string LabelRequirement::to_string() const {
  std::string out;
  if (op == SelectorOp::DoesNotExist) {
    out += '!';
  }
  out += key;
  auto joined = [&] {
    std::string s;
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i != 0) {
        s += ',';
      }
      s += values[i];
    }
    return s;
  };
  switch (op) {
    case SelectorOp::Exists:
    case SelectorOp::DoesNotExist:
      return out;
    case SelectorOp::Equals:
      return out + "=" + joined();
    case SelectorOp::DoubleEquals:
      return out + "==" + joined();
    case SelectorOp::NotEquals:
      return out + "!=" + joined();
    case SelectorOp::GreaterThan:
      return out + ">" + joined();
    case SelectorOp::LessThan:
      return out + "<" + joined();
    case SelectorOp::In:
      return out + " in (" + joined() + ")";
    case SelectorOp::NotIn:
      return out + " notin (" + joined() + ")";
  }
  return out;
}

LabelSelector LabelSelector::nothing() {
  LabelSelector s;
  s.nothing_ = true;
  return s;
}

Result<LabelSelector> LabelSelector::parse(std::string_view selector) {
  LabelParser parser(selector);
  auto reqs = parser.parse();
  if (!reqs) {
    return reqs.error();
  }
  sort_by_key(*reqs);
  LabelSelector s;
  s.requirements_ = std::move(*reqs);
  return s;
}

Result<LabelSelector> LabelSelector::from_set(const std::map<std::string, std::string>& set) {
  LabelSelector s;
  for (const auto& [k, v] : set) {
    LabelRequirement r{k, SelectorOp::Equals, {v}};
    if (auto ok = validate_requirement(r); !ok) {
      return ok.error();
    }
    s.requirements_.push_back(std::move(r));
  }
  return s;
}

Result<LabelSelector> LabelSelector::from_json(const nlohmann::json& selector) {
  if (selector.is_null()) {
    return nothing();
  }
  if (!selector.is_object()) {
    return fail(Errc::Malformed, "label selector: expected an object, got " +
                                     std::string(json_util::type_name(selector)));
  }
  LabelSelector s;
  if (auto ml = selector.find("matchLabels"); ml != selector.end() && !ml->is_null()) {
    if (!ml->is_object()) {
      return fail(Errc::Malformed, "label selector: matchLabels: expected an object, got " +
                                       std::string(json_util::type_name(*ml)));
    }
    for (const auto& [k, v] : ml->items()) {
      if (!v.is_string()) {
        return fail(Errc::Malformed, "label selector: matchLabels." + k +
                                         ": expected a string, got " +
                                         std::string(json_util::type_name(v)));
      }
      LabelRequirement r{k, SelectorOp::Equals, {v.get<std::string>()}};
      if (auto ok = validate_requirement(r); !ok) {
        return ok.error();
      }
      s.requirements_.push_back(std::move(r));
    }
  }
  if (auto me = selector.find("matchExpressions"); me != selector.end() && !me->is_null()) {
    if (!me->is_array()) {
      return fail(Errc::Malformed, "label selector: matchExpressions: expected an array, got " +
                                       std::string(json_util::type_name(*me)));
    }
    for (std::size_t i = 0; i < me->size(); ++i) {
      const auto& e = (*me)[i];
      const std::string where = "label selector: matchExpressions[" + std::to_string(i) + "]";
      if (!e.is_object()) {
        return fail(Errc::Malformed,
                    where + ": expected an object, got " + std::string(json_util::type_name(e)));
      }
      auto key = e.find("key");
      auto op = e.find("operator");
      if (key == e.end() || !key->is_string()) {
        return fail(Errc::Malformed, where + ".key: expected a string");
      }
      if (op == e.end() || !op->is_string()) {
        return fail(Errc::Malformed, where + ".operator: expected a string");
      }
      LabelRequirement r;
      r.key = key->get<std::string>();
      const auto& ops = op->get_ref<const std::string&>();
      if (ops == "In") {
        r.op = SelectorOp::In;
      } else if (ops == "NotIn") {
        r.op = SelectorOp::NotIn;
      } else if (ops == "Exists") {
        r.op = SelectorOp::Exists;
      } else if (ops == "DoesNotExist") {
        r.op = SelectorOp::DoesNotExist;
      } else {
        return fail(Errc::Invalid,
                    where + ": " + text::quote(ops) + " is not a valid label selector operator");
      }
      if (auto vals = e.find("values"); vals != e.end() && !vals->is_null()) {
        if (!vals->is_array()) {
          return fail(Errc::Malformed, where + ".values: expected an array, got " +
                                           std::string(json_util::type_name(*vals)));
        }
        for (const auto& v : *vals) {
          if (!v.is_string()) {
            return fail(Errc::Malformed, where + ".values[]: expected a string, got " +
                                             std::string(json_util::type_name(v)));
          }
          r.values.push_back(v.get<std::string>());
        }
      }
      if (auto ok = validate_requirement(r); !ok) {
        return fail(Errc::Invalid, where + ": " + ok.error().message());
      }
      s.requirements_.push_back(std::move(r));
    }
  }
  sort_by_key(s.requirements_);
  return s;
}

bool LabelSelector::matches(const nlohmann::json& labels) const {
  if (nothing_) {
    return false;
  }
  return std::all_of(requirements_.begin(), requirements_.end(),
                     [&](const LabelRequirement& r) { return r.matches(labels); });
}

bool LabelSelector::matches_object(const nlohmann::json& object) const {
  static const nlohmann::json kNoLabels;
  const nlohmann::json* labels = object.is_object() ? walk(object, "metadata.labels") : nullptr;
  return matches(labels != nullptr ? *labels : kNoLabels);
}

std::optional<std::string> LabelSelector::requires_exact_match(std::string_view key) const {
  for (const auto& r : requirements_) {
    if (r.key != key) {
      continue;
    }
    const bool exact =
        r.op == SelectorOp::Equals || r.op == SelectorOp::DoubleEquals || r.op == SelectorOp::In;
    if (exact && r.values.size() == 1) {
      return r.values.front();
    }
    return std::nullopt;
  }
  return std::nullopt;
}

std::string LabelSelector::to_string() const {
  std::string out;
  for (std::size_t i = 0; i < requirements_.size(); ++i) {
    if (i != 0) {
      out += ',';
    }
    out += requirements_[i].to_string();
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

std::string escape_field_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\' || c == ',' || c == '=') {
      out += '\\';
    }
    out += c;
  }
  return out;
}

Result<FieldSelector> FieldSelector::parse(std::string_view selector) {
  // Split on unescaped commas; escapes stay in the terms.
  std::vector<std::string_view> terms;
  if (!selector.empty()) {
    std::size_t start = 0;
    bool in_slash = false;
    for (std::size_t i = 0; i < selector.size(); ++i) {
      if (in_slash) {
        in_slash = false;
      } else if (selector[i] == '\\') {
        in_slash = true;
      } else if (selector[i] == ',') {
        terms.push_back(selector.substr(start, i - start));
        start = i + 1;
      }
    }
    terms.push_back(selector.substr(start));
  }
  std::sort(terms.begin(), terms.end());  // upstream sorts the raw terms: deterministic output

  FieldSelector out;
  for (const auto term : terms) {
    if (term.empty()) {
      continue;
    }
    // The first operator occurrence splits; the field name has no escaping.
    std::size_t at = std::string_view::npos;
    std::string_view op;
    for (std::size_t i = 0; i < term.size() && at == std::string_view::npos; ++i) {
      for (const std::string_view candidate : {"!=", "==", "="}) {
        if (term.substr(i).starts_with(candidate)) {
          at = i;
          op = candidate;
          break;
        }
      }
    }
    if (at == std::string_view::npos) {
      return fail(Errc::BadRequest, "invalid selector: '" + text::excerpt(selector, 256) +
                                        "'; can't understand '" + text::excerpt(term, 256) + "'");
    }
    FieldRequirement r;
    r.field = std::string(term.substr(0, at));
    if (r.field.empty()) {
      return fail(Errc::BadRequest, "invalid selector: '" + text::excerpt(selector, 256) +
                                        "'; field name is empty in '" + text::excerpt(term, 256) +
                                        "'");
    }
    r.op = op == "!=" ? SelectorOp::NotEquals : SelectorOp::Equals;
    const auto rhs = term.substr(at + op.size());
    bool in_slash = false;
    for (const char c : rhs) {
      if (in_slash) {
        if (c != '\\' && c != ',' && c != '=') {
          return fail(Errc::BadRequest, "invalid field selector: invalid escape sequence: \\" +
                                            text::excerpt(std::string_view(&c, 1), 1));
        }
        r.value += c;
        in_slash = false;
      } else if (c == '\\') {
        in_slash = true;
      } else if (c == ',' || c == '=') {
        return fail(Errc::BadRequest, std::string("invalid field selector: unescaped character in "
                                                  "value: ") +
                                          c + " in '" + text::excerpt(term, 256) + "'");
      } else {
        r.value += c;
      }
    }
    if (in_slash) {
      return fail(Errc::BadRequest, "invalid field selector: invalid escape sequence: \\");
    }
    out.requirements_.push_back(std::move(r));
  }
  return out;
}

std::span<const std::string_view> selectable_fields(ResourceRef resource) {
  // The labels of each table above, gathered once (kResources order, then the default).
  static const auto labels = [] {
    std::array<std::vector<std::string_view>, kResources.size() + 1> all;
    auto gather = [](std::span<const FieldSpec> fields) {
      std::vector<std::string_view> out;
      for (const auto& f : fields) {
        out.push_back(f.label);
      }
      return out;
    };
    for (std::size_t i = 0; i < kResources.size(); ++i) {
      all[i] = gather(kResources[i].fields);
    }
    all.back() = gather(kDefaultFields);
    return all;
  }();
  const ResourceSpec* spec = find_resource(resource);
  return spec != nullptr ? labels[static_cast<std::size_t>(spec - kResources.data())]
                         : labels.back();
}

std::string field_value(const nlohmann::json& object,
                        std::string_view field,
                        ResourceRef resource) {
  const ResourceSpec* spec =
      resource.resource.empty() ? find_kind(object) : find_resource(resource);
  if (spec != nullptr) {
    if (const FieldSpec* f = find_field(*spec, field); f != nullptr) {
      return spec_value(object, *f);
    }
  }
  return scalar(walk(object, field)).value_or(std::string{});
}

bool FieldSelector::matches(const nlohmann::json& object) const {
  return matches(object, ResourceRef{});
}

bool FieldSelector::matches(const nlohmann::json& object, ResourceRef resource) const {
  return std::all_of(requirements_.begin(), requirements_.end(), [&](const FieldRequirement& r) {
    const bool equal = field_value(object, r.field, resource) == r.value;
    return r.op == SelectorOp::NotEquals ? !equal : equal;
  });
}

Result<void> FieldSelector::check_supported(ResourceRef resource) const {
  const ResourceSpec* spec = find_resource(resource);
  const bool builtin = spec != nullptr || std::find(kBuiltinGroups.begin(), kBuiltinGroups.end(),
                                                    resource.group) != kBuiltinGroups.end();
  if (!builtin) {
    return {};
  }
  const std::span<const FieldSpec> fields =
      spec != nullptr ? spec->fields : std::span<const FieldSpec>(kDefaultFields);
  for (const auto& r : requirements_) {
    const bool known = std::any_of(fields.begin(), fields.end(),
                                   [&](const FieldSpec& f) { return f.label == r.field; });
    if (!known) {
      return fail(Errc::BadRequest, "field label not supported: " + text::excerpt(r.field, 256));
    }
  }
  return {};
}

std::optional<std::string> FieldSelector::requires_exact_match(std::string_view field) const {
  for (const auto& r : requirements_) {
    if (r.field == field && r.op == SelectorOp::Equals) {
      return r.value;
    }
  }
  return std::nullopt;
}

std::string FieldSelector::to_string() const {
  std::string out;
  for (std::size_t i = 0; i < requirements_.size(); ++i) {
    if (i != 0) {
      out += ',';
    }
    const auto& r = requirements_[i];
    out += r.field;
    out += r.op == SelectorOp::NotEquals ? "!=" : "=";
    out += escape_field_value(r.value);
  }
  return out;
}

}  // namespace yurt::kube
